//! The token vault's OAuth 2.0 client (the `oauth2` crate): connecting an account at a
//! provider (authorization code with PKCE S256 and `state`, RFC 6749 §4.1, RFC 7636) and
//! refreshing its tokens (RFC 6749 §6, with a smaller `scope` to narrow). Every call goes
//! through an HTTP client that follows no redirects and reaches only the addresses
//! `MANDATE_INTEGRATIONS_NETWORK` allows. Tokens are sealed before they are stored and are
//! never logged: errors carry the provider's error code, not its body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mandate_core::clock::UnixMillis;
use mandate_core::connections::{
    seal_context, ConnectionProvider, Owner, ProviderKind, VaultTokens,
};
use mandate_core::crypto::MasterKey;
use mandate_core::{CoreError, CoreResult};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};

use crate::outbound::{error_chain, provider_client, AddressPolicy};

/// Why a provider call failed (for the page, the token endpoint's error and the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultFailure {
    /// The provider could not be reached or answered something unreadable.
    Unreachable(String),
    /// The provider refused (its OAuth error code), e.g. `invalid_grant` for a revoked
    /// refresh token.
    Refused(String),
    /// The provider's settings cannot make a request (a bad URL, an unreadable secret).
    Misconfigured(String),
}

impl std::fmt::Display for VaultFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "the provider could not be reached: {why}"),
            Self::Refused(code) => write!(f, "the provider refused: {code}"),
            Self::Misconfigured(why) => write!(f, "the provider is misconfigured: {why}"),
        }
    }
}

/// A connect sent to the provider: where to send the person and what to check on return.
pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

/// Tokens the provider just issued.
pub struct Fresh {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<Duration>,
    /// `None`: the provider did not say (RFC 6749 §5.1: as requested).
    pub scopes: Option<Vec<String>>,
}

type ProviderClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn client_for(
    provider: &ConnectionProvider,
    secret: &str,
    redirect_uri: &str,
) -> Result<ProviderClient, VaultFailure> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        VaultFailure::Misconfigured(format!("{what}: {e}"))
    };
    Ok(BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_auth_uri(
            AuthUrl::new(provider.authorization_endpoint.clone())
                .map_err(|e| bad("authorization endpoint", e))?,
        )
        .set_token_uri(
            TokenUrl::new(provider.token_endpoint.clone()).map_err(|e| bad("token endpoint", e))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| bad("redirect URI", e))?,
        ))
}

fn failure<RE, T>(e: RequestTokenError<RE, T>) -> VaultFailure
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => {
            // The error code only: a description could echo what was sent.
            let code = serde_json::to_value(&r)
                .ok()
                .and_then(|v| v.get("error").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "error".into());
            VaultFailure::Refused(code)
        }
        // A parse error's text can quote what the provider sent (a token): never pass it on.
        RequestTokenError::Parse(..) => {
            VaultFailure::Unreachable("the token response could not be read".into())
        }
        other => VaultFailure::Unreachable(error_chain(&other)),
    }
}

impl Fresh {
    /// When the access token expires, if the provider said.
    pub fn expires_at(&self, now: UnixMillis) -> Option<UnixMillis> {
        self.expires_in
            .map(|d| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
    }
}

fn fresh<T: TokenResponse>(token: &T) -> Fresh {
    Fresh {
        access_token: token.access_token().secret().clone(),
        refresh_token: token.refresh_token().map(|r| r.secret().clone()),
        expires_in: token.expires_in(),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
    }
}

/// The HTTP client for connection providers, and one lock per connection so concurrent
/// exchanges refresh a token once (providers that rotate refresh tokens would refuse the
/// second refresh).
#[derive(Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    refreshing: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl VaultClient {
    pub fn new(policy: AddressPolicy) -> Result<Self, String> {
        let http = provider_client(policy)?;
        Ok(Self {
            http,
            refreshing: Arc::default(),
        })
    }

