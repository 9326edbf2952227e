//! The audit viewer's facts: a filtered, keyset-paginated page of events with readable names,
//! the selected event's full record, and the addresses of its exports and live tail.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, Choice};
use crate::api::screen::Screen;

/// The viewer's address: every filter is a query parameter, so a filtered view can be
/// bookmarked and shared, and the page works without JavaScript (a GET form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// `1h`, `24h` (default), `7d`, `30d`, `all` or `custom` (then `from` / `to`).
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// An event type's name (`token.issued`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// A user's id or email.
    pub user: Option<String>,
    /// An agent's client id.
    pub agent: Option<String>,
    pub tenant: Option<String>,
    pub server: Option<String>,
    /// Any id: event, agent, user, tenant, MCP server, request id or client IP.
    pub q: Option<String>,
    /// Older page: events before this sequence number.
    pub before: Option<String>,
    /// The event shown in the detail drawer.
    pub event: Option<String>,
}

impl AuditQuery {
    /// Reads the query from a URL's parameters.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let field = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        Self {
            range: field("range"),
            from: field("from"),
            to: field("to"),
            event_type: field("type"),
            outcome: field("outcome"),
            user: field("user"),
            agent: field("agent"),
            tenant: field("tenant"),
            server: field("server"),
            q: field("q"),
            before: field("before"),
            event: field("event"),
        }
    }

    /// The filters as `(name, value)` pairs (without paging and the drawer).
    pub fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("range", &self.range),
            ("from", &self.from),
            ("to", &self.to),
            ("type", &self.event_type),
            ("outcome", &self.outcome),
            ("user", &self.user),
            ("agent", &self.agent),
            ("tenant", &self.tenant),
            ("server", &self.server),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

/// An id shown by its name, with the address of the view filtered on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub label: String,
    pub filter_href: String,
}

/// One row of the table (and one live-tail message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    pub time: String,
    pub event_type: String,
    pub outcome: String,
    pub actor: String,
    pub agent: Option<Named>,
    pub user: Option<Named>,
    pub tenant: Option<Named>,
    pub server: Option<Named>,
    pub scopes: String,
    /// Opens this event in the drawer.
    pub detail_href: String,
}

/// The drawer: the full record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetail {
    pub seq: i64,
    pub event_type: String,
    pub time: String,
    pub json: String,
    /// "All events of this agent", "of this user"… and the request.
    pub links: Vec<(String, String)>,
    pub close_href: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub header: AdminHeader,
    pub query: AuditQuery,
    /// A filter that could not be read (a malformed date…), shown above the table.
    pub error: Option<String>,
    pub rows: Vec<EventRow>,
    /// The next (older) page, when there is one.
    pub older_href: Option<String>,
    /// The first page, when this is not it.
    pub newest_href: Option<String>,
    pub detail: Option<EventDetail>,
    pub event_types: Vec<String>,
    pub tenants: Vec<Choice>,
    pub servers: Vec<Choice>,
    pub export_csv: String,
    pub export_jsonl: String,
    /// The live tail's event stream for these filters, from the newest event on.
    pub live_href: String,
}

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;

#[server(endpoint = "audit_screen")]
pub async fn audit_screen(
    #[server(default)] query: AuditQuery,
) -> Result<Screen<AuditView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::audit_view(admin, query)
        .await
        .map(Screen::Show)
        .unwrap_or_else(super::failed))
}

#[cfg(feature = "ssr")]
pub use ssr::{event_rows, filter_of, now_ms, FilterError};

#[cfg(feature = "ssr")]
mod ssr {
    use mandate_core::access::AdminAccess;
    use mandate_core::audit::labels::{labels_for, Labels};
    use mandate_core::audit::query::{self, AuditFilter, StoredEvent};
    use mandate_core::audit::{EventType, Outcome};
    use mandate_core::store::Store;
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::time_text;
    use crate::api::admin::Admin;

    const HOUR_MS: i64 = 3_600_000;

