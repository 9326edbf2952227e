//! Checking the audit chain: every stored event is read back in sequence order, its hash is
//! computed again from its columns and the previous event's hash, and the first event that does
//! not match (edited, deleted, inserted or reordered) is named. Reads in keyset pages, so a
//! chain of millions of events is checked in constant memory.

use serde_json::{json, Value};
use sqlx::Row;

use super::{chain_hash, GENESIS_HASH};
use crate::error::CoreResult;
use crate::store::Store;

/// Events read per query.
const PAGE: i64 = 1000;

/// The first event where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub id: String,
    pub reason: String,
}

/// What a check covered and found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainReport {
    /// Events whose hash was recomputed.
    pub checked: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// `None`: every checked event holds.
    pub broken: Option<BrokenLink>,
}

/// The event as its row stores it, in the shape [`super::AuditEvent`] serializes to.
fn event_json(row: &sqlx::any::AnyRow) -> Result<Value, String> {
    let text = |name: &str| -> Result<Option<String>, String> {
        row.try_get::<Option<String>, _>(name)
            .map_err(|e| format!("column {name}: {e}"))
    };
    let detail = text("detail")?.unwrap_or_else(|| "{}".into());
    let detail: Value =
        serde_json::from_str(&detail).map_err(|e| format!("detail is not JSON: {e}"))?;
    Ok(json!({
        "event_type": text("event_type")?,
        "outcome": text("outcome")?,
        "actor_kind": text("actor_kind")?,
        "actor_id": text("actor_id")?,
        "agent_id": text("agent_id")?,
        "user_id": text("user_id")?,
        "tenant_id": text("tenant_id")?,
        "mcp_server_id": text("mcp_server_id")?,
        "scopes_requested": text("scopes_requested")?,
        "scopes_granted": text("scopes_granted")?,
        "policies": text("policies")?,
        "client_ip": text("client_ip")?,
        "user_agent": text("user_agent")?,
        "request_id": text("request_id")?,
        "detail": detail,
    }))
}

/// The hash the event before `seq` ended with: the genesis hash at the start of the chain,
/// the stored hash of event `seq - 1`, or, when retention pruned that event, the hash recorded
/// at the cut. `None`: the events before `seq` are gone and no cut accounts for them.
async fn hash_before(store: &Store, seq: i64) -> CoreResult<Option<String>> {
    if seq <= 1 {
        return Ok(Some(GENESIS_HASH.to_owned()));
    }
    let hash: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = $1")
        .bind(seq - 1)
        .fetch_optional(store.pool())
        .await?;
    if hash.is_some() {
        return Ok(hash);
    }
    Ok(super::retention::cut(store)
        .await?
        .filter(|cut| cut.seq == seq - 1)
        .map(|cut| cut.hash))
}

