//! Audit viewer queries at scale: fills a fresh database with N events (default 1,000,000;
//! `AUDIT_BENCH_EVENTS` to change) spread over 30 days, 1,000 agents, 5,000 users and 20
//! tenants, then times the viewer's, live tail's and dashboard's queries (p50 / p99 over
//! repeated runs with varying parameters) on SQLite and PostgreSQL.
//!
//! cargo bench -p mandate-core --features testing --bench audit_query
//! (`AUDIT_BENCH_BACKENDS=sqlite` for one backend; PostgreSQL from MANDATE_TEST_POSTGRES_URL.)

use std::time::{Duration, Instant};

use mandate_core::audit::query::{
    head_seq, hourly_counts, newest_first, oldest_first, top, AuditFilter, RankBy,
};
use mandate_core::audit::{chain_hash, EventType, Outcome, GENESIS_HASH};
use mandate_core::store::{Backend, Store};
use mandate_core::testing::{drop_postgres, postgres, sqlite, TestDatabase};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;
const AGENTS: u64 = 1_000;
const USERS: u64 = 5_000;
const TENANTS: u64 = 20;
const TYPES: [EventType; 8] = [
    EventType::TokenIssued,
    EventType::TokenIssued,
    EventType::TokenIssued,
    EventType::TokenRefreshed,
    EventType::UserSignedIn,
    EventType::ConsentGranted,
    EventType::AuthorizationRequested,
    EventType::SignInFailed,
];
const ROWS_PER_INSERT: usize = 50;
const ROWS_PER_TRANSACTION: usize = 10_000;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct Row {
    seq: i64,
    at: i64,
    kind: EventType,
    outcome: Outcome,
    agent: String,
    user: String,
    tenant: String,
    request: String,
    detail: serde_json::Value,
    prev: String,
    hash: String,
}

/// The viewer's indexes (migration 0004): dropped for the bulk load and built again after it,
/// which is how an operator would load millions of rows and much faster than indexing row by
/// row; the queries then run on exactly the migrated schema.
fn viewer_indexes(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0004_audit_views.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0004_audit_views.sql"),
    }
}

/// The SQL statements of a migration file, comments left out.
fn statements(sql: &str) -> Vec<String> {
    sql.split(';')
        .filter_map(|statement| {
            let code: Vec<&str> = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect();
            let code = code.join("\n");
            (!code.trim().is_empty()).then_some(code)
        })
        .collect()
}

async fn drop_viewer_indexes(store: &Store) {
    for statement in statements(viewer_indexes(store.backend())) {
        let name = statement
            .split_whitespace()
            .nth(2)
            .expect("CREATE INDEX name")
            .to_owned();
        sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
            .execute(store.pool())
            .await
            .expect("drop index");
    }
}

