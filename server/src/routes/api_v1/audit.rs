//! `GET /api/v1/audit/events` (a page of events as JSON, newest first, with a cursor) and
//! `GET /api/v1/audit/export` (CSV or JSON Lines, streamed), with the console's filters as
//! query parameters (`range`, `from`, `to`, `type`, `outcome`, `user`, `agent`, `tenant`,
//! `server`, `q`).

use std::collections::HashMap;

use super::bodies::{AuditPage, ErrorEnvelope};
use super::{limit_param, ApiCaller, ApiError};
use crate::request_context::Caller;
use crate::routes::admin::export::{download, exported, Format};
use crate::state::AppState;
use app::api::admin::audit::{filter_of, AuditQuery, FilterError};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::audit::query::newest_first;
use mandate_core::audit::ActorKind;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

async fn filter(
    state: &AppState,
    api: &ApiCaller,
    params: &HashMap<String, String>,
) -> Result<(AuditQuery, mandate_core::audit::query::AuditFilter), ApiError> {
    let query = AuditQuery::from_params(|k| params.get(k).cloned());
    match filter_of(&state.store, &api.access, &query).await? {
        Ok(filter) => Ok((query, filter)),
        Err(FilterError(message)) => Err(ApiError::BadRequest(message)),
    }
}

/// A page of audit events, newest first, with the console viewer's filters.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "Audit",
    params(
        ("range" = Option<String>, Query, description = "1h, 24h (default), 7d, 30d, all or custom"),
        ("from" = Option<String>, Query, description = "With range=custom: UTC, 2026-01-31T08:00"),
        ("to" = Option<String>, Query, description = "With range=custom: UTC"),
        ("type" = Option<String>, Query, description = "An event type, e.g. token.issued"),
        ("outcome" = Option<String>, Query, description = "success or failure"),
        ("user" = Option<String>, Query, description = "A user's id or email"),
        ("agent" = Option<String>, Query, description = "An agent's client id"),
        ("tenant" = Option<String>, Query, description = "A tenant's id or slug"),
        ("server" = Option<String>, Query, description = "An MCP server's id or slug"),
        ("q" = Option<String>, Query, description = "Any id: event, agent, user, tenant, server, request id, client IP"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "1 to 1000; 100 by default"),
    ),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorEnvelope),
              (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn events(
    State(state): State<AppState>,
    api: ApiCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, ApiError> {
    let (_, filter) = filter(&state, &api, &params).await?;
    let limit = limit_param(&params, i64::from(DEFAULT_LIMIT), i64::from(MAX_LIMIT))?;
    let limit = u32::try_from(limit).unwrap_or(DEFAULT_LIMIT);
    let cursor = match params.get("cursor") {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("cursor is a next_cursor from a page.".into()))?,
        ),
        None => None,
    };
    let mut events = newest_first(&state.store, &filter, cursor, limit + 1).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = more
        .then(|| events.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        events: events.iter().map(|e| e.to_json()).collect(),
        next_cursor: next,
    }))
}

/// Every matching event, streamed as CSV or JSON Lines (oldest first); the export itself is
/// an audit event.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "Audit",
    params(("format" = String, Query, description = "csv or jsonl"),
           ("range" = Option<String>, Query, description = "As for /api/v1/audit/events; so are the other filters")),
    responses((status = 200, description = "The events", content((String = "text/csv"), (String = "application/jsonl"))),
              (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)),
    security(("admin_api_key" = [])))]
pub async fn export(
    State(state): State<AppState>,
    api: ApiCaller,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let format = Format::from_name(params.get("format").map(String::as_str))
        .ok_or_else(|| ApiError::BadRequest("format is csv or jsonl.".into()))?;
    let (query, filter) = filter(&state, &api, &params).await?;
    let mut event = exported(ActorKind::ApiKey, format, &query, &caller)
        .with("api_key", &api.key.id)
        .user(Some(api.key.created_by.as_str()));
    event.actor_id = Some(api.key.id.clone());
    state.audit.record(event).await?;
    Ok(download(state.store.clone(), filter, format).into_response())
}
