//! Requests as parsed from form or query pairs. Parsing refuses repeated parameters
//! (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once").

use std::collections::HashMap;

use super::error::OAuthError;

/// Form or query parameters with at most one value each.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Collects pairs; a repeated name is refused, naming it.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            // No OAuth parameter holds a NUL character (a `%00`), and PostgreSQL's text could
            // not store or even look one up: refused here as a malformed request.
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::invalid_request(
                    "parameters must not contain NUL characters",
                ));
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {k} is repeated"
                )));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }
}

/// An authorization request (RFC 6749 §4.1.1 with RFC 7636, RFC 8707 and OIDC hints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub nonce: Option<String>,
    pub login_hint: Option<String>,
    /// Mandate's tenant hint: a tenant slug or id.
    pub tenant: Option<String>,
}

impl AuthorizationRequest {
    pub fn from_params(p: &Params) -> Self {
        let get = |name: &str| p.get(name).map(str::to_owned);
        Self {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            scope: get("scope"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            resource: get("resource"),
            nonce: get("nonce"),
            login_hint: get("login_hint"),
            tenant: get("tenant"),
        }
    }
}

/// A token request, by grant type (RFC 6749 §4.1.3, §6, §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
        resource: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
        resource: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
        resource: Option<String>,
    },
}

impl TokenRequest {
    pub fn from_params(p: &Params) -> Result<Self, OAuthError> {
        let get = |name: &str| p.get(name).map(str::to_owned);
        match p.require("grant_type")? {
            "authorization_code" => Ok(Self::AuthorizationCode {
                code: p.require("code")?.to_owned(),
                redirect_uri: get("redirect_uri"),
                code_verifier: get("code_verifier"),
                resource: get("resource"),
            }),
            "refresh_token" => Ok(Self::RefreshToken {
                refresh_token: p.require("refresh_token")?.to_owned(),
                scope: get("scope"),
                resource: get("resource"),
            }),
            "client_credentials" => Ok(Self::ClientCredentials {
                scope: get("scope"),
                resource: get("resource"),
            }),
            other => Err(OAuthError::new(
                super::ErrorCode::UnsupportedGrantType,
                format!("grant_type {other} is not supported"),
            )),
        }
    }

    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    #[test]
    fn nul_characters_make_a_malformed_request() {
        for pairs in [[("client_id", "a\0b")], [("sco\0pe", "read")]] {
            let err = Params::from_pairs(pairs).expect_err("NUL");
            assert_eq!(err.code, ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = Params::from_pairs([("scope", "a"), ("scope", "b")]).expect_err("repeat");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(err.description.contains("scope"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::from_pairs([("state", "")]).expect("pairs");
        assert_eq!(p.get("state"), None);
        assert!(p.require("state").is_err());
    }

    #[test]
    fn token_requests_parse_by_grant_type() {
        let p = Params::from_pairs([("grant_type", "refresh_token"), ("refresh_token", "r")])
            .expect("pairs");
        assert!(matches!(
            TokenRequest::from_params(&p),
            Ok(TokenRequest::RefreshToken { .. })
        ));
        let p = Params::from_pairs([("grant_type", "password")]).expect("pairs");
        assert_eq!(
            TokenRequest::from_params(&p).expect_err("grant").code,
            ErrorCode::UnsupportedGrantType
        );
        let p = Params::from_pairs([("grant_type", "authorization_code")]).expect("pairs");
        assert_eq!(
            TokenRequest::from_params(&p).expect_err("code").code,
            ErrorCode::InvalidRequest
        );
        let p = Params::from_pairs([("code", "x")]).expect("pairs");
        assert_eq!(
            TokenRequest::from_params(&p).expect_err("missing").code,
            ErrorCode::InvalidRequest
        );
    }
}
