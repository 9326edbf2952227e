//! Why a request is refused, and the challenge that says so (RFC 6750 §3, RFC 9728 §5.1, MCP
//! authorization "Scope Challenge Handling").

use std::collections::BTreeSet;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

/// Why the guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No bearer token: a 401 that names only the resource metadata (RFC 6750 §3.1: no error
    /// code when the request had no credentials).
    #[error("no access token")]
    Missing,
    /// A token that is not valid here.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A valid token without the scope the call needs; `scope` is what to ask for.
    #[error("insufficient scope: needs {needed}")]
    InsufficientScope { needed: String, scope: String },
    /// The issuer's keys cannot be had right now.
    #[error("cannot check tokens now: {0}")]
    Unavailable(String),
}

impl Rejection {
    pub(crate) fn invalid(why: &str) -> Self {
        Self::Invalid(why.to_owned())
    }

    /// The 403 for a call needing `needed`: the challenge asks for what the token already has
    /// plus `needed`, so re-authorizing does not lose the scopes the agent holds.
    pub fn insufficient_scope(held: &BTreeSet<String>, needed: &str) -> Self {
        let mut scopes = held.clone();
        scopes.insert(needed.to_owned());
        Self::InsufficientScope {
            needed: needed.to_owned(),
            scope: scopes.into_iter().collect::<Vec<_>>().join(" "),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Invalid(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `WWW-Authenticate` value; `initial_scope` is named when the request had no token.
    pub fn challenge(&self, resource_metadata: &str, initial_scope: Option<&str>) -> String {
        let metadata = format!("resource_metadata=\"{}\"", quoted(resource_metadata));
        match self {
            Self::Missing => match initial_scope {
                Some(scope) => format!("Bearer {metadata}, scope=\"{}\"", quoted(scope)),
                None => format!("Bearer {metadata}"),
            },
            Self::Invalid(why) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", {metadata}",
                quoted(why)
            ),
            Self::InsufficientScope { needed, scope } => format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\", error_description=\"{}\", {metadata}",
                quoted(scope),
                quoted(&format!("this call needs the {needed} scope"))
            ),
            Self::Unavailable(_) => format!(
                "Bearer error=\"temporarily_unavailable\", {metadata}"
            ),
        }
    }

    /// The whole response: status, challenge, and a small JSON body saying the same.
    pub fn into_response(
        self,
        resource_metadata: &str,
        initial_scope: Option<&str>,
    ) -> Response<Bytes> {
        let (error, description) = match &self {
            Self::Missing => ("unauthorized", "an access token is required".to_owned()),
            Self::Invalid(why) => ("invalid_token", why.clone()),
            Self::InsufficientScope { needed, .. } => (
                "insufficient_scope",
                format!("this call needs the {needed} scope"),
            ),
            Self::Unavailable(_) => (
                "temporarily_unavailable",
                "tokens cannot be checked right now".to_owned(),
            ),
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.challenge(resource_metadata, initial_scope))
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Escapes a value for a quoted-string (RFC 9110 §5.6.4).
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750_and_rfc_9728() {
        let meta = "http://localhost:4000/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            Rejection::Missing.challenge(meta, None),
            format!("Bearer resource_metadata=\"{meta}\"")
        );
        assert_eq!(
            Rejection::Missing.challenge(meta, Some("notes.read")),
            format!("Bearer resource_metadata=\"{meta}\", scope=\"notes.read\"")
        );
        let held = ["notes.read".to_owned()].into_iter().collect();
        let r = Rejection::insufficient_scope(&held, "notes.write");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r
            .challenge(meta, None)
            .starts_with("Bearer error=\"insufficient_scope\", scope=\"notes.read notes.write\""));
        let r = Rejection::invalid("say \"hi\"");
        assert!(r
            .challenge(meta, None)
            .contains("error_description=\"say \\\"hi\\\"\""));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}
