//! Security headers on every response. Pages get a per-request nonce CSP ([`page_csp`]);
//! everything else gets a CSP that allows nothing, since JSON, redirects and static files never
//! need to run or embed anything.
//!
//! The page CSP is this middleware's own: it hands every request a [`PageNonce`] slot, the
//! render writes the nonce its scripts carry into it, and the CSP is set here from that slot.
//! The header therefore never depends on the render's response options reaching the response;
//! a page served without its nonce CSP loads dead (the browser blocks its hydration script).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// CSP for anything that is not a rendered page.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// CSP for a rendered page: scripts only from this origin or carrying this response's nonce
/// (the hydration bootstrap), wasm compilation allowed, images also over https (agents'
/// logos on the consent page), no framing (clickjacking on consent screens is the classic
/// attack on authorization servers: RFC 9700 §4.16).
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: https:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Where a page render leaves the nonce its scripts carry, for [`WithSecurityHeaders`] to put
/// in the CSP. Every request gets an empty one in its extensions; only a page render fills it.
#[derive(Debug, Clone, Default)]
pub struct PageNonce(Arc<OnceLock<String>>);

impl PageNonce {
    /// Records the render's nonce; the first one wins (a render runs its context once).
    pub fn set(&self, nonce: &str) {
        let _ = self.0.set(nonce.to_owned());
    }

    fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Which optional headers apply to this deployment; as a [`Layer`], adds them all.
#[derive(Debug, Clone, Copy)]
pub struct SecurityHeaders {
    /// Served over https: add HSTS.
    pub hsts: bool,
}

const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

impl<S> Layer<S> for SecurityHeaders {
    type Service = WithSecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithSecurityHeaders {
            inner,
            config: *self,
        }
    }
}

/// The service [`SecurityHeaders`] wraps around the whole application (outside the router, so
/// a request pays for it once rather than once per route layer).
#[derive(Debug, Clone)]
pub struct WithSecurityHeaders<S> {
    inner: S,
    config: SecurityHeaders,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for WithSecurityHeaders<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let nonce = PageNonce::default();
        req.extensions_mut().insert(nonce.clone());
        SecurityHeadersFuture {
            inner: self.inner.call(req),
            nonce,
            config: self.config,
        }
    }
}

pin_project! {
    /// The wrapped service's answer, with the headers added.
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        inner: F,
        nonce: PageNonce,
        config: SecurityHeaders,
    }
}

impl<F, ResBody, E> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        add_headers(response.headers_mut(), this.nonce, *this.config);
        Poll::Ready(Ok(response))
    }
}

/// Adds the headers. A handler that chose a CSP itself keeps it (the static error page);
/// otherwise a page whose render left its nonce gets the page CSP, and anything else the CSP
/// that allows nothing.
fn add_headers(headers: &mut HeaderMap, nonce: &PageNonce, cfg: SecurityHeaders) {
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        let policy = nonce
            .get()
            .filter(|_| is_html(headers))
            .and_then(|n| HeaderValue::from_str(&page_csp(n)).ok())
            .unwrap_or(HeaderValue::from_static(API_CSP));
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(COOP, HeaderValue::from_static("same-origin"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if cfg.hsts {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    /// What a render does with the nonce its scripts carry.
    fn leave_nonce(req: &Request) {
        if let Some(slot) = req.extensions().get::<PageNonce>() {
            slot.set("n0nce");
        }
    }

    /// A stand-in for a page render: fills the slot, sets no CSP of its own.
    async fn render_leaving_nonce(req: Request) -> Response {
        leave_nonce(&req);
        Response::builder()
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from("<script nonce=\"n0nce\"></script>"))
            .unwrap_or_default()
    }

    async fn csp_of(router: Router, path: &str) -> String {
        let router = router.layer(SecurityHeaders { hsts: false });
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("response");
        response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii")
            .to_owned()
    }

    #[tokio::test]
    async fn a_page_gets_the_csp_of_the_nonce_its_render_left() {
        let router = Router::new().route("/", get(render_leaving_nonce));
        assert_eq!(csp_of(router, "/").await, page_csp("n0nce"));
    }

    #[tokio::test]
    async fn a_response_whose_render_left_no_nonce_allows_nothing() {
        let router = Router::new()
            .route("/json", get(|| async { axum::Json(1) }))
            .route(
                "/html",
                get(|| async { axum::response::Html("<p>no script</p>") }),
            );
        assert_eq!(csp_of(router.clone(), "/json").await, API_CSP);
        assert_eq!(csp_of(router, "/html").await, API_CSP);
    }

    #[tokio::test]
    async fn a_nonce_left_on_a_non_page_response_is_not_used() {
        let router = Router::new().route(
            "/api",
            get(|req: Request| async move {
                leave_nonce(&req);
                axum::Json(1)
            }),
        );
        assert_eq!(csp_of(router, "/api").await, API_CSP);
    }

    #[tokio::test]
    async fn a_policy_the_handler_chose_is_kept() {
        let router = Router::new().route(
            "/",
            get(|req: Request| async move {
                let mut response = render_leaving_nonce(req).await;
                response.headers_mut().insert(
                    CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; style-src 'self'"),
                );
                response
            }),
        );
        assert_eq!(
            csp_of(router, "/").await,
            "default-src 'none'; style-src 'self'"
        );
    }

    #[test]
    fn page_csp_allows_only_the_nonce_inline_and_no_framing() {
        let csp = page_csp("abc123");
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
