//! No request whose URL cannot be read as text reaches a handler: a URL carrying a NUL
//! character (`%00`, in its path or its query), or a path that is not UTF-8 once decoded.
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

use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use mandate_core::oauth::OAuthError;
use percent_encoding::percent_decode_str;
use tower::{Layer, Service};

use crate::error::JsonError;
use crate::pages::error_page;
use crate::routes::api_v1::ApiError;

/// Refuses requests whose URL cannot be read as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefuseUnreadableUrls;

impl<S> Layer<S> for RefuseUnreadableUrls {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded { inner }
    }
}

/// A service behind [`RefuseUnreadableUrls`].
#[derive(Debug, Clone)]
pub struct Guarded<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Guarded<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if carries_nul(req.uri()) || !path_is_utf8(req.uri().path()) {
            Either::Left(ready(Ok(refusal(&req))))
        } else {
            Either::Right(self.inner.call(req))
        }
    }
}

/// Whether the URL decodes to text with a NUL. A NUL can only arrive percent-encoded (the
/// request line cannot hold the byte), and `%00` is the only encoding of it.
fn carries_nul(uri: &axum::http::Uri) -> bool {
    let holds = |text: &str| text.as_bytes().windows(3).any(|w| w == b"%00");
    holds(uri.path()) || uri.query().is_some_and(holds)
}

/// Whether the path is UTF-8 text once percent-decoded.
fn path_is_utf8(path: &str) -> bool {
    !path.contains('%') || percent_decode_str(path).decode_utf8().is_ok()
}

fn refusal<B>(req: &Request<B>) -> Response {
    const MESSAGE: &str =
        "The URL cannot be read: it contains a NUL character (%00) or a path that is not UTF-8.";
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
    use super::{carries_nul, path_is_utf8};

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
}
