//! Prometheus metrics, served on their own listener (`MANDATE_METRICS_BIND`) so they are never
//! on the public port: requests by route and status, latency histograms, tokens issued by grant
//! type, consent outcomes, the audit writer's queue depth and batches, and the database pool's
//! use.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Request latency buckets, in seconds: token endpoints answer in single milliseconds, pages
/// and argon2 sign-ins in tens to hundreds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder (installed on first use; `None` if another recorder was installed).
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// Drains the recorder's histogram buffers now and then (the exporter leaves this to its
/// user; without it they grow with every request).
pub fn spawn_upkeep(period: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Some(handle) = handle() {
                handle.run_upkeep();
            }
        }
    })
}

/// Counts and times every request by method, matched route (never the raw path: ids and
/// tokens stay out of label values) and status.
pub async fn track(request: Request, next: Next) -> Response {
    // Label values are shared, not copied: one allocation per request (the route).
    let route: Arc<str> = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| Arc::from("unmatched"), |p| Arc::from(p.as_str()));
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = status_label(response.status());
    metrics::counter!("http_requests_total", "method" => method, "route" => SharedString::from(route.clone()), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => SharedString::from(route))
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label; methods outside the standard set share one value, so a client
/// cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status code as a label, without an allocation for the codes Mandate answers with.
fn status_label(status: StatusCode) -> SharedString {
    static COMMON: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (302, "302"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (413, "413"),
        (415, "415"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
    ];
    match COMMON.iter().find(|(code, _)| *code == status.as_u16()) {
        Some((_, label)) => SharedString::const_str(label),
        None => SharedString::from(status.as_u16().to_string()),
    }
}

/// A token was issued (`grant_type` as in the token request).
pub fn token_issued(grant_type: &'static str) {
    metrics::counter!("mandate_tokens_issued_total", "grant_type" => grant_type).increment(1);
}

/// A person answered a consent page (`granted` or `denied`).
pub fn consent(outcome: &'static str) {
    metrics::counter!("mandate_consents_total", "outcome" => outcome).increment(1);
}

async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = handle() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not available in this process",
        )
            .into_response();
    };
    let pool = state.store.pool();
    metrics::gauge!("mandate_db_pool_connections").set(f64::from(pool.size()));
    metrics::gauge!("mandate_db_pool_idle_connections").set(pool.num_idle() as f64);
    metrics::gauge!("mandate_audit_queue_depth").set(state.audit.queue_depth() as f64);
    // Group commit at a glance: events ÷ batches is the mean batch, commit time ÷ batches the
    // mean time to write one (both rates over the same window).
    let audit = state.audit.writer_stats();
    metrics::counter!("mandate_audit_batches_total").absolute(audit.batches);
    metrics::counter!("mandate_audit_events_written_total").absolute(audit.events);
    metrics::counter!("mandate_audit_commit_microseconds_total").absolute(audit.commit_micros);
    metrics::counter!("mandate_audit_batches_failed_total").absolute(audit.failed_batches);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// The metrics listener's application: `GET /metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(state)
}
