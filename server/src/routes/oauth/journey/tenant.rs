//! Tenant choice: which organization the token represents (its `tenant` claim).

use app::api::auth::{FormKeys, TenantChoice, TenantView};
use app::api::screen::Screen;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use serde::Deserialize;
use tower_sessions::Session;

use super::{advance, answered, current, elsewhere, journey_error, TENANT_PATH};
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::{screen_of, session_of, PageForm};

/// What `/authorize/tenant` shows: the person's tenants, with their roles there.
pub async fn tenant_screen(
    state: &AppState,
    request: Parts,
    journey: Option<String>,
) -> Screen<TenantView> {
    screen_of(
        async {
            let session = session_of(&request)?;
            let (_, journey, decision, csrf) = current(state, &session, journey.as_deref()).await?;
            if let Some(to) = elsewhere(&decision, &journey, TENANT_PATH) {
                return Ok(Screen::Redirect(to));
            }
            let tenants = decision
                .facts
                .tenants
                .into_iter()
                .map(|t| TenantChoice {
                    id: t.id,
                    name: t.name,
                    roles: if t.roles.is_empty() {
                        "member".to_owned()
                    } else {
                        t.roles.join(", ")
                    },
                })
                .collect();
            Ok(Screen::Show(TenantView {
                keys: FormKeys {
                    csrf,
                    journey: Some(journey.id),
                },
                tenants,
            }))
        }
        .await,
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
    PageForm(form): PageForm<TenantForm>,
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
