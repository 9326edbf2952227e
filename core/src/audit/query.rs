//! Reading the audit trail: filtered, keyset-paginated queries for the viewer, the live tail
//! and exports, and the hourly counts behind the dashboard.
//!
//! Every query is bounded by sequence numbers, never by OFFSET: a page is "the next N events
//! before (or after) this `seq`", which stays fast at millions of rows with the `(column, seq)`
//! indexes of migration 0004. A time range is first turned into a `seq` range through the
//! `occurred_at` index (two index probes), so a filter on an agent over last month walks only
//! that agent's events in that month.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::Row;

use super::{EventType, Outcome};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::store::Store;

/// The events a query selects. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `occurred_at >= from` (Unix ms).
    pub from: Option<UnixMillis>,
    /// `occurred_at < to` (Unix ms).
    pub to: Option<UnixMillis>,
    /// Any of these types.
    pub event_types: Vec<EventType>,
    pub outcome: Option<Outcome>,
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub tenant_id: Option<String>,
    pub mcp_server_id: Option<String>,
    /// An id that any of the event's id columns equals (event, agent, user, tenant, MCP server,
    /// request id or client IP).
    pub id: Option<String>,
    /// Access restriction: only events of these tenants (a tenant admin's view). `None`: all.
    pub tenants: Option<Vec<String>>,
}

/// One stored event, as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub occurred_at: UnixMillis,
    pub event_type: String,
    pub outcome: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub tenant_id: Option<String>,
    pub mcp_server_id: Option<String>,
    pub scopes_requested: Option<String>,
    pub scopes_granted: Option<String>,
    pub policies: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    /// The event as one JSON object (a JSON Lines export line, a live-tail message).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({ "seq": self.seq }))
    }
}

/// The columns of [`StoredEvent`], in its order.
const COLUMNS: &str = "seq, id, occurred_at, event_type, outcome, actor_kind, actor_id, agent_id,
    user_id, tenant_id, mcp_server_id, scopes_requested, scopes_granted, policies, client_ip,
    user_agent, request_id, detail, prev_hash, hash";

/// Margin under the time-to-sequence conversion: events are numbered in commit order but
/// stamped at submission, so two events a few milliseconds apart (or from two instances
/// with slightly different clocks) may be out of order by up to this much.
const CLOCK_SKEW_MS: i64 = 60_000;

