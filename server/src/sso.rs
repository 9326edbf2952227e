//! The relying-party side of tenant single sign-on, with the `openidconnect` crate: OpenID
//! Connect Core 1.0 §3.1 (authorization code flow) with PKCE (RFC 7636 S256), `state` and a
//! `nonce`; the ID token's signature (the provider's JWKS from discovery), issuer, audience,
//! expiry and nonce are checked by the crate's verifier. Every call goes through an HTTP
//! client that follows no redirects and reaches only the addresses `MANDATE_INTEGRATIONS_NETWORK`
//! allows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mandate_core::tenancy::SsoSettings;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbound::{error_chain, provider_client, AddressPolicy};

/// Why a sign-in through a provider failed (the text is for logs and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoFailure {
    /// Discovery, the JWKS or the token endpoint could not be reached or read.
    Unreachable(String),
    /// The provider's answer was not acceptable (no ID token, a bad signature, wrong nonce…).
    Invalid(String),
}

impl std::fmt::Display for SsoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "the provider could not be reached: {why}"),
            Self::Invalid(why) => write!(f, "the provider's answer was refused: {why}"),
        }
    }
}

/// What a started sign-in must remember until the provider sends the person back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSso {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub tenant_id: String,
    pub journey: Option<String>,
    pub started_at: i64,
}

/// A sign-in sent to the provider: where to send the person, and the secrets to check its
/// answer with.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// The person as the provider vouched for them.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// RFC 8176 methods the provider says it used.
    pub amr: Vec<String>,
    /// Every claim of the (verified) ID token, for the groups claim.
    pub claims: Value,
}

/// How long a provider's discovery document (with its JWKS) is reused to start sign-ins.
/// Finishing one always reads them afresh, so a rotated signing key is never missed.
const METADATA_TTL: Duration = Duration::from_secs(300);

/// A relying-party client built from a provider's discovery document: its authorization
/// endpoint and our redirect URI set, its token and userinfo endpoints as discovered.
type RelyingParty = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn relying_party(
    metadata: CoreProviderMetadata,
    settings: &SsoSettings,
    secret: &str,
    redirect_uri: &str,
) -> Result<RelyingParty, SsoFailure> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| SsoFailure::Invalid(format!("redirect URL: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(secret.to_owned())),
    )
    .set_redirect_uri(redirect))
}

/// The HTTP client for providers.
#[derive(Clone)]
pub struct SsoClient {
    http: reqwest::Client,
    /// By issuer: when it was read, and the document.
    metadata: Arc<Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>>,
}

impl SsoClient {
    pub fn new(policy: AddressPolicy) -> Result<Self, String> {
        let http = provider_client(policy)?;
        Ok(Self {
            http,
            metadata: Arc::default(),
        })
    }

    async fn discover(&self, settings: &SsoSettings) -> Result<CoreProviderMetadata, SsoFailure> {
        let issuer = IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|e| SsoFailure::Invalid(format!("issuer URL: {e}")))?;
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SsoFailure::Unreachable(error_chain(&e)))
    }

    /// [`Self::discover`], reusing a document read less than [`METADATA_TTL`] ago.
    async fn discover_cached(
        &self,
        settings: &SsoSettings,
    ) -> Result<CoreProviderMetadata, SsoFailure> {
        let cached = self.metadata.lock().ok().and_then(|m| {
            m.get(&settings.issuer_url)
                .filter(|(at, _)| at.elapsed() < METADATA_TTL)
                .map(|(_, doc)| doc.clone())
        });
        if let Some(doc) = cached {
            return Ok(doc);
        }
        let doc = self.discover(settings).await?;
        if let Ok(mut m) = self.metadata.lock() {
            m.insert(settings.issuer_url.clone(), (Instant::now(), doc.clone()));
        }
        Ok(doc)
    }

    /// The provider's authorization URL for a new sign-in, and what to remember.
    pub async fn start(
        &self,
        settings: &SsoSettings,
        secret: &str,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<Started, SsoFailure> {
        let metadata = self.discover_cached(settings).await?;
        let client = relying_party(metadata, settings, secret, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        // `openid` is always sent by the crate.
        for scope in settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the provider's code and verifies the ID token it answers with.
    pub async fn finish(
        &self,
        settings: &SsoSettings,
        secret: &str,
        redirect_uri: &str,
        code: &str,
        pending: &PendingSso,
    ) -> Result<VerifiedIdentity, SsoFailure> {
        let metadata = self.discover(settings).await?;
        let client = relying_party(metadata, settings, secret, redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoFailure::Invalid(error_chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SsoFailure::Unreachable(error_chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SsoFailure::Invalid("the token response has no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| SsoFailure::Invalid(error_chain(&e)))?;
        // The verified token's payload, for claims the crate does not model (groups).
        let raw = id_token.to_string();
        let payload = raw
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        Ok(VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified(),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            amr: claims
                .auth_method_refs()
                .map(|all| all.iter().map(|a| a.to_string()).collect())
                .unwrap_or_default(),
            claims: payload,
        })
    }
}
