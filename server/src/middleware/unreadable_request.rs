//! No request that cannot be read as text reaches a handler: a URL carrying a NUL character
//! (`%00`, in its path or its query), a path that is not UTF-8 once decoded, or a call of one
//! of the pages' server functions (`POST /api/{name}`, arguments as a form) with a NUL in its
//! arguments.
//! Nothing Mandate reads from a URL (ids, slugs, emails, scopes, filters, cursors, OAuth
//! parameters) may hold a NUL, and PostgreSQL's text can neither store nor compare one: a
//! lookup with it fails the whole query, which answered 500 where SQLite answered "not found".
//! A path segment that is not UTF-8 made axum's path extractor answer in plain text, which
//! neither OAuth clients nor the admin API's callers read. Refusing at the edge covers every
//! route, present and future, in one place.
//!
//! The refusal speaks the caller's format: the admin API's error envelope under `/api/v1/`, a
//! readable page for a browser (`Accept: text/html`), and otherwise RFC 6749 §5.2 JSON
//! (`invalid_request`), what OAuth clients and MCP clients read.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use mandate_core::oauth::OAuthError;
use percent_encoding::percent_decode_str;
use tower::{Layer, Service};

use crate::error::JsonError;
use crate::pages::error_page;
use crate::routes::api_v1::ApiError;

/// Refuses requests that cannot be read as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefuseUnreadableRequests;

impl<S> Layer<S> for RefuseUnreadableRequests {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded { inner }
    }
}

/// A service behind [`RefuseUnreadableRequests`].
#[derive(Debug, Clone)]
pub struct Guarded<S> {
    inner: S,
}

/// The most a server function's arguments may take (they are ids and filters).
const SERVER_FN_ARGUMENTS_LIMIT: usize = 64 * 1024;

impl<S> Service<Request<Body>> for Guarded<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Either<Ready<Result<Response, Infallible>>, S::Future>,
        BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if carries_nul(req.uri()) || !path_is_utf8(req.uri().path()) {
            return Either::Left(Either::Left(ready(Ok(refusal(&req)))));
        }
        if !is_server_fn_call(&req) {
            return Either::Left(Either::Right(self.inner.call(req)));
        }
        // The arguments are read here, checked, and handed on; the service made ready above
        // goes with them (a clone takes its place).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let arguments = match axum::body::to_bytes(body, SERVER_FN_ARGUMENTS_LIMIT).await {
                Ok(bytes) if !form_carries_nul(&bytes) => bytes,
                _ => return Ok(refusal(&Request::from_parts(parts, ()))),
            };
            inner
                .call(Request::from_parts(parts, Body::from(arguments)))
                .await
        }))
    }
}

/// A call of a pages' server function: Leptos serves them under `/api/`, beside the admin
/// REST API's `/api/v1/`.
fn is_server_fn_call<B>(req: &Request<B>) -> bool {
    let path = req.uri().path();
    req.method() == Method::POST && path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

/// Whether a form body decodes to text with a NUL (or holds the byte itself).
fn form_carries_nul(body: &[u8]) -> bool {
    body.contains(&0) || holds_encoded_nul(body)
}

/// Whether the URL decodes to text with a NUL. A NUL can only arrive percent-encoded (the
/// request line cannot hold the byte).
fn carries_nul(uri: &axum::http::Uri) -> bool {
    holds_encoded_nul(uri.path().as_bytes())
        || uri.query().is_some_and(|q| holds_encoded_nul(q.as_bytes()))
}

/// Whether percent-encoded text holds `%00`, the only encoding of a NUL.
fn holds_encoded_nul(text: &[u8]) -> bool {
    text.windows(3).any(|w| w == b"%00")
}

/// Whether the path is UTF-8 text once percent-decoded.
fn path_is_utf8(path: &str) -> bool {
    !path.contains('%') || percent_decode_str(path).decode_utf8().is_ok()
}

fn refusal<B>(req: &Request<B>) -> Response {
    const MESSAGE: &str = "The request cannot be read: a NUL character (%00) in its URL or \
                           arguments, a path that is not UTF-8, or arguments over 64 KiB.";
    if req.uri().path().starts_with("/api/v1/") {
        return ApiError::BadRequest(MESSAGE.to_owned()).into_response();
    }
    let browser = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        error_page(
            StatusCode::BAD_REQUEST,
            "This address cannot be read",
            "It contains a NUL character (%00) or characters that are not text, which no page \
             of Mandate takes. Check the link you followed.",
        )
    } else {
        JsonError(OAuthError::invalid_request(MESSAGE)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{carries_nul, form_carries_nul, is_server_fn_call, path_is_utf8};
    use axum::http::{Method, Request};

    #[test]
    fn only_an_encoded_nul_in_the_path_or_query_counts() {
        let nul = |uri: &str| carries_nul(&uri.parse().expect("uri"));
        assert!(nul("/api/v1/users/%00"));
        assert!(nul("/s/demo%00notes/jwks.json"));
        assert!(nul("/admin/audit?agent=a%00b"));
        assert!(nul("/x?%00=1"));
        assert!(!nul("/admin/audit?agent=100%25"));
        assert!(
            !nul("/a%2500b?q=%2500"),
            "an encoded percent sign followed by 00"
        );
        assert!(!nul("/s/demo-notes/token"));
        assert!(!nul("/x?q=%0A%01"));
    }

    #[test]
    fn a_path_must_decode_to_utf8() {
        assert!(path_is_utf8("/s/demo-notes/token"));
        assert!(path_is_utf8("/admin/users/j%C3%BCrgen%40example.com"));
        assert!(path_is_utf8("/a%2Fb"));
        assert!(!path_is_utf8("/s/%FF/token"));
        assert!(!path_is_utf8("/api/v1/users/%C3"), "a truncated sequence");
        assert!(!path_is_utf8("/api/v1/users/%ED%A0%80"), "a surrogate");
    }

    #[test]
    fn server_function_calls_are_posts_under_api_but_not_the_rest_api() {
        let call = |method: Method, path: &str| {
            let req = Request::builder().method(method).uri(path).body(());
            is_server_fn_call(&req.expect("request"))
        };
        assert!(call(Method::POST, "/api/agents_screen"));
        assert!(!call(Method::GET, "/api/agents_screen"));
        assert!(!call(Method::POST, "/api/v1/agents"));
        assert!(!call(Method::POST, "/s/demo-notes/token"));
    }

    #[test]
    fn a_form_with_an_encoded_or_raw_nul_carries_one() {
        assert!(form_carries_nul(b"id=%00"));
        assert!(form_carries_nul(b"id=a\0b"));
        assert!(!form_carries_nul(b"id=100%25&q=%2500"));
        assert!(!form_carries_nul(b""));
    }
}