    /// The provider's authorization URL for a new connection, and what to remember.
    pub fn start(
        &self,
        provider: &ConnectionProvider,
        secret: &str,
        redirect_uri: &str,
    ) -> Result<Started, VaultFailure> {
        let client = client_for(provider, secret, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the provider's code.
    pub async fn finish(
        &self,
        provider: &ConnectionProvider,
        secret: &str,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
    ) -> Result<Fresh, VaultFailure> {
        let client = client_for(provider, secret, redirect_uri)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        Ok(fresh(&token))
    }

    /// Refreshes with `refresh_token`; `scopes` narrows the new access token (RFC 6749 §6).
    pub async fn refresh(
        &self,
        provider: &ConnectionProvider,
        secret: &str,
        redirect_uri: &str,
        refresh_token: &str,
        scopes: Option<&[String]>,
    ) -> Result<Fresh, VaultFailure> {
        let client = client_for(provider, secret, redirect_uri)?;
        let refresh = RefreshToken::new(refresh_token.to_owned());
        let mut request = client.exchange_refresh_token(&refresh);
        if let Some(scopes) = scopes {
            request = request.add_scopes(scopes.iter().cloned().map(Scope::new));
        }
        let token = request.request_async(&self.http).await.map_err(failure)?;
        Ok(fresh(&token))
    }

    /// The lock that serializes refreshes of connection `id`.
    pub fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.refreshing.lock() {
            Ok(locks) => locks,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Locks nobody holds or waits for are dropped as new ones are made.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(id.to_owned()).or_default().clone()
    }
}

/// What a connection row stores after the provider issued `fresh`: sealed tokens (keeping the
/// previous refresh token when the provider sent none), scopes, expiry and refreshability.
pub struct Sealed {
    pub sealed: Vec<u8>,
    pub scopes: Vec<String>,
    pub expires_at: Option<UnixMillis>,
    pub refreshable: bool,
}

impl Sealed {
    pub fn as_row(&self) -> mandate_core::store::connections::SealedTokens<'_> {
        mandate_core::store::connections::SealedTokens {
            sealed: &self.sealed,
            scopes: &self.scopes,
            expires_at: self.expires_at,
            refreshable: self.refreshable,
        }
    }
}

/// A provider's client secret, opened (empty for an API-key provider).
pub fn provider_secret(
    master: &MasterKey,
    provider: &ConnectionProvider,
    sealed: &[u8],
) -> CoreResult<String> {
    if provider.kind == ProviderKind::ApiKey {
        return Ok(String::new());
    }
    let bytes = master.open(sealed, provider.id.as_bytes())?;
    String::from_utf8(bytes).map_err(|_| CoreError::Crypto("client secret is not UTF-8"))
}

/// Seals `tokens` for `owner`'s connection to `provider_id`.
pub fn seal(
    master: &MasterKey,
    provider_id: &str,
    owner: &Owner,
    tokens: &VaultTokens,
) -> CoreResult<Vec<u8>> {
    let plain = serde_json::to_vec(tokens)?;
    master.seal_envelope(&plain, &seal_context(provider_id, owner))
}

/// Opens a connection's sealed tokens.
pub fn open(
    master: &MasterKey,
    provider_id: &str,
    owner: &Owner,
    sealed: &[u8],
) -> CoreResult<VaultTokens> {
    let plain = master.open_envelope(sealed, &seal_context(provider_id, owner))?;
    Ok(serde_json::from_slice(&plain)?)
}

/// The row for tokens the provider just issued. `previous_refresh` is kept when the provider
/// rotates nothing; `asked` are the scopes requested (what the token carries when the
/// provider does not say).
pub fn seal_fresh(
    master: &MasterKey,
    provider_id: &str,
    owner: &Owner,
    fresh: Fresh,
    previous_refresh: Option<String>,
    asked: &[String],
    now: UnixMillis,
) -> CoreResult<Sealed> {
    let expires_at = fresh.expires_at(now);
    let tokens = VaultTokens {
        access_token: fresh.access_token,
        refresh_token: fresh.refresh_token.or(previous_refresh),
    };
    let refreshable = tokens.refresh_token.is_some();
    Ok(Sealed {
        sealed: seal(master, provider_id, owner, &tokens)?,
        scopes: fresh.scopes.unwrap_or_else(|| asked.to_vec()),
        expires_at,
        refreshable,
    })
}
