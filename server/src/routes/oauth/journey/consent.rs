//! Consent: the agent, the MCP server, the tenant, and each requested scope with a toggle.
//! Mandatory scopes are locked on, sensitive ones marked, policy-denied ones shown as
//! unavailable with the reason, and scopes a remembered grant does not cover yet marked new.
//! "Allow" issues a code for exactly the toggled-on ∩ allowed scopes; a form that approves
//! anything else is refused, not trimmed.

use app::api::auth::{AgentCard, ConsentView, FormKeys, ScopeRow, TrustBadge};
use app::api::screen::Screen;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::McpServerId;
use mandate_core::journey::{approved_scopes, Facts, Journey, Step};
use mandate_core::model::{Grant, Scope, TrustLevel};
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::oauth::{response, ErrorCode, OAuthError};
use tower_sessions::Session;

use super::{answered, current, elsewhere, issue_code, journey_error, Decision, CONSENT_PATH};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{screen_of, session_of, PageForm};

fn trust_badge(level: TrustLevel) -> TrustBadge {
    match level {
        TrustLevel::Verified => TrustBadge::Verified,
        TrustLevel::Admin => TrustBadge::Admin,
        TrustLevel::Dcr => TrustBadge::Dcr,
        TrustLevel::Cimd => TrustBadge::Cimd,
    }
}

/// What `/authorize/consent` shows.
pub async fn consent_screen(
    state: &AppState,
    request: Parts,
    journey: Option<String>,
) -> Screen<ConsentView> {
    screen_of(
        async {
            let session = session_of(&request)?;
            let (_, journey, decision, csrf) = current(state, &session, journey.as_deref()).await?;
            if let Some(to) = elsewhere(&decision, &journey, CONSENT_PATH) {
                return Ok(Screen::Redirect(to));
            }
            let mut view = consent_view(&journey, &decision, csrf);
            if let Some(user) = &journey.user {
                view.connections = crate::routes::connections::rows(
                    state,
                    &user.user_id,
                    Some(journey.request.mcp_server_id.as_str()),
                )
                .await?;
            }
            Ok(Screen::Show(view))
        }
        .await,
    )
}

/// One requested scope as the page shows it: its configuration on the MCP server (none for
/// identity scopes such as `openid`), what the policies say, and whether it is new.
fn scope_row(name: &str, scope: Option<&Scope>, facts: &Facts) -> ScopeRow {
    let mandatory = scope.is_some_and(|s| s.mandatory);
    let unavailable = facts.denied.get(name).cloned();
    let remembered = facts.remembered.as_ref().filter(|_| unavailable.is_none());
    let new = remembered.is_some_and(|granted| !granted.contains(name));
    let allowed_before = remembered.is_some_and(|granted| granted.contains(name));
    ScopeRow {
        name: name.to_owned(),
        display_name: scope.map_or(name, |s| s.display_name.as_str()).to_owned(),
        description: scope
            .map_or("Your identity (for sign-in).", |s| s.description.as_str())
            .to_owned(),
        mandatory,
        sensitive: scope.is_some_and(|s| s.sensitive),
        default_on: allowed_before || scope.is_none_or(|s| s.default_on || mandatory),
        new,
        allowed_before,
        unavailable,
    }
}