/// Checks the events with `from <= seq <= to` (the whole chain by default).
pub async fn verify_chain(
    store: &Store,
    from: Option<i64>,
    to: Option<i64>,
) -> CoreResult<ChainReport> {
    let mut report = ChainReport::default();
    let mut after = from.map_or(0, |f| f - 1);
    let to = to.unwrap_or(i64::MAX);
    let mut expected_prev: Option<String> = None;
    loop {
        let rows = sqlx::query(
            "SELECT seq, id, occurred_at, event_type, outcome, actor_kind, actor_id, agent_id,
                user_id, tenant_id, mcp_server_id, scopes_requested, scopes_granted, policies,
                client_ip, user_agent, request_id, detail, prev_hash, hash
             FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(to)
        .bind(PAGE)
        .fetch_all(store.pool())
        .await?;
        if rows.is_empty() {
            return Ok(report);
        }
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let id: String = row.try_get("id")?;
            let prev_hash: String = row.try_get("prev_hash")?;
            let hash: String = row.try_get("hash")?;
            let occurred_at: i64 = row.try_get("occurred_at")?;
            let broken = |reason: String| BrokenLink {
                seq,
                id: id.clone(),
                reason,
            };
            let expected = match expected_prev.take() {
                Some(h) => Some(h),
                None => hash_before(store, seq).await?,
            };
            let problem = if report.last_seq.is_some_and(|last| seq != last + 1) {
                Some(format!(
                    "events {}..{} are missing",
                    report.last_seq.unwrap_or_default() + 1,
                    seq - 1
                ))
            } else if expected.is_none() {
                Some("the events before it are missing and no retention cut records them".into())
            } else if expected.as_ref().is_some_and(|e| *e != prev_hash) {
                Some("its previous-hash does not match the event before it".to_owned())
            } else {
                match event_json(row) {
                    Ok(event) if chain_hash(&prev_hash, seq, occurred_at, &event) == hash => None,
                    Ok(_) => Some("its content does not match its hash (edited)".to_owned()),
                    Err(e) => Some(format!("it cannot be read: {e}")),
                }
            };
            if let Some(reason) = problem {
                report.broken = Some(broken(reason));
                return Ok(report);
            }
            report.checked += 1;
            report.first_seq.get_or_insert(seq);
            report.last_seq = Some(seq);
            expected_prev = Some(hash);
            after = seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::{ActorKind, AuditEvent, AuditLog, EventType, Outcome};
    use crate::clock::SystemClock;
    use crate::testing::each_backend;

    async fn record_events(store: &Store, n: usize) {
        let log = AuditLog::spawn(store.clone(), Arc::new(SystemClock));
        for i in 0..n {
            let event = AuditEvent::new(EventType::UserSignedIn, Outcome::Success, ActorKind::User)
                .user(Some(format!("user-{i}")))
                .with("method", "password")
                .with("n", i);
            log.record(event).await.expect("record");
        }
    }

    #[tokio::test]
    async fn an_intact_chain_verifies_and_an_edit_or_a_gap_is_named() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            record_events(&store, 1200).await;
            let report = verify_chain(&store, None, None).await.expect("verify");
            assert_eq!(report.broken, None, "{:?}", db.backend);
            assert_eq!(report.checked, 1200, "across pages");
            assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(1200)));

            let ranged = verify_chain(&store, Some(500), Some(700))
                .await
                .expect("range");
            assert_eq!((ranged.checked, ranged.broken), (201, None));

            // An edited event: its content no longer matches its hash.
            sqlx::query("UPDATE audit_events SET user_id = 'someone-else' WHERE seq = 1001")
                .execute(store.pool())
                .await
                .expect("tamper");
            let report = verify_chain(&store, None, None).await.expect("verify");
            let broken = report.broken.expect("broken");
            assert_eq!(broken.seq, 1001, "{:?}", db.backend);
            assert!(broken.reason.contains("edited"), "{}", broken.reason);
            assert_eq!(report.checked, 1000, "everything before it holds");

            // A deleted event: the next one names the gap.
            sqlx::query("DELETE FROM audit_events WHERE seq = 300")
                .execute(store.pool())
                .await
                .expect("delete");
            let broken = verify_chain(&store, None, None)
                .await
                .expect("verify")
                .broken
                .expect("broken");
            assert_eq!(broken.seq, 301);
            assert!(broken.reason.contains("missing"), "{}", broken.reason);
        }
    }

    /// Events queued without confirmation, mixed with confirmed ones, are all written, in the
    /// order they were queued, once `flush` returns.
    #[tokio::test]
    async fn unconfirmed_events_are_written_in_order_by_the_time_flush_returns() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let log = AuditLog::spawn(store.clone(), Arc::new(SystemClock));
            for i in 0..300 {
                let event = AuditEvent::new(
                    EventType::TokenIntrospected,
                    Outcome::Success,
                    ActorKind::Agent,
                )
                .with("n", i);
                if i % 100 == 50 {
                    log.record(event).await.expect("record");
                } else {
                    log.record_unconfirmed(event).await.expect("queue");
                }
            }
            log.flush().await;
            let numbers: Vec<String> =
                sqlx::query_scalar("SELECT detail FROM audit_events ORDER BY seq")
                    .fetch_all(store.pool())
                    .await
                    .expect("details");
            let numbers: Vec<i64> = numbers
                .iter()
                .map(|d| {
                    serde_json::from_str::<serde_json::Value>(d).expect("json")["n"]
                        .as_i64()
                        .expect("n")
                })
                .collect();
            assert_eq!(numbers, (0..300).collect::<Vec<i64>>(), "{:?}", db.backend);
            let report = verify_chain(&store, None, None).await.expect("verify");
            assert_eq!((report.checked, report.broken), (300, None));
        }
    }

    #[tokio::test]
    async fn two_reordered_events_are_named() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            record_events(&store, 20).await;
            for sql in [
                "UPDATE audit_events SET seq = -10 WHERE seq = 10",
                "UPDATE audit_events SET seq = 10 WHERE seq = 11",
                "UPDATE audit_events SET seq = 11 WHERE seq = -10",
            ] {
                sqlx::query(sql)
                    .execute(store.pool())
                    .await
                    .expect("reorder");
            }
            let report = verify_chain(&store, None, None).await.expect("verify");
            let broken = report.broken.expect("broken");
            assert_eq!(broken.seq, 10, "{:?}", db.backend);
            assert!(broken.reason.contains("previous-hash"), "{}", broken.reason);
            assert_eq!(report.checked, 9);
        }
    }
}
