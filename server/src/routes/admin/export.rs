//! `GET /admin/audit/export?format=csv|jsonl&…filters`: the filtered events, oldest first,
//! streamed page by page (keyset), so an export of millions of events holds one page in
//! memory. The export itself is an audit event.

use std::collections::HashMap;

use app::api::admin::audit::AuditQuery;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use mandate_core::audit::query::{oldest_first, AuditFilter, StoredEvent};
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::store::Store;

use super::{admin_or_response, audit_filter, bad_filter};
use crate::error::log_internal;
use crate::request_context::Caller;
use crate::state::AppState;
use crate::ui::RequestHead;

/// Events read per page.
const PAGE: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    JsonLines,
}

impl Format {
    pub(crate) fn from_name(name: Option<&str>) -> Option<Self> {
        match name {
            Some("csv") => Some(Self::Csv),
            Some("jsonl") => Some(Self::JsonLines),
            _ => None,
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }
}

const CSV_HEADER: [&str; 20] = [
    "seq",
    "id",
    "occurred_at",
    "event_type",
    "outcome",
    "actor_kind",
    "actor_id",
    "agent_id",
    "user_id",
    "tenant_id",
    "mcp_server_id",
    "scopes_requested",
    "scopes_granted",
    "policies",
    "client_ip",
    "user_agent",
    "request_id",
    "detail",
    "prev_hash",
    "hash",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'` (OWASP "CSV injection"): a user agent is attacker-chosen text.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Unix ms as RFC 3339 UTC with milliseconds.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn csv_record(e: &StoredEvent) -> Vec<String> {
    let opt = |v: &Option<String>| cell(v.as_deref().unwrap_or(""));
    vec![
        e.seq.to_string(),
        e.id.clone(),
        rfc3339(e.occurred_at),
        e.event_type.clone(),
        e.outcome.clone(),
        e.actor_kind.clone(),
        opt(&e.actor_id),
        opt(&e.agent_id),
        opt(&e.user_id),
        opt(&e.tenant_id),
        opt(&e.mcp_server_id),
        opt(&e.scopes_requested),
        opt(&e.scopes_granted),
        opt(&e.policies),
        opt(&e.client_ip),
        opt(&e.user_agent),
        opt(&e.request_id),
        cell(&e.detail.to_string()),
        e.prev_hash.clone(),
        e.hash.clone(),
    ]
}

fn csv_bytes(records: impl IntoIterator<Item = Vec<String>>) -> std::io::Result<Bytes> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for r in records {
        out.write_record(&r)?;
    }
    out.into_inner()
        .map(Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

fn encode(format: Format, events: &[StoredEvent]) -> std::io::Result<Bytes> {
    match format {
        Format::Csv => csv_bytes(events.iter().map(csv_record)),
        Format::JsonLines => {
            let mut out = Vec::with_capacity(events.len() * 512);
            for e in events {
                serde_json::to_writer(&mut out, &e.to_json())?;
                out.push(b'\n');
            }
            Ok(Bytes::from(out))
        }
    }
}

/// The export's body: the header (CSV), then one chunk per page until a short page.
fn body(store: Store, filter: AuditFilter, format: Format) -> Body {
    struct Cursor {
        after: Option<i64>,
        done: bool,
        header: bool,
    }
    let start = Cursor {
        after: None,
        done: false,
        header: format == Format::Csv,
    };
    let pages = stream::unfold(start, move |mut cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            if cursor.header {
                cursor.header = false;
                let header = csv_bytes([CSV_HEADER.iter().map(|h| (*h).to_owned()).collect()]);
                return Some((header, cursor));
            }
            if cursor.done {
                return None;
            }
            match oldest_first(&store, &filter, cursor.after, PAGE).await {
                Ok(events) => {
                    cursor.done = events.len() < PAGE as usize;
                    cursor.after = events.last().map(|e| e.seq).or(cursor.after);
                    if events.is_empty() {
                        return None;
                    }
                    Some((encode(format, &events), cursor))
                }
                Err(e) => {
                    // The download ends short; the client sees an incomplete transfer.
                    tracing::error!(error = %e, "audit export stopped");
                    cursor.done = true;
                    Some((Err(std::io::Error::other("the export stopped")), cursor))
                }
            }
        }
    });
    Body::from_stream(pages)
}

/// The download of `filter`'s events in `format`, streamed.
pub(crate) fn download(store: Store, filter: AuditFilter, format: Format) -> Response {
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::JsonLines => "application/jsonl",
    };
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let disposition = format!(
        "attachment; filename=\"mandate-audit-{stamp}.{}\"",
        format.extension()
    );
    let mut response = (StatusCode::OK, body(store, filter, format)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The `audit.exported` event of an export.
pub(crate) fn exported(
    actor: ActorKind,
    format: Format,
    query: &AuditQuery,
    caller: &Caller,
) -> AuditEvent {
    AuditEvent::new(EventType::AuditExported, Outcome::Success, actor)
        .with("format", format.extension())
        .with("filters", query.filter_pairs())
        .context(&caller.context)
}

pub async fn export(
    State(state): State<AppState>,
    RequestHead(request): RequestHead,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let access = match admin_or_response(&state, &request).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let Some(format) = Format::from_name(params.get("format").map(String::as_str)) else {
        return bad_filter("The export format is csv or jsonl.");
    };
    let (query, filter) = match audit_filter(&state, &access, &params).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let event =
        exported(ActorKind::Admin, format, &query, &caller).user(Some(access.user().as_str()));
    if let Err(e) = state.audit.record(event).await {
        log_internal(&e.into());
        return crate::pages::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The export cannot start",
            "The audit trail cannot record the export right now. Try again in a moment.",
        );
    }
    download(state.store.clone(), filter, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_the_rest_kept() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Mozilla/5.0"), "Mozilla/5.0");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
