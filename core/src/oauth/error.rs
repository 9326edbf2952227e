//! One error type for every OAuth endpoint. `server/src/error.rs` alone turns it into HTTP.

use std::fmt;

/// The `error` codes Mandate sends, each from the RFC that defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2: malformed or missing parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (HTTP 401 at the token endpoint).
    InvalidClient,
    /// RFC 6749 §5.2: code or refresh token invalid, expired, revoked, or issued to another client.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1, §5.2: the client may not use this grant or response type.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1, §5.2: scope unknown, malformed, or beyond what is allowed.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the resource owner or server denied the request.
    AccessDenied,
    /// RFC 8707 §2: the `resource` is invalid or not served by this issuer.
    InvalidTarget,
    /// RFC 7591 §3.2.2: a redirect URI in registration metadata is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: some other registration metadata is not acceptable.
    InvalidClientMetadata,
    /// RFC 6750 §3.1: the access token presented is not valid (userinfo, registration management).
    InvalidToken,
    /// RFC 6749 §4.1.2.1: an unexpected condition; details only in the logs.
    ServerError,
    /// RFC 6749 §4.1.2.1: overloaded or rate limited.
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An OAuth error: the code and description the client sees, and what only the logs see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Safe to show to the client (`error_description`).
    pub description: String,
    /// For the logs only.
    pub internal: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            internal: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// A failure of ours (database, crypto): generic to the client, detailed in the logs.
    pub fn server_error(internal: impl fmt::Display) -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "the authorization server could not complete the request".into(),
            internal: Some(internal.to_string()),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<crate::error::CoreError> for OAuthError {
    fn from(e: crate::error::CoreError) -> Self {
        Self::server_error(e)
    }
}
