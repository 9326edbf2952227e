//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
//! `none` for public clients, `client_secret_basic` and `client_secret_post` for confidential
//! ones, secrets compared by hash in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::OAuthError;
use crate::model::{Agent, ClientType};
use crate::secret::{Secret, SecretHash};

/// What the request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedClient {
    /// Only a `client_id` (public clients).
    Public { client_id: String },
    /// `Authorization: Basic` (RFC 6749 §2.3.1).
    Basic { client_id: String, secret: Secret },
    /// `client_id` and `client_secret` in the form body.
    Post { client_id: String, secret: Secret },
}

impl PresentedClient {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Public { client_id }
            | Self::Basic { client_id, .. }
            | Self::Post { client_id, .. } => client_id,
        }
    }

    /// Reads the credentials from an `Authorization` header value and the form fields.
    /// Using more than one method is refused (RFC 6749 §2.3: "MUST NOT use more than one").
    pub fn from_request(
        authorization: Option<&str>,
        form_client_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        if let Some(header) = authorization {
            let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(
                    "only Basic client authentication is supported",
                ));
            }
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not Basic and client_secret together",
                ));
            }
            let decoded = STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            // §2.3.1: both parts are form-urlencoded before base64.
            let id = form_decode(id)?;
            let secret = form_decode(secret)?;
            if let Some(form_id) = form_client_id {
                if form_id != id {
                    return Err(OAuthError::invalid_request(
                        "client_id differs from the Basic credentials",
                    ));
                }
            }
            return Ok(Self::Basic {
                client_id: id,
                secret: Secret::presented(secret),
            });
        }
        let client_id = form_client_id
            .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?
            .to_owned();
        Ok(match form_secret {
            Some(secret) => Self::Post {
                client_id,
                secret: Secret::presented(secret),
            },
            None => Self::Public { client_id },
        })
    }
}

fn form_decode(text: &str) -> Result<String, OAuthError> {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))
}

/// Authenticates `presented` as `agent`, whose stored secret hash is `secret_hash`.
pub fn authenticate(
    presented: &PresentedClient,
    agent: &Agent,
    secret_hash: Option<&SecretHash>,
) -> Result<(), OAuthError> {
    if agent.disabled {
        return Err(OAuthError::invalid_client("client authentication failed"));
    }
    match (agent.client_type, presented) {
        (ClientType::Public, PresentedClient::Public { .. }) => Ok(()),
        (ClientType::Public, _) => Err(OAuthError::invalid_client(
            "this is a public client: authenticate with client_id only",
        )),
        (ClientType::Confidential, PresentedClient::Public { .. }) => {
            Err(OAuthError::invalid_client("client authentication failed"))
        }
        (
            ClientType::Confidential,
            PresentedClient::Basic { secret, .. } | PresentedClient::Post { secret, .. },
        ) => match secret_hash {
            Some(hash) if hash.matches(secret) => Ok(()),
            _ => Err(OAuthError::invalid_client("client authentication failed")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use crate::secret::SecretKind;

    fn agent(client_type: ClientType) -> Agent {
        Agent {
            client_type,
            token_endpoint_auth_method: "client_secret_basic".into(),
            grant_types: vec!["client_credentials".into()],
            ..Agent::sample("c1")
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let p = PresentedClient::from_request(Some(&basic("my%3Aclient", "s%2Bx")), None, None)
            .expect("basic");
        assert_eq!(
            p,
            PresentedClient::Basic {
                client_id: "my:client".into(),
                secret: Secret::presented("s+x")
            }
        );
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let err = PresentedClient::from_request(Some(&basic("c1", "s")), Some("c1"), Some("s"))
            .expect_err("two");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = PresentedClient::from_request(Some(&basic("c1", "s")), Some("c2"), None)
            .expect_err("mismatch");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert_eq!(
            PresentedClient::from_request(None, None, None)
                .expect_err("none")
                .code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            PresentedClient::from_request(Some("Bearer x"), None, None)
                .expect_err("bearer")
                .code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            PresentedClient::from_request(Some("Basic !!!"), None, None)
                .expect_err("garbage")
                .code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn confidential_clients_need_the_right_secret() {
        let secret = Secret::generate(SecretKind::ClientSecret);
        let hash = secret.hash();
        let a = agent(ClientType::Confidential);
        let ok = PresentedClient::Post {
            client_id: "c1".into(),
            secret: secret.clone(),
        };
        assert!(authenticate(&ok, &a, Some(&hash)).is_ok());
        let via_basic = PresentedClient::Basic {
            client_id: "c1".into(),
            secret,
        };
        assert!(authenticate(&via_basic, &a, Some(&hash)).is_ok());
        let wrong = PresentedClient::Post {
            client_id: "c1".into(),
            secret: Secret::presented("nope"),
        };
        assert_eq!(
            authenticate(&wrong, &a, Some(&hash))
                .expect_err("wrong")
                .code,
            ErrorCode::InvalidClient
        );
        let none = PresentedClient::Public {
            client_id: "c1".into(),
        };
        assert_eq!(
            authenticate(&none, &a, Some(&hash)).expect_err("none").code,
            ErrorCode::InvalidClient
        );
        assert!(authenticate(&ok, &a, None).is_err(), "no stored secret");
    }

    #[test]
    fn public_clients_authenticate_with_id_only() {
        let a = agent(ClientType::Public);
        assert!(authenticate(
            &PresentedClient::Public {
                client_id: "c1".into()
            },
            &a,
            None
        )
        .is_ok());
        let with_secret = PresentedClient::Post {
            client_id: "c1".into(),
            secret: Secret::presented("x"),
        };
        assert!(authenticate(&with_secret, &a, None).is_err());
        let mut disabled = a.clone();
        disabled.disabled = true;
        assert!(authenticate(
            &PresentedClient::Public {
                client_id: "c1".into()
            },
            &disabled,
            None
        )
        .is_err());
    }
}
