//! Consent: the agent, the MCP server, the tenant, and each requested scope with a toggle.
//! Mandatory scopes are locked on, sensitive ones marked, policy-denied ones shown as
//! unavailable with the reason, and scopes a remembered grant does not cover yet marked new.
//! "Allow" issues a code for exactly the toggled-on ∩ allowed scopes; a form that approves
//! anything else is refused, not trimmed.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::McpServerId;
use mandate_core::journey::{approved_scopes, Facts, Journey, Step};
use mandate_core::model::{Grant, TrustLevel};
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::oauth::{response, ErrorCode, OAuthError};
use tower_sessions::Session;

use super::{answered, current, hidden, issue_code, journey_error, Decision, JourneyQuery};
use crate::pages::{escape, page};
use crate::request_context::Caller;
use crate::state::AppState;

fn trust_badge(level: TrustLevel) -> (&'static str, &'static str) {
    match level {
        TrustLevel::Verified => ("verified", "badge ok"),
        TrustLevel::Admin => ("registered by an admin", "badge ok"),
        TrustLevel::Dcr => ("self-registered (DCR)", "badge warn"),
        TrustLevel::Cimd => ("metadata document (CIMD)", "badge"),
    }
}

pub async fn consent_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<JourneyQuery>,
) -> Response {
    match current(&state, &session, q.journey.as_deref()).await {
        Ok((_, journey, decision, csrf)) => render_consent(&journey, &decision, &csrf),
        Err(e) => journey_error(e),
    }
}

fn scope_row(
    name: &str,
    scope: Option<&mandate_core::model::Scope>,
    facts: &Facts,
    remembered: Option<&ScopeSet>,
) -> String {
    let display = scope.map_or(name, |s| s.display_name.as_str());
    let description = scope.map_or("Your identity (for sign-in).", |s| s.description.as_str());
    let mandatory = scope.is_some_and(|s| s.mandatory);
    let sensitive = scope.is_some_and(|s| s.sensitive);
    let denied = facts.denied.get(name);
    let id = format!(
        "scope-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let mut badges = String::new();
    if let Some(granted) = remembered {
        if denied.is_none() && !granted.contains(name) {
            badges.push_str(" <span class=\"badge new\">new</span>");
        }
    }
    if mandatory && denied.is_none() {
        badges.push_str(" <span class=\"badge\">required</span>");
    }
    if sensitive {
        badges.push_str(" <span class=\"badge warn\">sensitive</span>");
    }
    if let Some(reason) = denied {
        return format!(
            "<li class=\"scope unavailable\"><input type=\"checkbox\" id=\"{id}\" role=\"switch\" disabled aria-describedby=\"{id}-why\">\
             <label for=\"{id}\"><span class=\"scope-name\">{display}</span> <code>{v}</code> <span class=\"badge\">unavailable</span>{badges}<br>\
             <span class=\"scope-description\">{description}</span><br>\
             <span class=\"scope-reason\" id=\"{id}-why\">{reason}</span></label></li>",
            v = escape(name),
            display = escape(display),
            description = escape(description),
            reason = escape(reason),
        );
    }
    let default_on = scope.is_none_or(|s| s.default_on || mandatory);
    format!(
        "<li class=\"scope\"><input type=\"checkbox\" id=\"{id}\" role=\"switch\" name=\"scope\" value=\"{v}\"{checked}{dis}>{keep}\
         <label for=\"{id}\"><span class=\"scope-name\">{display}</span> <code>{v}</code>{badges}<br>\
         <span class=\"scope-description\">{description}</span></label></li>",
        v = escape(name),
        checked = if default_on { " checked" } else { "" },
        dis = if mandatory { " disabled" } else { "" },
        keep = if mandatory { hidden("scope", name) } else { String::new() },
        display = escape(display),
        description = escape(description),
    )
}

fn render_consent(journey: &Journey, decision: &Decision, csrf: &str) -> Response {
    let Decision {
        facts,
        agent,
        server,
        scopes,
        ..
    } = decision;
    let tenant = facts
        .tenants
        .iter()
        .find(|t| Some(&t.id) == journey.tenant_id.as_ref());
    let redirect_host = url::Url::parse(&journey.request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let items: String = journey
        .request
        .scopes
        .iter()
        .map(|name| {
            scope_row(
                name,
                scopes.iter().find(|s| &s.name == name),
                facts,
                facts.remembered.as_ref(),
            )
        })
        .collect();
    let grantable = !facts.allowed(&journey.request.scope_set()).is_empty();
    let (trust, trust_class) = trust_badge(agent.trust_level);
    let logo = match agent
        .logo_uri
        .as_deref()
        .filter(|u| u.starts_with("https://"))
    {
        Some(uri) => format!(
            "<img class=\"agent-logo\" src=\"{}\" alt=\"\" width=\"40\" height=\"40\">",
            escape(uri)
        ),
        None => format!(
            "<span class=\"brand-mark\" aria-hidden=\"true\">{}</span>",
            escape(
                &agent
                    .name
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default()
            )
        ),
    };
    let intro = if facts.remembered.is_some() {
        "<p class=\"muted\">You allowed this application before. The scopes marked <span class=\"badge new\">new</span> are what it asks for now.</p>"
    } else {
        ""
    };
    let allow = if grantable {
        "<button class=\"button\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>"
    } else {
        "<p role=\"alert\" class=\"error\">Nothing this application asks for can be granted to you here.</p>"
    };
    page(
        StatusCode::OK,
        "Allow access",
        &format!(
            "<h1>Allow {agent} to act for you?</h1>\
             <div class=\"panel consent-who\">{logo}<p><strong>{agent}</strong> <span class=\"{trust_class}\">{trust}</span><br>\
             <span class=\"muted\">will return to {host}</span></p>\
             <p>On <strong>{server}</strong>{tenant}</p></div>{intro}\
             <form class=\"form\" method=\"post\" action=\"/authorize/consent\">{csrf}{jid}\
             <fieldset><legend>It asks to:</legend><ul class=\"scope-list\">{items}</ul></fieldset>\
             <div class=\"field check\"><input type=\"checkbox\" id=\"remember\" name=\"remember\" value=\"1\" checked>\
             <label for=\"remember\">Remember this decision: don't ask again for the same access</label></div>\
             <div class=\"actions\">{allow}\
             <button class=\"button secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div></form>",
            agent = escape(&agent.name),
            host = escape(&redirect_host),
            server = escape(&server.name),
            tenant = tenant
                .map(|t| format!(", in <strong>{}</strong>", escape(&t.name)))
                .unwrap_or_default(),
            csrf = hidden("csrf", csrf),
            jid = hidden("journey", &journey.id),
        ),
    )
}

pub async fn consent(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Form(pairs): Form<Vec<(String, String)>>,
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
            Ok(to) => Redirect::to(&to).into_response(),
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
