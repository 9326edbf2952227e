//! Tenant choice: which organization the token represents (its `tenant` claim).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use serde::Deserialize;
use tower_sessions::Session;

use super::{advance, answered, current, hidden, journey_error, JourneyQuery};
use crate::pages::{escape, page};
use crate::request_context::Caller;
use crate::state::AppState;

pub async fn tenant_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<JourneyQuery>,
) -> Response {
    let (_, journey, decision, csrf) = match current(&state, &session, q.journey.as_deref()).await {
        Ok(v) => v,
        Err(e) => return journey_error(e),
    };
    let options: String = decision
        .facts
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let initial = t
                .name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default();
            let roles = if t.roles.is_empty() {
                "member".to_owned()
            } else {
                t.roles.join(", ")
            };
            format!(
                "<li><label><input type=\"radio\" name=\"tenant\" value=\"{}\"{} required> \
                 <span class=\"brand-mark\" aria-hidden=\"true\">{}</span> \
                 <span><strong>{}</strong><br><span class=\"muted\">Your role: {}</span></span></label></li>",
                escape(&t.id),
                if i == 0 { " checked" } else { "" },
                escape(&initial),
                escape(&t.name),
                escape(&roles),
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Choose an organization",
        &format!(
            "<h1>Choose an organization</h1><p>Which organization should the application act in? \
             Its access will be limited to that organization.</p>\
             <form class=\"form\" method=\"post\" action=\"/authorize/tenant\">{}{}\
             <fieldset><legend class=\"visually-hidden\">Organization</legend><ul class=\"choice-list\">{options}</ul></fieldset>\
             <div class=\"actions\"><button class=\"button\" type=\"submit\">Continue</button></div></form>",
            hidden("csrf", &csrf),
            hidden("journey", &journey.id),
        ),
    )
}

#[derive(Deserialize)]
pub struct TenantForm {
    csrf: String,
    journey: String,
    tenant: String,
}

pub async fn choose_tenant(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Form(form): Form<TenantForm>,
) -> Response {
    let (js, mut journey, decision) =
        match answered(&state, &session, &form.csrf, Some(&form.journey)).await {
            Ok(v) => v,
            Err(e) => return journey_error(e),
        };
    if let Err(e) = journey.choose_tenant(&form.tenant, &decision.facts) {
        return journey_error(e);
    }
    let event = AuditEvent::new(EventType::TenantChosen, Outcome::Success, ActorKind::User)
        .user(journey.user.as_ref().map(|u| u.user_id.clone()))
        .agent(journey.request.client_id.as_str())
        .tenant(journey.tenant_id.clone())
        .server(journey.request.mcp_server_id.as_str())
        .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        return journey_error(e.into());
    }
    advance(&state, &js, journey, &caller).await
}
