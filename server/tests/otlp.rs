//! With the `otlp` feature and `MANDATE_OTLP_ENDPOINT`, request spans (with their request id)
//! reach an OTLP/HTTP collector. Its own test binary: the tracing subscriber is global.

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use mandate_core::testing::sqlite;
use mandate_server::config::Config;
use support::{client, TestServer};
use tokio::sync::Mutex;

/// What the collector received: content type and body of each POST.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_are_exported_to_the_collector() {
    let received: Received = Arc::default();
    let sink = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                sink.lock().await.push((kind, body.to_vec()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, collector).await;
    });

    let env: BTreeMap<String, String> = [("MANDATE_OTLP_ENDPOINT".to_owned(), endpoint)]
        .into_iter()
        .collect();
    let config = Config::from_sources(None, &env).expect("config");
    mandate_server::telemetry::init(&config);

    let db = sqlite();
    let server = TestServer::start(&db).await;
    let res = client()
        .get(server.url("/healthz"))
        .header("x-request-id", "otlp-trace-test-4711")
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
    server.stop().await;
    tokio::task::spawn_blocking(mandate_server::telemetry::flush)
        .await
        .expect("flush");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = received.lock().await.clone();
        if let Some((kind, body)) = got
            .iter()
            .find(|(_, b)| b.windows(20).any(|w| w == b"otlp-trace-test-4711"))
        {
            assert_eq!(kind, "application/x-protobuf");
            assert!(
                body.windows(7).any(|w| w == b"mandate"),
                "the service name is in the resource"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no exported span carried the request id ({} bodies)",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
