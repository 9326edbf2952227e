//! `GET /api/v1/audit/events` (a page of events as JSON, newest first, with a cursor) and
//! `GET /api/v1/audit/export` (CSV or JSON Lines, streamed), with the console's filters as
//! query parameters (`range`, `from`, `to`, `type`, `outcome`, `user`, `agent`, `tenant`,
//! `server`, `q`).

use std::collections::HashMap;

use app::api::admin::audit::{filter_of, AuditQuery, FilterError};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::audit::query::newest_first;
use mandate_core::audit::ActorKind;
use serde_json::{json, Value};

use super::{ApiCaller, ApiError};
use crate::request_context::Caller;
use crate::routes::admin::export::{download, exported, Format};
use crate::state::AppState;

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

pub async fn events(
    State(state): State<AppState>,
    api: ApiCaller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (_, filter) = filter(&state, &api, &params).await?;
    let limit = match params.get("limit") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit is 1 to {MAX_LIMIT}.")))?,
        None => DEFAULT_LIMIT,
    };
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
    Ok(Json(json!({
        "events": events.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

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