fn stored_event(row: &sqlx::any::AnyRow) -> CoreResult<StoredEvent> {
    let detail: String = row.try_get("detail")?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        occurred_at: row.try_get("occurred_at")?,
        event_type: row.try_get("event_type")?,
        outcome: row.try_get("outcome")?,
        actor_kind: row.try_get("actor_kind")?,
        actor_id: row.try_get("actor_id")?,
        agent_id: row.try_get("agent_id")?,
        user_id: row.try_get("user_id")?,
        tenant_id: row.try_get("tenant_id")?,
        mcp_server_id: row.try_get("mcp_server_id")?,
        scopes_requested: row.try_get("scopes_requested")?,
        scopes_granted: row.try_get("scopes_granted")?,
        policies: row.try_get("policies")?,
        client_ip: row.try_get("client_ip")?,
        user_agent: row.try_get("user_agent")?,
        request_id: row.try_get("request_id")?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A WHERE clause being built with numbered placeholders.
#[derive(Debug, Default)]
struct Clause {
    parts: Vec<String>,
    binds: Vec<Bind>,
    /// Filters on "any id": few rows match, found through the id columns' indexes.
    by_id: bool,
}

impl Clause {
    fn placeholder(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn push(&mut self, template: &str, value: Bind) {
        let p = self.placeholder(value);
        self.parts.push(template.replace('?', &p));
    }

    fn any_of(&mut self, column: &str, values: impl IntoIterator<Item = String>) {
        let list: Vec<String> = values
            .into_iter()
            .map(|v| self.placeholder(Bind::Text(v)))
            .collect();
        // An empty list matches nothing (a tenant admin of no tenant sees nothing).
        self.parts.push(if list.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("{column} IN ({})", list.join(", "))
        });
    }

    /// The ORDER BY expression. With an "any id" filter, `seq + 0` keeps PostgreSQL from
    /// walking the whole primary key backwards looking for the few matches (it then ORs the
    /// id indexes and sorts the handful of rows).
    fn order_key(&self) -> &'static str {
        if self.by_id {
            "seq + 0"
        } else {
            "seq"
        }
    }

    fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.parts.join(" AND ")
        }
    }

    fn bind_all<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for b in &self.binds {
            query = match b {
                Bind::Text(t) => query.bind(t.as_str()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }
}

/// The sequence range that holds every event of `[from, to)`.
async fn seq_bounds(
    store: &Store,
    from: Option<UnixMillis>,
    to: Option<UnixMillis>,
) -> CoreResult<(Option<i64>, Option<i64>)> {
    let low = match from {
        Some(from) => Some(
            sqlx::query_scalar::<_, i64>(
                "SELECT seq FROM audit_events WHERE occurred_at >= $1 ORDER BY occurred_at LIMIT 1",
            )
            .bind(from - CLOCK_SKEW_MS)
            .fetch_optional(store.pool())
            .await?
            // Nothing that late: an impossible bound selects nothing.
            .unwrap_or(i64::MAX),
        ),
        None => None,
    };
    let high = match to {
        Some(to) => Some(
            sqlx::query_scalar::<_, i64>(
                "SELECT seq FROM audit_events WHERE occurred_at < $1
                 ORDER BY occurred_at DESC LIMIT 1",
            )
            .bind(to.saturating_add(CLOCK_SKEW_MS))
            .fetch_optional(store.pool())
            .await?
            .unwrap_or(0),
        ),
        None => None,
    };
    Ok((low, high))
}

/// The columns "any id" searches, each indexed (migrations 0001 and 0004).
const ID_COLUMNS: [&str; 7] = [
    "id",
    "agent_id",
    "user_id",
    "tenant_id",
    "mcp_server_id",
    "request_id",
    "client_ip",
];

/// The WHERE clause of `filter`.
async fn clause(store: &Store, filter: &AuditFilter) -> CoreResult<Clause> {
    let mut c = Clause::default();
    let (low, high) = seq_bounds(store, filter.from, filter.to).await?;
    if let Some(low) = low {
        c.push("seq >= ?", Bind::Int(low));
    }
    if let Some(high) = high {
        c.push("seq <= ?", Bind::Int(high));
    }
    if let Some(from) = filter.from {
        c.push("occurred_at >= ?", Bind::Int(from));
    }
    if let Some(to) = filter.to {
        c.push("occurred_at < ?", Bind::Int(to));
    }
    if !filter.event_types.is_empty() {
        c.any_of(
            "event_type",
            filter.event_types.iter().map(|t| t.as_str().to_owned()),
        );
    }
    if let Some(outcome) = filter.outcome {
        c.push(
            "outcome = ?",
            Bind::Text(super::outcome_str(outcome).into()),
        );
    }
    for (column, value) in [
        ("user_id", &filter.user_id),
        ("agent_id", &filter.agent_id),
        ("tenant_id", &filter.tenant_id),
        ("mcp_server_id", &filter.mcp_server_id),
    ] {
        if let Some(v) = value {
            c.push(&format!("{column} = ?"), Bind::Text(v.clone()));
        }
    }
    if let Some(id) = &filter.id {
        let p = c.placeholder(Bind::Text(id.clone()));
        let any: Vec<String> = ID_COLUMNS
            .iter()
            .map(|col| format!("{col} = {p}"))
            .collect();
        c.parts.push(format!("({})", any.join(" OR ")));
        c.by_id = true;
    }
    if let Some(tenants) = &filter.tenants {
        c.any_of("tenant_id", tenants.iter().cloned());
    }
    Ok(c)
}

/// Up to `limit` events matching `filter`, newest first, older than `before` when given.
pub async fn newest_first(
    store: &Store,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> CoreResult<Vec<StoredEvent>> {
    let mut c = clause(store, filter).await?;
    if let Some(before) = before {
        c.push("seq < ?", Bind::Int(before));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {} ORDER BY {} DESC LIMIT {}",
        c.sql(),
        c.order_key(),
        limit.min(1000)
    );
    let rows = c
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(stored_event).collect()
}

/// Up to `limit` events matching `filter`, oldest first, newer than `after` when given (the
/// live tail and exports).
pub async fn oldest_first(
    store: &Store,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
) -> CoreResult<Vec<StoredEvent>> {
    let mut c = clause(store, filter).await?;
    if let Some(after) = after {
        c.push("seq > ?", Bind::Int(after));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {} ORDER BY {} LIMIT {}",
        c.sql(),
        c.order_key(),
        limit.min(5000)
    );
    let rows = c
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(stored_event).collect()
}

/// One event by its sequence number.
pub async fn event(store: &Store, seq: i64) -> CoreResult<Option<StoredEvent>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE seq = $1");
    let row = sqlx::query(&sql)
        .bind(seq)
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(stored_event).transpose()
}

/// The newest sequence number (0 when the trail is empty).
pub async fn head_seq(store: &Store) -> CoreResult<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(store.pool())
            .await?
            .unwrap_or(0),
    )
}

/// How many events of one type and outcome happened in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCount {
    /// The hour's start (Unix ms).
    pub hour: UnixMillis,
    pub event_type: String,
    pub outcome: String,
    pub count: i64,
}

const HOUR_MS: i64 = 3_600_000;

/// Events of `types` per hour, type and outcome, over the filter's range and restriction.
pub async fn hourly_counts(
    store: &Store,
    filter: &AuditFilter,
    types: &[EventType],
) -> CoreResult<Vec<HourlyCount>> {
    let filter = AuditFilter {
        event_types: types.to_vec(),
        ..filter.clone()
    };
    let c = clause(store, &filter).await?;
    let sql = format!(
        "SELECT occurred_at / {HOUR_MS} AS hour, event_type, outcome, COUNT(*) AS n
         FROM audit_events WHERE {} GROUP BY occurred_at / {HOUR_MS}, event_type, outcome",
        c.sql()
    );
    let rows = c
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(HourlyCount {
                hour: row.try_get::<i64, _>("hour")? * HOUR_MS,
                event_type: row.try_get("event_type")?,
                outcome: row.try_get("outcome")?,
                count: row.try_get("n")?,
            })
        })
        .collect()
}

/// What a "top" table ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    Agent,
    McpServer,
}

/// The ids (agent or MCP server) with the most events matching `filter`, most first.
pub async fn top(
    store: &Store,
    filter: &AuditFilter,
    by: RankBy,
    limit: u32,
) -> CoreResult<Vec<(String, i64)>> {
    let column = match by {
        RankBy::Agent => "agent_id",
        RankBy::McpServer => "mcp_server_id",
    };
    let c = clause(store, filter).await?;
    let sql = format!(
        "SELECT {column} AS ranked, COUNT(*) AS n FROM audit_events
         WHERE {} AND {column} IS NOT NULL
         GROUP BY {column} ORDER BY COUNT(*) DESC, {column} LIMIT {}",
        c.sql(),
        limit.min(100)
    );
    let rows = c
        .bind_all(sqlx::query(&sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("ranked")?, row.try_get("n")?)))
        .collect()
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
