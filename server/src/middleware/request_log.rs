//! A request id on every request (`x-request-id`, taken from a trusted proxy or generated)
//! and echoed on the response, a tracing span carrying it, and one log line per request.
//! Only the path is logged, never the query string (it can carry codes or state).

use axum::Router;
use http::{HeaderName, Request};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::{info_span, Span};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids unique across restarts and instances without a random draw per request: a
/// random prefix chosen at start-up and a counter (`3f9a1c2e-000000000042`).
#[derive(Clone)]
struct SequentialIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialIds {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        Self {
            prefix: prefix.into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        http::HeaderValue::from_str(&format!("{}-{n:012}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Wraps `router` with request ids and per-request logging.
pub fn layer(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, SequentialIds::new()))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request<_>| {
                        let request_id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        info_span!(
                            "request",
                            method = %req.method(),
                            path = %req.uri().path(),
                            request_id = %request_id,
                        )
                    })
                    .on_request(())
                    .on_response(|res: &http::Response<_>, latency: Duration, _span: &Span| {
                        tracing::info!(
                            status = res.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "served"
                        );
                    })
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
}