async fn build_viewer_indexes(store: &Store) {
    let began = Instant::now();
    for statement in statements(viewer_indexes(store.backend())) {
        sqlx::query(&statement)
            .execute(store.pool())
            .await
            .expect("create index");
    }
    println!(
        "  built the viewer's indexes in {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

async fn fill(store: &Store, n: usize, start: i64) {
    drop_viewer_indexes(store).await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let step = (30 * DAY_MS) / n as i64;
    let mut prev = GENESIS_HASH.to_owned();
    let began = Instant::now();
    let mut seq = 0i64;
    while (seq as usize) < n {
        let mut tx = store.begin_write().await.expect("begin");
        let mut rows = Vec::with_capacity(ROWS_PER_TRANSACTION);
        for _ in 0..ROWS_PER_TRANSACTION.min(n - seq as usize) {
            seq += 1;
            let kind = TYPES[rng.below(TYPES.len() as u64) as usize];
            let outcome = if kind == EventType::SignInFailed {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            let detail = json!({ "jti": format!("jti-{seq}") });
            let at = start + seq * step;
            let event = json!({ "event_type": kind.as_str(), "detail": detail });
            let hash = chain_hash(&prev, seq, at, &event);
            rows.push(Row {
                seq,
                at,
                kind,
                outcome,
                agent: format!("agent-{}", rng.below(AGENTS)),
                user: format!("user-{}", rng.below(USERS)),
                tenant: format!("tenant-{}", rng.below(TENANTS)),
                request: format!("req-{seq}"),
                detail,
                prev: std::mem::replace(&mut prev, hash.clone()),
                hash,
            });
        }
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO audit_events (seq, id, occurred_at, event_type, outcome, actor_kind,
                    actor_id, agent_id, user_id, tenant_id, mcp_server_id, request_id, client_ip,
                    detail, prev_hash, hash) VALUES {}",
                placeholders(chunk.len(), 16)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(format!("evt-{}", r.seq))
                    .bind(r.at)
                    .bind(r.kind.as_str())
                    .bind(if r.outcome == Outcome::Success {
                        "success"
                    } else {
                        "failure"
                    })
                    .bind("agent")
                    .bind(r.agent.clone())
                    .bind(r.agent.clone())
                    .bind(r.user.clone())
                    .bind(r.tenant.clone())
                    .bind("server-1")
                    .bind(r.request.clone())
                    .bind(format!("10.0.{}.{}", r.seq % 250, r.seq % 199))
                    .bind(r.detail.to_string())
                    .bind(r.prev.clone())
                    .bind(r.hash.clone());
            }
            q.execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    println!(
        "  filled {n} events in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    build_viewer_indexes(store).await;
    if store.backend() == Backend::Postgres {
        sqlx::query("ANALYZE audit_events")
            .execute(store.pool())
            .await
            .expect("analyze");
    } else {
        sqlx::query("ANALYZE")
            .execute(store.pool())
            .await
            .expect("analyze");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn time<F, Fut>(name: &str, runs: usize, mut query: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    query(0).await; // warm
    let mut samples = Vec::with_capacity(runs);
    let mut rows = 0;
    for i in 0..runs {
        let began = Instant::now();
        rows += query(i + 1).await;
        samples.push(began.elapsed());
    }
    samples.sort();
    println!(
        "  {name:<46} p50 {:>8.2} ms   p99 {:>8.2} ms   ({} rows/run)",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        rows / runs.max(1)
    );
}

async fn bench(db: &TestDatabase, n: usize) {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    // The trail ends now: the newest events are "the last hour".
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let start = now - 30 * DAY_MS;
    println!("{} ({n} events)", db.backend.name());
    fill(&store, n, start).await;
    let s = &store;
    let runs = 200;
    let day = AuditFilter {
        from: Some(now - DAY_MS),
        ..AuditFilter::default()
    };
    time("newest page, last 24 h", runs, |_| async {
        newest_first(s, &day, None, 51).await.expect("q").len()
    })
    .await;
    time("by agent, last 7 days", runs, |i| async move {
        let f = AuditFilter {
            from: Some(now - 7 * DAY_MS),
            agent_id: Some(format!("agent-{}", i as u64 % AGENTS)),
            ..AuditFilter::default()
        };
        newest_first(s, &f, None, 51).await.expect("q").len()
    })
    .await;
    time("by user, everything", runs, |i| async move {
        let f = AuditFilter {
            user_id: Some(format!("user-{}", (i as u64 * 7) % USERS)),
            ..AuditFilter::default()
        };
        newest_first(s, &f, None, 51).await.expect("q").len()
    })
    .await;
    time(
        "by tenant + type + failure, 30 days",
        runs,
        |i| async move {
            let f = AuditFilter {
                from: Some(now - 30 * DAY_MS),
                tenant_id: Some(format!("tenant-{}", i as u64 % TENANTS)),
                event_types: vec![EventType::SignInFailed],
                outcome: Some(Outcome::Failure),
                ..AuditFilter::default()
            };
            newest_first(s, &f, None, 51).await.expect("q").len()
        },
    )
    .await;
    time("custom range 3 weeks ago, by agent", runs, |i| async move {
        let f = AuditFilter {
            from: Some(now - 22 * DAY_MS),
            to: Some(now - 21 * DAY_MS),
            agent_id: Some(format!("agent-{}", i as u64 % AGENTS)),
            ..AuditFilter::default()
        };
        newest_first(s, &f, None, 51).await.expect("q").len()
    })
    .await;
    time(
        "tenant admin view (2 tenants), last 24 h",
        runs,
        |_| async {
            let f = AuditFilter {
                from: Some(now - DAY_MS),
                tenants: Some(vec!["tenant-1".into(), "tenant-2".into()]),
                ..AuditFilter::default()
            };
            newest_first(s, &f, None, 51).await.expect("q").len()
        },
    )
    .await;
    time("any id (a request id)", runs, |i| async move {
        let f = AuditFilter {
            id: Some(format!("req-{}", (i * 4_999) % n + 1)),
            ..AuditFilter::default()
        };
        newest_first(s, &f, None, 51).await.expect("q").len()
    })
    .await;
    time(
        "deep page (before the middle), by agent",
        runs,
        |i| async move {
            let f = AuditFilter {
                agent_id: Some(format!("agent-{}", i as u64 % AGENTS)),
                ..AuditFilter::default()
            };
            newest_first(s, &f, Some(n as i64 / 2), 51)
                .await
                .expect("q")
                .len()
        },
    )
    .await;
    let head = head_seq(s).await.expect("head");
    time("live tail: after the newest 100", runs, |_| async move {
        let f = AuditFilter::default();
        oldest_first(s, &f, Some(head - 100), 200)
            .await
            .expect("q")
            .len()
    })
    .await;
    time("dashboard: hourly counts, 24 h", 50, |_| async {
        hourly_counts(
            s,
            &day,
            &[EventType::TokenIssued, EventType::ConsentGranted],
        )
        .await
        .expect("q")
        .len()
    })
    .await;
    time("dashboard: top agents, 24 h", 50, |_| async {
        let f = AuditFilter {
            event_types: vec![EventType::TokenIssued],
            ..day.clone()
        };
        top(s, &f, RankBy::Agent, 10).await.expect("q").len()
    })
    .await;
    store.close().await;
}

fn main() {
    let n: usize = std::env::var("AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backends =
        std::env::var("AUDIT_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if backends.contains("sqlite") {
            bench(&sqlite(), n).await;
        }
        if backends.contains("postgres") {
            match postgres().await {
                Some(db) => {
                    bench(&db, n).await;
                    drop_postgres(&db).await;
                }
                None => println!("postgres: not reachable, skipped"),
            }
        }
    });
}