fn consent_view(journey: &Journey, decision: &Decision, csrf: String) -> ConsentView {
    let Decision {
        facts,
        agent,
        server,
        scopes,
        ..
    } = decision;
    let tenant_name = facts
        .tenants
        .iter()
        .find(|t| Some(&t.id) == journey.tenant_id.as_ref())
        .map(|t| t.name.clone());
    let redirect_host = url::Url::parse(&journey.request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    ConsentView {
        keys: FormKeys {
            csrf,
            journey: Some(journey.id.clone()),
        },
        agent: AgentCard {
            name: agent.name.clone(),
            logo_uri: agent.logo_uri.clone().filter(|u| u.starts_with("https://")),
            trust: trust_badge(agent.trust_level),
        },
        redirect_host,
        server_name: server.name.clone(),
        tenant_name,
        remembered: facts.remembered.is_some(),
        scopes: journey
            .request
            .scopes
            .iter()
            .map(|name| scope_row(name, scopes.iter().find(|s| &s.name == name), facts))
            .collect(),
        grantable: !facts.allowed(&journey.request.scope_set()).is_empty(),
        connections: Vec::new(),
    }
}

pub async fn consent(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    PageForm(pairs): PageForm<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let answer = answered(
        &state,
        &session,
        field("csrf").unwrap_or_default(),
        field("journey"),
    )
    .await;
    let (js, mut journey, decision) = match answer {
        Ok(v) => v,
        Err(e) => return journey_error(e),
    };
    // Only a journey whose next step is consent may be answered: a forged POST cannot skip
    // sign-in, the tenant choice or step-up.
    if !matches!(decision.step, Step::Consent { .. } | Step::IssueCode { .. }) {
        return journey_error(OAuthError::invalid_request(
            "this request is not waiting for consent",
        ));
    }
    let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
    let user_id = journey.user.as_ref().map(|u| u.user_id.clone());
    if field("decision") != Some("allow") {
        let event = AuditEvent::new(EventType::ConsentDenied, Outcome::Success, ActorKind::User)
            .user(user_id)
            .agent(journey.request.client_id.as_str())
            .tenant(journey.tenant_id.clone())
            .server(server_id.as_str())
            .scopes(Some(journey.request.scopes.join(" ")), None)
            .context(&caller.context);
        let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        let result = async {
            journey.complete()?;
            js.save(&journey).await?;
            state.audit.record(event).await?;
            response::error(
                &journey.request.redirect_uri,
                &error,
                journey.request.state.as_deref(),
                &journey.issuer,
            )
        }
        .await;
        return match result {
            Ok(to) => {
                crate::metrics::consent("denied");
                Redirect::to(&to).into_response()
            }
            Err(e) => journey_error(e),
        };
    }
    let facts = &decision.facts;
    let approved = ScopeSet::from_tokens(
        pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone()),
    );
    let mandatory = ScopeSet::from_tokens(
        decision
            .scopes
            .iter()
            .filter(|s| s.mandatory)
            .map(|s| s.name.clone()),
    );
    let requested = journey.request.scope_set();
    let granted = match approved_scopes(&requested, &approved, &mandatory, &facts.denied_set()) {
        Ok(g) => g,
        Err(e) => return journey_error(e),
    };
    let (Some(user_id), Some(tenant_id)) = (user_id, journey.tenant_id.clone()) else {
        return journey_error(OAuthError::invalid_request(
            "sign in and choose an organization first",
        ));
    };
    // What the grant keeps: earlier grants stay, except what was toggled off this time.
    let toggled_off = facts.allowed(&requested).missing_from(&granted);
    let previous = decision
        .grant
        .as_ref()
        .map(|g| ScopeSet::from_tokens(g.granted_scopes.iter().cloned()))
        .unwrap_or_default();
    let kept = previous.union(&granted).missing_from(&toggled_off);
    let now = state.now();
    let grant = Grant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.clone(),
        agent_id: journey.request.client_id.clone(),
        tenant_id: tenant_id.clone(),
        mcp_server_id: server_id.to_string(),
        granted_scopes: kept.to_vec(),
        rejected_scopes: toggled_off.to_vec(),
        remembered: field("remember") == Some("1"),
        created_at: now,
        updated_at: now,
        last_used_at: Some(now),
    };
    let grant_id = match state.store.record_grant(&grant).await {
        Ok(id) => id,
        Err(e) => return journey_error(e.into()),
    };
    let event = AuditEvent::new(EventType::ConsentGranted, Outcome::Success, ActorKind::User)
        .user(Some(user_id))
        .agent(journey.request.client_id.as_str())
        .tenant(Some(tenant_id))
        .server(server_id.as_str())
        .scopes(
            Some(requested.to_scope_string()),
            Some(granted.to_scope_string()),
        )
        .policies(&decision.evaluation.matched)
        .with("rejected", toggled_off.to_vec())
        .with("remembered", grant.remembered)
        .with("grant", &grant_id)
        .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        return journey_error(e.into());
    }
    crate::metrics::consent("granted");
    issue_code(
        &state,
        &js,
        journey,
        &granted,
        &decision,
        Some(grant_id),
        &caller,
    )
    .await
}
