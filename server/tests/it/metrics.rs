//! `/metrics` on its own listener: request counts and latencies by route (the route pattern,
//! never the raw path), consents and tokens by outcome and grant type, and the gauges and
//! audit-writer counters read at scrape time.

use crate::journey::redeem;
use crate::oauth_flow::{authorize_url, register_public, RESOURCE};
use crate::steps::walk_journey;
use crate::support::{browser, client, TestServer};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::seed::seed_demo;
use mandate_core::testing::sqlite;

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_in_prometheus_text_format() {
    let db = sqlite();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let server = TestServer::start_with(
        &db,
        &[("MANDATE_METRICS_BIND", format!("127.0.0.1:{port}"))],
    )
    .await;
    let res = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
    // A whole authorization: a consent granted and a token issued.
    let password = seed_demo(&server.store, &PasswordHasherPool::new(1), RESOURCE, 1)
        .await
        .expect("seed")
        .user_password
        .expect("password");
    let client_id = register_public(&server).await;
    let start = authorize_url(&server, &client_id, "notes.read", "s");
    let back = walk_journey(
        &server,
        &browser(),
        &start,
        &password,
        "Acme Corp",
        &["notes.read"],
    )
    .await;
    redeem(&server, &client_id, &back).await;
    assert_eq!(
        client()
            .get(server.url("/metrics"))
            .send()
            .await
            .expect("get")
            .status(),
        404,
        "not on the public port"
    );
    let res = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let text = res.text().await.expect("body");
    for line in [
        "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.005\"}",
        "http_requests_total{method=\"GET\",route=\"/s/{slug}/authorize\",status=\"303\"}",
        "mandate_consents_total{outcome=\"granted\"}",
        "mandate_tokens_issued_total{grant_type=\"authorization_code\"}",
        "mandate_db_pool_connections ",
        "mandate_audit_queue_depth ",
        "mandate_audit_commit_microseconds_total ",
        "mandate_audit_batches_failed_total 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    // The journey's events (sign-in, consent, code, token…) were committed in batches.
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    let (batches, events) = (
        value("mandate_audit_batches_total"),
        value("mandate_audit_events_written_total"),
    );
    assert!(
        batches >= 1 && events >= 4 && events >= batches,
        "{batches} batches, {events} events"
    );
    server.stop().await;
}
