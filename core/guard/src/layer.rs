//! The guard as a tower layer in front of an MCP server's HTTP service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use tower::{Layer, Service};

use crate::challenge::Rejection;
use crate::principal::Principal;
use crate::verify::Guard;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body the guarded service receives and the guard answers with.
pub type GuardBody = UnsyncBoxBody<Bytes, BoxError>;

type InnerFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

/// A `tools/call` body larger than this is refused before parsing.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Puts a [`Guard`] in front of a service: every request needs a valid token; the
/// [`Principal`] is in the request's extensions for the handler.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            guard: self.guard.clone(),
            inner,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

fn bearer<B>(request: &Request<B>) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The tool names a JSON-RPC message (or batch) calls.
fn called_tools(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let messages = match value {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    messages
        .iter()
        .filter(|m| m.get("method").and_then(|v| v.as_str()) == Some("tools/call"))
        .filter_map(|m| m.pointer("/params/name").and_then(|v| v.as_str()))
        .map(str::to_owned)
        .collect()
}

fn refuse(guard: &Guard, rejection: Rejection) -> Response<GuardBody> {
    if let Rejection::Unavailable(why) = &rejection {
        tracing::error!(%why, "token check unavailable");
    }
    let config = &guard.config;
    rejection
        .into_response(&config.resource_metadata, config.initial_scope.as_deref())
        .map(|b| Full::new(b).map_err(|never| match never {}).boxed_unsync())
}

impl<S, B, ResBody> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<GuardBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<GuardBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let guard = self.guard.clone();
        // The clone that was made ready is the one called (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match admit(&guard, request).await {
                Ok(request) => {
                    // Boxed where it is made, so the block does not hold `S::Future` itself
                    // (rustc cannot prove an associated future `Send` across an await here).
                    let call: InnerFuture<ResBody, S::Error> = Box::pin(inner.call(request));
                    let response = call.await?;
                    Ok(response.map(|b| b.map_err(Into::into).boxed_unsync()))
                }
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

/// The request with its principal and a body the inner service can read, or the refusal.
async fn admit<B>(
    guard: &Guard,
    request: Request<B>,
) -> Result<Request<GuardBody>, Response<GuardBody>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let Some(token) = bearer(&request).map(str::to_owned) else {
        return Err(refuse(guard, Rejection::Missing));
    };
    let principal: Principal = guard
        .verify(&token)
        .await
        .map_err(|rejection| refuse(guard, rejection))?;
    let (mut parts, body) = request.into_parts();
    let body: GuardBody = if parts.method == Method::POST && !guard.config.tool_scopes.is_empty() {
        let bytes = read_body(body)
            .await
            .ok_or_else(|| refuse(guard, Rejection::invalid("the request body is too large")))?;
        if let Some(rejection) = missing_scope(guard, &principal, &bytes) {
            return Err(refuse(guard, rejection));
        }
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    } else {
        body.map_err(Into::into).boxed_unsync()
    };
    parts.extensions.insert(principal);
    Ok(Request::from_parts(parts, body))
}

async fn read_body<B>(body: B) -> Option<Bytes>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

/// The 403 for the first tool this message calls without its scope.
fn missing_scope(guard: &Guard, principal: &Principal, body: &[u8]) -> Option<Rejection> {
    called_tools(body).into_iter().find_map(|tool| {
        let needed = guard.config.tool_scopes.get(&tool)?;
        (!principal.has_scope(needed))
            .then(|| Rejection::insufficient_scope(&principal.scopes, needed))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_tools_a_message_or_batch_calls() {
        let one =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_note"}}"#;
        assert_eq!(called_tools(one), vec!["create_note"]);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"share_note"}}]"#;
        assert_eq!(called_tools(batch), vec!["share_note"]);
        assert!(called_tools(b"not json").is_empty());
    }

    #[test]
    fn reads_bearer_tokens_case_insensitively() {
        let r = Request::builder()
            .header(AUTHORIZATION, "bearer abc")
            .body(())
            .expect("request");
        assert_eq!(bearer(&r), Some("abc"));
        let r = Request::builder()
            .header(AUTHORIZATION, "Basic abc")
            .body(())
            .expect("request");
        assert_eq!(bearer(&r), None);
    }
}
