//! Prometheus metrics, served on their own listener (`MANDATE_METRICS_BIND`) so they are never
//! on the public port: requests by route and status, latency histograms, tokens issued by grant
//! type, consent outcomes, the audit writer's queue depth and batches, and the database pool's
//! use.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

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
/// tokens stay out of label values) and status. A route layer: the matched route is known
/// only once the router has chosen one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Track;

impl<S> Layer<S> for Track {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Tracked { inner }
    }
}

/// A service whose requests [`Track`] counts.
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Tracked<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        TrackedFuture {
            // A shared string (axum keeps one per route): cloning it copies nothing.
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: method_label(request.method()),
            started: Instant::now(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    /// A tracked request's answer, counted when it is ready.
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: &'static str,
        started: Instant,
    }
}

impl<F, ResBody, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        RequestHandles::record(
            route,
            this.method,
            response.status().as_u16(),
            this.started.elapsed().as_secs_f64(),
        );
        Poll::Ready(Ok(response))
    }
}

/// The request counter and latency histogram of one (route, method, status).
struct RequestHandles {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// How many routes a thread keeps handles for; past it, requests take the recorder's lookup
/// (the label set is bounded by the router, so this is only a guard).
const ROUTES_PER_THREAD: usize = 256;

thread_local! {
    /// Handles by route, then (method, status). Looking a metric up in the recorder builds its
    /// key (a label vector), hashes it and takes a shard lock, twice per request: on discovery
    /// and JWKS that was the largest item of the application's own CPU. Each thread remembers
    /// the handles it used.
    static REQUEST_HANDLES: RefCell<HashMap<Box<str>, Vec<RequestHandles>>> =
        RefCell::new(HashMap::new());
}

impl RequestHandles {
    fn register(route: &str, method: &'static str, status: u16) -> Self {
        let route = SharedString::from(route.to_owned());
        Self {
            method,
            status,
            requests: metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status_label(status)),
            duration: metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route),
        }
    }

    fn count(&self, seconds: f64) {
        self.requests.increment(1);
        self.duration.record(seconds);
    }

    /// Counts one request of `route`'s (method, status) in `handles` (that route's kept
    /// handles), registering and keeping its handles the first time.
    fn count_in(
        handles: &mut Vec<RequestHandles>,
        route: &str,
        method: &'static str,
        status: u16,
        seconds: f64,
    ) {
        match handles
            .iter()
            .find(|h| h.status == status && h.method == method)
        {
            Some(found) => found.count(seconds),
            None => {
                let registered = Self::register(route, method, status);
                registered.count(seconds);
                handles.push(registered);
            }
        }
    }

    /// Counts one request of (route, method, status) that took `seconds`.
    fn record(route: &str, method: &'static str, status: u16, seconds: f64) {
        let recorded = REQUEST_HANDLES.try_with(|cell| {
            let Ok(mut routes) = cell.try_borrow_mut() else {
                return false;
            };
            // One lookup per request: a known route's handles are found by `get_mut`; only a
            // route seen for the first time is inserted (its key allocated once).
            if let Some(handles) = routes.get_mut(route) {
                Self::count_in(handles, route, method, status, seconds);
                return true;
            }
            if routes.len() >= ROUTES_PER_THREAD {
                return false;
            }
            let mut handles = Vec::new();
            Self::count_in(&mut handles, route, method, status, seconds);
            routes.insert(route.into(), handles);
            true
        });
        if recorded != Ok(true) {
            Self::register(route, method, status).count(seconds);
        }
    }
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
fn status_label(status: u16) -> SharedString {
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
    match COMMON.iter().find(|(code, _)| *code == status) {
        Some((_, label)) => SharedString::const_str(label),
        None => SharedString::from(status.to_string()),
    }
}

/// A token was issued (`grant_type` as in the token request).
pub fn token_issued(grant_type: &'static str) {
    // The grant types Mandate issues for keep their counter (one registry lookup each, ever).
    static ISSUED: [(&str, OnceLock<Counter>); 4] = [
        ("authorization_code", OnceLock::new()),
        ("refresh_token", OnceLock::new()),
        ("client_credentials", OnceLock::new()),
        ("token_exchange", OnceLock::new()),
    ];
    let counter = |grant_type: &'static str| metrics::counter!("mandate_tokens_issued_total", "grant_type" => grant_type);
    match ISSUED.iter().find(|(known, _)| *known == grant_type) {
        Some((known, cached)) => cached.get_or_init(|| counter(known)).increment(1),
        None => counter(grant_type).increment(1),
    }
}

/// A person answered a consent page (`granted` or `denied`).
pub fn consent(outcome: &'static str) {
    metrics::counter!("mandate_consents_total", "outcome" => outcome).increment(1);
}

async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use tower::ServiceExt;

    /// How many (method, status) handles this thread keeps for `route`.
    fn handles_for(route: &str) -> usize {
        REQUEST_HANDLES.with(|cell| cell.borrow().get(route).map_or(0, Vec::len))
    }

    fn app() -> Router {
        Router::new()
            .route("/probe/{id}", get(|| async { "ok" }))
            .route(
                "/teapot",
                get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
            )
            .layer(Track)
    }

    async fn get_status(app: &Router, path: &str) -> StatusCode {
        app.clone()
            .oneshot(
                Request::builder()
                    .uri(path)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible")
            .status()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_route_s_requests_share_its_handles_whatever_the_path() {
        let app = app();
        for id in 0..50 {
            assert_eq!(
                get_status(&app, &format!("/probe/{id}")).await,
                StatusCode::OK
            );
        }
        assert_eq!(handles_for("/probe/{id}"), 1);
        assert_eq!(get_status(&app, "/teapot").await, StatusCode::IM_A_TEAPOT);
        assert_eq!(get_status(&app, "/teapot").await, StatusCode::IM_A_TEAPOT);
        assert_eq!(handles_for("/teapot"), 1);
        assert_eq!(get_status(&app, "/nowhere").await, StatusCode::NOT_FOUND);
        assert_eq!(get_status(&app, "/elsewhere").await, StatusCode::NOT_FOUND);
        assert_eq!(handles_for("unmatched"), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_method_and_status_of_a_route_has_its_own_handles() {
        let app = Router::new()
            .route(
                "/either/{ok}",
                get(
                    |axum::extract::Path(ok): axum::extract::Path<bool>| async move {
                        if ok {
                            StatusCode::OK
                        } else {
                            StatusCode::CONFLICT
                        }
                    },
                )
                .post(|| async { StatusCode::CREATED }),
            )
            .layer(Track);
        assert_eq!(get_status(&app, "/either/true").await, StatusCode::OK);
        assert_eq!(
            get_status(&app, "/either/false").await,
            StatusCode::CONFLICT
        );
        assert_eq!(get_status(&app, "/either/true").await, StatusCode::OK);
        let posted = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(Method::POST)
                    .uri("/either/true")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(posted.status(), StatusCode::CREATED);
        REQUEST_HANDLES.with(|cell| {
            let routes = cell.borrow();
            let mut seen: Vec<_> = routes["/either/{ok}"]
                .iter()
                .map(|h| (h.method, h.status))
                .collect();
            seen.sort();
            assert_eq!(seen, [("GET", 200), ("GET", 409), ("POST", 201)]);
        });
    }

    #[test]
    fn status_labels_are_the_code_in_decimal() {
        assert_eq!(&*status_label(200), "200");
        assert_eq!(&*status_label(429), "429");
        assert_eq!(&*status_label(418), "418");
        assert_eq!(&*status_label(599), "599");
    }
}
