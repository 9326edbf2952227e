use std::sync::Arc;

use super::*;
use crate::audit::{ActorKind, AuditEvent, AuditLog, RequestContext};
use crate::clock::FixedClock;
use crate::testing::each_backend;

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

/// 40 events, one every 6 minutes from T0 (4 hours): agents a0..a3 in turn, tenants t0/t1 in
/// turn, every fifth a failed sign-in, request ids r0..r39.
async fn fill(store: &Store) {
    let clock = Arc::new(FixedClock::at(T0));
    let log = AuditLog::spawn(store.clone(), clock.clone());
    for i in 0..40 {
        let (kind, outcome) = if i % 5 == 0 {
            (EventType::SignInFailed, Outcome::Failure)
        } else {
            (EventType::TokenIssued, Outcome::Success)
        };
        let event = AuditEvent::new(kind, outcome, ActorKind::Agent)
            .agent(format!("a{}", i % 4))
            .tenant(Some(format!("t{}", i % 2)))
            .server("s1")
            .context(&RequestContext {
                request_id: Some(format!("r{i}")),
                ..RequestContext::default()
            });
        log.record(event).await.expect("record");
        clock.advance_ms(6 * 60_000);
    }
}

fn seqs(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn filters_select_exactly_the_matching_events_newest_first() {
    for db in each_backend().await {
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        fill(&store).await;

        let all = newest_first(&store, &AuditFilter::default(), None, 100)
            .await
            .expect("all");
        assert_eq!(all.len(), 40);
        assert_eq!(all[0].seq, 40, "newest first");

        let by_agent = AuditFilter {
            agent_id: Some("a1".into()),
            ..AuditFilter::default()
        };
        let page = newest_first(&store, &by_agent, None, 100).await.expect("q");
        assert_eq!(seqs(&page), vec![38, 34, 30, 26, 22, 18, 14, 10, 6, 2]);
        assert!(page.iter().all(|e| e.agent_id.as_deref() == Some("a1")));

        // Keyset pages: 4, then 4 before the last one shown, then the rest.
        let first = newest_first(&store, &by_agent, None, 4).await.expect("p1");
        let second = newest_first(&store, &by_agent, Some(first[3].seq), 4)
            .await
            .expect("p2");
        assert_eq!(seqs(&second), vec![22, 18, 14, 10]);

        let failures = AuditFilter {
            event_types: vec![EventType::SignInFailed],
            outcome: Some(Outcome::Failure),
            ..AuditFilter::default()
        };
        let page = newest_first(&store, &failures, None, 100).await.expect("q");
        assert_eq!(seqs(&page), vec![36, 31, 26, 21, 16, 11, 6, 1]);

        let by_request = AuditFilter {
            id: Some("r7".into()),
            ..AuditFilter::default()
        };
        let page = newest_first(&store, &by_request, None, 100)
            .await
            .expect("q");
        assert_eq!(seqs(&page), vec![8]);

        let nothing = AuditFilter {
            agent_id: Some("a1".into()),
            tenant_id: Some("t0".into()),
            ..AuditFilter::default()
        };
        assert!(newest_first(&store, &nothing, None, 100)
            .await
            .expect("q")
            .is_empty());
    }
}

#[tokio::test]
async fn a_time_range_selects_its_events_only() {
    for db in each_backend().await {
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        fill(&store).await;
        // The second hour: events 11..=20 (at T0 + 60 min .. T0 + 114 min).
        let hour = AuditFilter {
            from: Some(T0 + HOUR),
            to: Some(T0 + 2 * HOUR),
            ..AuditFilter::default()
        };
        let page = newest_first(&store, &hour, None, 100).await.expect("q");
        assert_eq!(seqs(&page), (11..=20).rev().collect::<Vec<_>>());
        let later = AuditFilter {
            from: Some(T0 + 10 * HOUR),
            ..AuditFilter::default()
        };
        assert!(newest_first(&store, &later, None, 100)
            .await
            .expect("q")
            .is_empty());
        let ascending = oldest_first(&store, &hour, Some(15), 3).await.expect("q");
        assert_eq!(seqs(&ascending), vec![16, 17, 18]);
    }
}

#[tokio::test]
async fn a_tenant_restriction_hides_every_other_tenant_and_the_project() {
    for db in each_backend().await {
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        fill(&store).await;
        let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
        log.record(AuditEvent::new(
            EventType::KeysRotated,
            Outcome::Success,
            ActorKind::System,
        ))
        .await
        .expect("project-wide event");
        let t1_only = AuditFilter {
            tenants: Some(vec!["t1".into()]),
            ..AuditFilter::default()
        };
        let page = newest_first(&store, &t1_only, None, 100).await.expect("q");
        assert_eq!(page.len(), 20);
        assert!(page.iter().all(|e| e.tenant_id.as_deref() == Some("t1")));
        // Asking for another tenant inside the restriction still finds nothing.
        let prying = AuditFilter {
            tenant_id: Some("t0".into()),
            ..t1_only.clone()
        };
        assert!(newest_first(&store, &prying, None, 100)
            .await
            .expect("q")
            .is_empty());
        let none = AuditFilter {
            tenants: Some(vec![]),
            ..AuditFilter::default()
        };
        assert!(newest_first(&store, &none, None, 100)
            .await
            .expect("q")
            .is_empty());
    }
}

#[tokio::test]
async fn hourly_counts_and_top_tables_add_up() {
    for db in each_backend().await {
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        fill(&store).await;
        let counts = hourly_counts(&store, &AuditFilter::default(), &[EventType::TokenIssued])
            .await
            .expect("counts");
        assert_eq!(counts.iter().map(|c| c.count).sum::<i64>(), 32);
        assert!(counts.iter().all(|c| c.event_type == "token.issued"));
        let first_hour = T0 / HOUR * HOUR;
        assert!(counts.iter().any(|c| c.hour == first_hour));

        let top_agents = top(&store, &AuditFilter::default(), RankBy::Agent, 2)
            .await
            .expect("top");
        assert_eq!(top_agents.len(), 2);
        assert_eq!(top_agents[0].1, 10);
        let servers = top(&store, &AuditFilter::default(), RankBy::McpServer, 5)
            .await
            .expect("top");
        assert_eq!(servers, vec![("s1".to_owned(), 40)]);

        let one = event(&store, 8).await.expect("event").expect("exists");
        assert_eq!(one.request_id.as_deref(), Some("r7"));
        assert_eq!(head_seq(&store).await.expect("head"), 40);
    }
}