    /// A filter the viewer cannot apply, in words for the person.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FilterError(pub String);

    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    }

    /// The store filter for `query`, narrowed to what `access` may see.
    pub async fn filter_of(
        store: &Store,
        access: &AdminAccess,
        query: &AuditQuery,
    ) -> CoreResult<Result<AuditFilter, FilterError>> {
        let now = now_ms();
        let mut filter = AuditFilter {
            tenants: access
                .tenant_restriction()
                .map(|ts| ts.iter().map(|t| t.as_str().to_owned()).collect()),
            ..AuditFilter::default()
        };
        match query.range.as_deref().unwrap_or("24h") {
            "1h" => filter.from = Some(now - HOUR_MS),
            "24h" => filter.from = Some(now - 24 * HOUR_MS),
            "7d" => filter.from = Some(now - 7 * 24 * HOUR_MS),
            "30d" => filter.from = Some(now - 30 * 24 * HOUR_MS),
            "all" => {}
            "custom" => {
                for (text, slot, name) in [
                    (&query.from, &mut filter.from, "From"),
                    (&query.to, &mut filter.to, "To"),
                ] {
                    if let Some(text) = text {
                        match time_text::parse_local(text) {
                            Some(ms) => *slot = Some(ms),
                            None => {
                                return Ok(Err(FilterError(format!(
                                    "{name} is not a date and time (YYYY-MM-DDTHH:MM, UTC)."
                                ))))
                            }
                        }
                    }
                }
            }
            other => {
                return Ok(Err(FilterError(format!(
                    "“{other}” is not a time range this page knows."
                ))))
            }
        }
        if let Some(name) = &query.event_type {
            match EventType::from_name(name) {
                Some(t) => filter.event_types = vec![t],
                None => return Ok(Err(FilterError(format!("“{name}” is not an event type.")))),
            }
        }
        if let Some(name) = &query.outcome {
            match Outcome::from_name(name) {
                Some(o) => filter.outcome = Some(o),
                None => return Ok(Err(FilterError("Outcome is success or failure.".into()))),
            }
        }
        if let Some(user) = &query.user {
            let user = user.trim();
            filter.user_id = Some(if user.contains('@') {
                match store.user_by_email(&user.to_lowercase()).await? {
                    Some(u) => u.id.as_str().to_owned(),
                    None => return Ok(Err(FilterError(format!("No user has the email {user}.")))),
                }
            } else {
                user.to_owned()
            });
        }
        filter.agent_id = query.agent.as_ref().map(|a| a.trim().to_owned());
        filter.tenant_id = query.tenant.clone();
        filter.mcp_server_id = query.server.clone();
        filter.id = query.q.as_ref().map(|q| q.trim().to_owned());
        Ok(Ok(filter))
    }

    /// `/admin/audit?{pairs}`.
    fn href(pairs: &[(&str, String)]) -> String {
        if pairs.is_empty() {
            return "/admin/audit".to_owned();
        }
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        format!("/admin/audit?{}", s.finish())
    }

    /// The current filters with one more (replacing the same key).
    fn with(query: &AuditQuery, key: &'static str, value: &str) -> String {
        let mut pairs: Vec<(&str, String)> = query
            .filter_pairs()
            .into_iter()
            .filter(|(k, _)| *k != key)
            .collect();
        pairs.push((key, value.to_owned()));
        href(&pairs)
    }

    fn named(
        query: &AuditQuery,
        id: Option<&str>,
        names: &std::collections::HashMap<String, String>,
        key: &'static str,
    ) -> Option<Named> {
        id.map(|id| Named {
            id: id.to_owned(),
            label: names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
            filter_href: with(query, key, id),
        })
    }

    fn row(query: &AuditQuery, e: &StoredEvent, labels: &Labels) -> EventRow {
        let scopes = match (&e.scopes_granted, &e.scopes_requested) {
            (Some(granted), _) => granted.clone(),
            (None, Some(requested)) => format!("asked: {requested}"),
            (None, None) => String::new(),
        };
        EventRow {
            seq: e.seq,
            time: time_text::utc(e.occurred_at),
            event_type: e.event_type.clone(),
            outcome: e.outcome.clone(),
            actor: e.actor_kind.clone(),
            agent: named(query, e.agent_id.as_deref(), &labels.agents, "agent"),
            user: named(query, e.user_id.as_deref(), &labels.users, "user"),
            tenant: named(query, e.tenant_id.as_deref(), &labels.tenants, "tenant"),
            server: named(
                query,
                e.mcp_server_id.as_deref(),
                &labels.mcp_servers,
                "server",
            ),
            scopes,
            detail_href: with(query, "event", &e.seq.to_string()),
        }
    }

    /// Table rows for `events`, with names, linking back into the view of `query`.
    pub async fn event_rows(
        store: &Store,
        query: &AuditQuery,
        events: &[StoredEvent],
    ) -> CoreResult<Vec<EventRow>> {
        let labels = labels_for(store, events).await?;
        Ok(events.iter().map(|e| row(query, e, &labels)).collect())
    }

    fn detail(query: &AuditQuery, e: &StoredEvent) -> EventDetail {
        let json = serde_json::to_string_pretty(&e.to_json()).unwrap_or_default();
        let mut links = Vec::new();
        let all = |key: &'static str, id: &Option<String>, what: &str| {
            id.as_ref().map(|id| {
                (
                    format!("Every event of this {what}"),
                    href(&[(key, id.clone())]),
                )
            })
        };
        links.extend(all("agent", &e.agent_id, "agent"));
        links.extend(all("user", &e.user_id, "user"));
        links.extend(all("tenant", &e.tenant_id, "tenant"));
        links.extend(all("server", &e.mcp_server_id, "MCP server"));
        if let Some(r) = &e.request_id {
            links.push((
                "Every event of this request".into(),
                href(&[("range", "all".into()), ("q", r.clone())]),
            ));
        }
        if e.policies.is_some() {
            links.push(("The policies that decided".into(), "/admin/policies".into()));
        }
        EventDetail {
            seq: e.seq,
            event_type: e.event_type.clone(),
            time: time_text::utc(e.occurred_at),
            json,
            links,
            close_href: href(&query.filter_pairs()),
        }
    }

    async fn choices(
        admin: &Admin,
    ) -> CoreResult<(
        Vec<crate::api::admin::Choice>,
        Vec<crate::api::admin::Choice>,
    )> {
        let store = &admin.ctx.store;
        let tenants = store
            .list_tenants()
            .await?
            .into_iter()
            .filter(|t| admin.access.sees_tenant(Some(t.id.as_str())))
            .map(|t| crate::api::admin::Choice {
                value: t.id.as_str().to_owned(),
                label: t.name,
            })
            .collect();
        let servers = store
            .list_mcp_servers()
            .await?
            .into_iter()
            .map(|s| crate::api::admin::Choice {
                value: s.id.as_str().to_owned(),
                label: s.name,
            })
            .collect();
        Ok((tenants, servers))
    }

    pub async fn audit_view(admin: Admin, query: AuditQuery) -> CoreResult<AuditView> {
        let store = &admin.ctx.store;
        let (tenants, servers) = choices(&admin).await?;
        let filter = filter_of(store, &admin.access, &query).await?;
        let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok());
        let (events, error) = match &filter {
            Ok(filter) => (
                query::newest_first(store, filter, before, PAGE_SIZE + 1).await?,
                None,
            ),
            Err(FilterError(message)) => (Vec::new(), Some(message.clone())),
        };
        let more = events.len() > PAGE_SIZE as usize;
        let events = &events[..events.len().min(PAGE_SIZE as usize)];
        let rows = event_rows(store, &query, events).await?;
        let older_href = more
            .then(|| events.last())
            .flatten()
            .map(|e| with(&query, "before", &e.seq.to_string()));
        let detail = match query.event.as_deref().and_then(|s| s.parse::<i64>().ok()) {
            Some(seq) => query::event(store, seq)
                .await?
                .filter(|e| admin.access.sees_tenant(e.tenant_id.as_deref()))
                .map(|e| detail(&query, &e)),
            None => None,
        };
        let pairs = query.filter_pairs();
        let export = |format: &str| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("format", format);
            for (k, v) in &pairs {
                s.append_pair(k, v);
            }
            format!("/admin/audit/export?{}", s.finish())
        };
        let newest = query::head_seq(store).await?;
        let live_href = {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                s.append_pair(k, v);
            }
            s.append_pair("after", &newest.to_string());
            format!("/admin/audit/live?{}", s.finish())
        };
        Ok(AuditView {
            header: admin.header,
            error,
            rows,
            older_href,
            newest_href: before.map(|_| href(&pairs)),
            detail,
            event_types: EventType::ALL
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            tenants,
            servers,
            export_csv: export("csv"),
            export_jsonl: export("jsonl"),
            live_href,
            query,
        })
    }
}
