//! The end of a journey: the MCP server's issuance hooks, then the authorization code and
//! the redirect to the client (or, when a hook refuses, a page saying why with a way back).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::journey::Journey;
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::oauth::{response, ErrorCode, OAuthError};
use mandate_core::secret::{Secret, SecretKind};
use mandate_core::store::tokens::{CodeRecord, TokenFamily};

use super::{journey_error, Decision, JourneySession};
use crate::hooks::{self, Issuance, Verdict};
use crate::pages::error_view_page;
use crate::request_context::Caller;
use crate::state::AppState;

/// Authorization codes live this long (ARCHITECTURE.md §6).
const CODE_TTL_MS: i64 = 60_000;

/// Issues the code for `scopes`, completing the journey, and redirects to the client; or,
/// when an issuance hook refuses, shows the person why. `grant_id`: the consent record this
/// code is issued under (`None`: the decision's live grant, which is marked used).
pub(super) async fn issue_code(
    state: &AppState,
    session: &JourneySession,
    mut journey: Journey,
    scopes: &ScopeSet,
    decision: &Decision,
    grant_id: Option<String>,
    caller: &Caller,
) -> Response {
    let (server, evaluation) = (&decision.server, &decision.evaluation);
    // The hooks see what the person consented to and may narrow it, add claims or refuse.
    let enrichment = match call_hooks(state, &journey, decision, scopes, caller).await {
        Ok(Verdict::Proceed(enrichment)) => enrichment,
        Ok(Verdict::Refused { message }) => {
            return refused(state, session, journey, decision, &message, caller).await
        }
        Err(e) => return journey_error(e),
    };
    let scopes = &enrichment.scopes;
    let result: Result<String, OAuthError> = async {
        journey.complete()?;
        session.save(&journey).await?;
        let user = journey
            .user
            .clone()
            .ok_or_else(|| OAuthError::invalid_request("sign in first"))?;
        let now = state.now();
        let grant_id = grant_id.or_else(|| decision.grant.as_ref().map(|g| g.id.clone()));
        if let Some(id) = &grant_id {
            state.store.touch_grant(id, now).await?;
        }
        let acr = Some(user.acr().to_owned());
        let family = TokenFamily {
            id: uuid::Uuid::now_v7().to_string(),
            agent_id: journey.request.client_id.clone(),
            user_id: Some(user.user_id.clone()),
            tenant_id: journey.tenant_id.clone(),
            mcp_server_id: server.id.to_string(),
            auth_time: Some(user.auth_time),
            acr: acr.clone(),
            amr: user.amr.clone(),
            created_at: now,
            expires_at: now + server.refresh_token_max_secs * 1000,
            revoked_at: None,
            claims: enrichment.claims.clone(),
        };
        let code = Secret::generate(SecretKind::AuthorizationCode);
        let record = CodeRecord {
            family_id: family.id.clone(),
            agent_id: family.agent_id.clone(),
            user_id: user.user_id.clone(),
            tenant_id: journey.tenant_id.clone(),
            mcp_server_id: family.mcp_server_id.clone(),
            redirect_uri: journey.request.redirect_uri.clone(),
            code_challenge: journey.request.code_challenge.clone(),
            resource: journey.request.resource.clone(),
            scopes: scopes.to_scope_string(),
            auth_time: user.auth_time,
            acr,
            amr: serde_json::to_string(&user.amr).map_err(OAuthError::server_error)?,
            created_at: now,
            expires_at: now + CODE_TTL_MS,
        };
        state
            .store
            .insert_code(&family, &code.hash(), &record)
            .await?;
        if evaluation.governed {
            let event = AuditEvent::new(
                EventType::PolicyEvaluated,
                Outcome::Success,
                ActorKind::System,
            )
            .user(Some(user.user_id.clone()))
            .agent(journey.request.client_id.as_str())
            .tenant(journey.tenant_id.clone())
            .server(server.id.as_str())
            .scopes(
                Some(journey.request.scopes.join(" ")),
                Some(evaluation.allowed.to_scope_string()),
            )
            .policies(&evaluation.matched)
            .with("denied", evaluation.denied.keys().collect::<Vec<_>>())
            .context(&caller.context);
            state.audit.record(event).await?;
        }
        let event = AuditEvent::new(EventType::CodeIssued, Outcome::Success, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .agent(journey.request.client_id.as_str())
            .tenant(journey.tenant_id.clone())
            .server(server.id.as_str())
            .scopes(
                Some(journey.request.scopes.join(" ")),
                Some(scopes.to_scope_string()),
            )
            .policies(&evaluation.matched)
            .with("family", &family.id)
            .with("grant", &grant_id)
            .with("added_claims", enrichment.claims.keys().collect::<Vec<_>>())
            .context(&caller.context);
        state.audit.record(event).await?;
        response::success(
            &journey.request.redirect_uri,
            code.expose(),
            journey.request.state.as_deref(),
            &journey.issuer,
        )
    }
    .await;
    match result {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => journey_error(e),
    }
}

/// Runs the server's issuance hooks for the journey's user, agent and tenant.
async fn call_hooks(
    state: &AppState,
    journey: &Journey,
    decision: &Decision,
    scopes: &ScopeSet,
    caller: &Caller,
) -> Result<Verdict, OAuthError> {
    let user = journey
        .user
        .as_ref()
        .ok_or_else(|| OAuthError::invalid_request("sign in first"))?;
    let tenant = journey
        .tenant_id
        .as_ref()
        .and_then(|id| decision.facts.tenants.iter().find(|t| &t.id == id));
    let issuance = Issuance {
        issuer: &journey.issuer,
        server: &decision.server,
        agent: &decision.agent,
        user_id: &user.user_id,
        email: &user.email,
        tenant,
        request: &caller.context,
    };
    hooks::run(state, &issuance, scopes).await
}

/// A hook refused: no code. The journey ends (a repost cannot retry it), the refusal is
/// recorded, and the person reads the hook's message with a link that gives the client its
/// `access_denied` answer (RFC 6749 §4.1.2.1, with `iss`, RFC 9207).
async fn refused(
    state: &AppState,
    session: &JourneySession,
    mut journey: Journey,
    decision: &Decision,
    message: &str,
    caller: &Caller,
) -> Response {
    let error = OAuthError::new(
        ErrorCode::AccessDenied,
        "the request was refused by the authorization server's checks",
    );
    let result = async {
        journey.complete()?;
        session.save(&journey).await?;
        let event = AuditEvent::new(
            EventType::AuthorizationFailed,
            Outcome::Failure,
            ActorKind::User,
        )
        .user(journey.user.as_ref().map(|u| u.user_id.clone()))
        .agent(journey.request.client_id.as_str())
        .tenant(journey.tenant_id.clone())
        .server(decision.server.id.as_str())
        .scopes(Some(journey.request.scopes.join(" ")), None)
        .with("error", error.code.as_str())
        .with("reason", "refused by an issuance hook")
        .with("message", message)
        .context(&caller.context);
        state.audit.record(event).await?;
        response::error(
            &journey.request.redirect_uri,
            &error,
            journey.request.state.as_deref(),
            &journey.issuer,
        )
    }
    .await;
    match result {
        Ok(back_to) => {
            crate::metrics::consent("refused_by_hook");
            let view = app::api::screen::ErrorView::new(403, "Access was not granted", message)
                .with_back_to(back_to);
            error_view_page(StatusCode::FORBIDDEN, view)
        }
        Err(e) => journey_error(e),
    }
}
