//! `GET /admin/audit/live?…filters&after=SEQ`: the live tail, as server-sent events. Each
//! message is one table row (JSON) with the event's `seq` as its SSE id, so a reconnecting
//! browser (which sends `Last-Event-ID`) resumes exactly where it stopped.
//!
//! The stream wakes when this process commits events and re-reads every two seconds for
//! events other instances wrote; the admin's rights are checked again every minute, so a
//! revoked admin's tail ends.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use app::api::admin::audit::{event_rows, AuditQuery};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use mandate_core::access::admin_access;
use mandate_core::audit::query::{head_seq, oldest_first, AuditFilter};
use tokio::time::Instant;

use super::{admin_or_response, audit_filter};
use crate::error::log_internal;
use crate::state::AppState;
use crate::ui::RequestHead;

/// Events read per query.
const BATCH: u32 = 200;
/// How often to look for events other instances wrote.
const POLL: Duration = Duration::from_secs(2);
/// How often the admin's rights are checked again.
const RECHECK: Duration = Duration::from_secs(60);

struct Tail {
    state: AppState,
    filter: AuditFilter,
    query: AuditQuery,
    user: mandate_core::ids::UserId,
    after: i64,
    ready: VecDeque<Event>,
    committed: tokio::sync::watch::Receiver<i64>,
    checked_at: Instant,
}

impl Tail {
    /// The next message, waiting for one; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if self.checked_at.elapsed() >= RECHECK {
                match admin_access(&self.state.store, &self.user).await {
                    Ok(Some(_)) => self.checked_at = Instant::now(),
                    _ => return None,
                }
            }
            let store = &self.state.store;
            let events = match oldest_first(store, &self.filter, Some(self.after), BATCH).await {
                Ok(events) => events,
                Err(e) => {
                    log_internal(&e.into());
                    return None;
                }
            };
            if events.is_empty() {
                tokio::select! {
                    _ = self.committed.changed() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                continue;
            }
            self.after = events.last().map_or(self.after, |e| e.seq);
            let rows = match event_rows(store, &self.query, &events).await {
                Ok(rows) => rows,
                Err(e) => {
                    log_internal(&e.into());
                    return None;
                }
            };
            for row in rows {
                if let Ok(data) = serde_json::to_string(&row) {
                    self.ready
                        .push_back(Event::default().id(row.seq.to_string()).data(data));
                }
            }
        }
    }
}

pub async fn live(
    State(state): State<AppState>,
    RequestHead(request): RequestHead,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let access = match admin_or_response(&state, &request).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let (query, filter) = match audit_filter(&state, &access, &params).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // A live tail follows what happens from now: the time range's end does not apply.
    let filter = AuditFilter { to: None, ..filter };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(params.get("after").map(String::as_str))
        .and_then(|v| v.parse::<i64>().ok());
    let after = match resume {
        Some(after) => after,
        None => head_seq(&state.store).await.unwrap_or_default(),
    };
    let tail = Tail {
        committed: state.audit.committed(),
        user: access.user().clone(),
        state,
        filter,
        query,
        after,
        ready: VecDeque::new(),
        checked_at: Instant::now(),
    };
    let events = stream::unfold(tail, |mut tail| async move {
        tail.next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), tail))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
