//! The console's and admin API's lists at scale: fills a fresh database with N agents
//! (default 100,000; `ADMIN_BENCH_AGENTS`) of every kind, with tags, last-use times, allowances
//! and grants, and 10,000 policies (`ADMIN_BENCH_POLICIES`), then times the agent list's pages
//! and filters, loading every policy, and evaluating them for one authorization (p50 / p99 over
//! repeated runs) on SQLite and PostgreSQL.
//!
//! cargo bench -p mandate-core --features testing --bench admin_lists
//! (`ADMIN_BENCH_BACKENDS=sqlite` for one backend; PostgreSQL from MANDATE_TEST_POSTGRES_URL.)

use std::time::{Duration, Instant};

use mandate_core::admin::agents::{cursor_of, parse_used};
use mandate_core::model::{AgentKind, TrustLevel};
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::policy::{evaluate, Allow, Condition, Operator, Policy, Subject};
use mandate_core::store::agent_admin::AgentFilter;
use mandate_core::store::Store;
use mandate_core::testing::{drop_postgres, postgres, sqlite, TestDatabase};

const ROWS_PER_INSERT: usize = 100;
const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 1_800_000_000_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

async fn fill_agents(store: &Store, n: usize) {
    let kinds = ["manual", "dcr", "cimd"];
    let trust = ["admin", "dcr", "cimd", "verified"];
    let mut i = 0;
    while i < n {
        let rows = ROWS_PER_INSERT.min(n - i);
        let sql = format!(
            "INSERT INTO agents (id, name, kind, trust_level, client_type, token_endpoint_auth_method,
                                 tags, created_at, updated_at, last_used_at) VALUES {}",
            placeholders(rows, 10)
        );
        let mut q = sqlx::query(&sql);
        for k in i..i + rows {
            let tags = if k % 10 == 0 { r#"["ops"]"# } else { "[]" };
            let last_used = (k % 3 != 0).then_some(NOW - (k as i64 % 120) * DAY_MS);
            q = q
                .bind(format!("agent-{k:07}"))
                .bind(format!("Agent number {k}"))
                .bind(kinds[k % 3])
                .bind(trust[k % 4])
                .bind("public")
                .bind("none")
                .bind(tags)
                .bind(NOW - 365 * DAY_MS + k as i64 * 1000)
                .bind(NOW)
                .bind(last_used);
        }
        q.execute(store.pool()).await.expect("insert agents");
        i += rows;
    }
}

fn policy(i: usize) -> Policy {
    Policy {
        id: format!("policy-{i:05}"),
        name: format!("Policy {i}"),
        description: String::new(),
        conditions: vec![
            Condition {
                key: "user.roles".into(),
                operator: Operator::Contains,
                values: vec![format!("role-{}", i % 50)],
            },
            Condition {
                key: "client.tags".into(),
                operator: Operator::In,
                values: vec!["ops".into(), format!("team-{}", i % 7)],
            },
        ],
        allows: vec![Allow {
            mcp_server_id: format!("server-{}", i % 20),
            scopes: vec!["notes.read".into(), format!("scope-{}", i % 5)],
        }],
    }
}

async fn timed<F, Fut>(label: &str, runs: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut rows = 0;
    for run in 0..runs {
        let start = Instant::now();
        rows = f(run).await;
        times.push(start.elapsed());
    }
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {label:<46} p50 {:>8.2} ms   p99 {:>8.2} ms   ({rows} rows)",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    );
}

async fn bench(db: &TestDatabase, agents: usize, policies: usize) {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    let started = Instant::now();
    fill_agents(&store, agents).await;
    for i in 0..policies {
        store.insert_policy(&policy(i), NOW).await.expect("policy");
    }
    if db.backend == mandate_core::store::Backend::Postgres {
        sqlx::query("ANALYZE")
            .execute(store.pool())
            .await
            .expect("analyze");
    }
    println!(
        "{:?}: {agents} agents, {policies} policies loaded in {:.1} s",
        db.backend,
        started.elapsed().as_secs_f64()
    );
    let list = |filter: AgentFilter| {
        let store = store.clone();
        async move { store.list_agents(&filter, 51).await.expect("list").len() }
    };
    let first = store
        .list_agents(&AgentFilter::default(), 51)
        .await
        .expect("first");
    timed("first page (50, newest first)", 50, |_| {
        list(AgentFilter::default())
    })
    .await;
    // A page deep in the list: the cursor of an agent in the middle.
    let middle = store
        .list_agents(
            &AgentFilter {
                text: Some(format!("agent-{:07}", agents / 2)),
                ..AgentFilter::default()
            },
            1,
        )
        .await
        .expect("middle");
    let deep = middle
        .first()
        .map(cursor_of)
        .and_then(|c| mandate_core::admin::agents::parse_cursor(&c));
    timed("a page in the middle (keyset cursor)", 50, |_| {
        list(AgentFilter {
            after: deep.clone(),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("kind = dcr", 50, |_| {
        list(AgentFilter {
            kind: Some(AgentKind::Dcr),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("trust = verified", 50, |_| {
        list(AgentFilter {
            trust_level: Some(TrustLevel::Verified),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("tag = ops", 50, |_| {
        list(AgentFilter {
            tag: Some("ops".into()),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("used in the last 7 days", 50, |_| {
        list(AgentFilter {
            used: parse_used("7d", NOW),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("search \"number 4242\" (substring)", 20, |_| {
        list(AgentFilter {
            text: Some("number 4242".into()),
            ..AgentFilter::default()
        })
    })
    .await;
    timed("search with no match (full scan)", 20, |_| {
        list(AgentFilter {
            text: Some("zzz-nothing".into()),
            ..AgentFilter::default()
        })
    })
    .await;
    let _ = first;
    timed("load every policy", 20, |_| {
        let store = store.clone();
        async move { store.policies().await.expect("policies").len() }
    })
    .await;
    let loaded = store.policies().await.expect("policies");
    let subject = Subject {
        user_roles: vec!["role-7".into()],
        user_tenant_ids: vec!["t1".into()],
        client_tags: vec!["ops".into()],
        client_name: "Agent".into(),
        client_trust_level: "dcr".into(),
        ..Subject::default()
    };
    let requested = ScopeSet::from_tokens(["notes.read", "scope-2"]);
    timed("evaluate every policy for one authorization", 50, |_| {
        let e = evaluate(&loaded, &subject, "server-7", &requested);
        async move { e.matched.len() }
    })
    .await;
    store.close().await;
}

fn main() {
    let agents = env_number("ADMIN_BENCH_AGENTS", 100_000);
    let policies = env_number("ADMIN_BENCH_POLICIES", 10_000);
    let backends =
        std::env::var("ADMIN_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if backends.contains("sqlite") {
            bench(&sqlite(), agents, policies).await;
        }
        if backends.contains("postgres") {
            match postgres().await {
                Some(db) => {
                    bench(&db, agents, policies).await;
                    drop_postgres(&db).await;
                }
                None => println!("PostgreSQL: not reachable, skipped"),
            }
        }
    });
}
