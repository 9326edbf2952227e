//! Retention: events older than the retention period are deleted, and the last deleted event's
//! sequence number and hash are recorded as the **cut**, so the remaining chain still verifies
//! from its first event (whose previous-hash must equal the cut's hash).

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::store::deployment::write_deployment_value;
use crate::store::Store;

/// The `deployment` key the cut is kept under.
pub const CUT_KEY: &str = "audit_cut";

/// The last pruned event: the chain resumes after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    pub seq: i64,
    pub hash: String,
}

/// What a prune removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PruneReport {
    pub removed: u64,
    pub cut: Option<Cut>,
}

/// The recorded cut, if events were ever pruned.
pub async fn cut(store: &Store) -> CoreResult<Option<Cut>> {
    Ok(store
        .deployment_value(CUT_KEY)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Events deleted per transaction at most. Each transaction holds the write lock, and every
/// issuance waits for its audit commit: one transaction for a whole period's events (an hour of
/// a busy hub, or everything past the retention on the first start after turning it on) would
/// hold every token request for as long as the delete took.
const PRUNE_CHUNK: i64 = 10_000;

/// The pause between two chunks, so that writers queued on the lock (SQLite's busy handler
/// retries on a timer) take it in between rather than after the whole prune.
const PAUSE_BETWEEN_CHUNKS: std::time::Duration = std::time::Duration::from_millis(20);

/// Deletes the events that occurred before `cutoff` (in sequence order: everything up to the
/// last such event), oldest first, at most [`PRUNE_CHUNK`] per transaction, each transaction
/// recording the new cut with its delete, so the chain verifies after every one of them.
///
/// The last such event is found through the time index (the newest `occurred_at` before the
/// cutoff, the higher `seq` on a tie): a cost of one index probe however long the log. Asking
/// for `MAX(seq) … WHERE occurred_at < cutoff` instead let SQLite walk the sequence numbers
/// down from the newest event until one matched, which with nothing to prune meant reading the
/// whole table, inside the write transaction, so every issuance waited for it (18 s on a 2.5 GB
/// log). Events are numbered in the order they were recorded, so the two agree but for events
/// recorded in the same instant by several instances, which the cut may take a few
/// milliseconds apart.
pub async fn prune_before(store: &Store, cutoff: UnixMillis) -> CoreResult<PruneReport> {
    prune_in_chunks(store, cutoff, PRUNE_CHUNK).await
}

async fn prune_in_chunks(store: &Store, cutoff: UnixMillis, chunk: i64) -> CoreResult<PruneReport> {
    // Events are only ever added after it (they occur now, after the cutoff), so it is found
    // once, outside the transactions.
    let target: Option<i64> = sqlx::query_scalar(
        "SELECT seq FROM audit_events WHERE occurred_at < $1
         ORDER BY occurred_at DESC, seq DESC LIMIT 1",
    )
    .bind(cutoff)
    .fetch_optional(store.pool())
    .await?;
    let mut report = PruneReport::default();
    let Some(target) = target else {
        return Ok(report);
    };
    loop {
        let mut tx = store.begin_write().await?;
        let first: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_events")
            .fetch_one(&mut *tx)
            .await?;
        let Some(first) = first.filter(|first| *first <= target) else {
            tx.rollback().await?;
            return Ok(report);
        };
        // This chunk's last event: the newest at most `chunk` sequence numbers past the first.
        let (seq, hash): (i64, String) = sqlx::query_as(
            "SELECT seq, hash FROM audit_events WHERE seq <= $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(target.min(first.saturating_add(chunk - 1)))
        .fetch_one(&mut *tx)
        .await?;
        report.removed += sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
            .bind(seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let cut = Cut { seq, hash };
        let value =
            serde_json::to_string(&cut).map_err(|e| crate::CoreError::Invalid(e.to_string()))?;
        write_deployment_value(&mut *tx, CUT_KEY, &value).await?;
        tx.commit().await?;
        report.cut = Some(cut);
        if seq >= target {
            return Ok(report);
        }
        tokio::time::sleep(PAUSE_BETWEEN_CHUNKS).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::verify::verify_chain;
    use crate::audit::{ActorKind, AuditEvent, AuditLog, EventType, Outcome};
    use crate::clock::FixedClock;
    use crate::testing::each_backend;

    const DAY: i64 = 86_400_000;

    #[tokio::test]
    async fn pruning_keeps_the_rest_of_the_chain_verifiable_from_the_cut() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let clock = Arc::new(FixedClock::at(10 * DAY));
            let log = AuditLog::spawn(store.clone(), clock.clone());
            for day in 0..10 {
                for _ in 0..3 {
                    let event =
                        AuditEvent::new(EventType::UserSignedIn, Outcome::Success, ActorKind::User)
                            .with("day", day);
                    log.record(event).await.expect("record");
                }
                clock.advance_ms(DAY);
            }
            // Events of days 0..4 are older than day 14.
            let report = prune_before(&store, 14 * DAY).await.expect("prune");
            assert_eq!(report.removed, 12, "{:?}", db.backend);
            assert_eq!(report.cut.as_ref().map(|c| c.seq), Some(12));
            assert_eq!(cut(&store).await.expect("cut"), report.cut);

            let check = verify_chain(&store, None, None).await.expect("verify");
            assert_eq!(check.broken, None, "{:?}", db.backend);
            assert_eq!((check.checked, check.first_seq), (18, Some(13)));

            let again = prune_before(&store, 14 * DAY).await.expect("prune");
            assert_eq!(again.removed, 0, "nothing older is left");

            // Days 14..16 in chunks of 4: three transactions (4, 4, 1), each writing its cut.
            let report = prune_in_chunks(&store, 17 * DAY, 4).await.expect("prune");
            assert_eq!(report.removed, 9, "{:?}", db.backend);
            assert_eq!(report.cut.as_ref().map(|c| c.seq), Some(21));
            assert_eq!(cut(&store).await.expect("cut"), report.cut);
            let check = verify_chain(&store, None, None).await.expect("verify");
            assert_eq!(check.broken, None, "{:?}", db.backend);
            assert_eq!((check.checked, check.first_seq), (9, Some(22)));

            // A forged cut no longer matches the first remaining event.
            sqlx::query("UPDATE deployment SET value = $1 WHERE key = $2")
                .bind(r#"{"seq":21,"hash":"forged"}"#)
                .bind(CUT_KEY)
                .execute(store.pool())
                .await
                .expect("forge");
            let broken = verify_chain(&store, None, None)
                .await
                .expect("verify")
                .broken
                .expect("broken");
            assert_eq!(broken.seq, 22);
        }
    }
}
