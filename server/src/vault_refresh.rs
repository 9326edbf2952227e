//! Keeping the vault's tokens usable: opening sealed tokens (every time a `connection.read`
//! event) and refreshing a connection before its access token expires (a
//! `connection.refreshed` event, success or the provider's error code). Refreshes happen when
//! an exchange finds the token within a minute of expiry, and on a schedule
//! (`MANDATE_VAULT_REFRESH_SECS`) for every connection that would expire before the next
//! round, so a provider's refresh token does not lapse unused. One refresh per connection at a
//! time: a provider that rotates refresh tokens would refuse the second. A refresh token the
//! provider refuses is marked dead, so nothing retries it until the owner connects again.

use std::collections::HashMap;
use std::time::Duration;

use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::connections::{
    callback_uri, Connection, ConnectionProvider, VaultTokens, REFRESH_MARGIN_MS,
};
use mandate_core::model::Agent;
use mandate_core::CoreError;

use crate::request_context::Caller;
use crate::state::AppState;
use crate::vault::{self, VaultFailure};

/// On whose behalf the vault is read or refreshed (for the audit trail).
#[derive(Clone, Copy)]
pub enum VaultActor<'a> {
    /// An MCP server's back end exchanging a token.
    Exchange {
        client: &'a Agent,
        caller: &'a Caller,
    },
    /// The scheduled refresh.
    Schedule,
}

/// A vault event about `connection`, by `actor`.
pub fn vault_event(
    event: EventType,
    outcome: Outcome,
    provider: &ConnectionProvider,
    connection: &Connection,
    actor: VaultActor<'_>,
) -> AuditEvent {
    let base = match actor {
        VaultActor::Exchange { client, caller } => {
            AuditEvent::new(event, outcome, ActorKind::Agent)
                .agent(client.id.as_str())
                .context(&caller.context)
        }
        VaultActor::Schedule => AuditEvent::new(event, outcome, ActorKind::System),
    };
    base.with("provider", &provider.slug)
        .with("connection", &connection.id)
        .with("owner", connection.owner.kind.as_str())
        .with("owner_id", &connection.owner.id)
}

/// Opens a connection's sealed tokens: a `connection.read` event.
pub async fn read(
    state: &AppState,
    provider: &ConnectionProvider,
    connection: &Connection,
    sealed: &[u8],
    actor: VaultActor<'_>,
) -> Result<VaultTokens, CoreError> {
    let opened = vault::open(&state.master_key, &provider.id, &connection.owner, sealed);
    let outcome = if opened.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let event = vault_event(
        EventType::ConnectionRead,
        outcome,
        provider,
        connection,
        actor,
    );
    state.audit.record(event).await?;
    opened
}

/// Why a refresh did not give fresh tokens.
#[derive(Debug)]
pub enum RefreshError {
    /// The connection was disconnected meanwhile.
    Gone,
    /// The provider refused or could not be reached.
    Failed(VaultFailure),
    /// Our storage or crypto failed.
    Internal(CoreError),
}

impl From<CoreError> for RefreshError {
    fn from(e: CoreError) -> Self {
        Self::Internal(e)
    }
}

/// Refreshes `connection` unless, once its lock is held, it no longer expires before
/// `due_before` (another refresh got there first); returns the connection and its tokens as
/// they now are.
pub async fn refresh(
    state: &AppState,
    provider: &ConnectionProvider,
    secret: &str,
    connection: Connection,
    tokens: VaultTokens,
    due_before: i64,
    actor: VaultActor<'_>,
) -> Result<(Connection, VaultTokens), RefreshError> {
    let lock = state.vault.refresh_lock(&connection.id);
    let _held = lock.lock().await;
    let Some((current, sealed)) = state
        .store
        .connection(&provider.id, &connection.owner)
        .await?
    else {
        return Err(RefreshError::Gone);
    };
    if current.id != connection.id {
        return Err(RefreshError::Gone);
    }
    if current.expires_at.is_none_or(|at| at >= due_before) {
        let tokens = vault::open(&state.master_key, &provider.id, &current.owner, &sealed)?;
        return Ok((current, tokens));
    }
    let result = match tokens.refresh_token.clone() {
        None => Err(RefreshError::Failed(VaultFailure::Refused(
            "no refresh token".into(),
        ))),
        Some(refresh_token) => {
            let redirect = callback_uri(&state.config.public_url);
            match state
                .vault
                .refresh(provider, secret, &redirect, &refresh_token, None)
                .await
            {
                Ok(fresh) => store_fresh(state, provider, &connection, fresh, refresh_token).await,
                Err(failure) => Err(RefreshError::Failed(failure)),
            }
        }
    };
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let mut event = vault_event(
        EventType::ConnectionRefreshed,
        outcome,
        provider,
        &connection,
        actor,
    );
    if let Err(RefreshError::Failed(failure)) = &result {
        event = event.with("reason", failure.to_string());
        if matches!(failure, VaultFailure::Refused(_)) {
            state.store.mark_unrefreshable(&connection.id).await?;
        }
    }
    state.audit.record(event).await?;
    result
}

async fn store_fresh(
    state: &AppState,
    provider: &ConnectionProvider,
    connection: &Connection,
    fresh: vault::Fresh,
    previous_refresh: String,
) -> Result<(Connection, VaultTokens), RefreshError> {
    let now = state.now();
    let sealed = vault::seal_fresh(
        &state.master_key,
        &provider.id,
        &connection.owner,
        fresh,
        Some(previous_refresh),
        &connection.scopes,
        now,
    )?;
    if !state
        .store
        .refresh_connection(&connection.id, &sealed.as_row(), now)
        .await?
    {
        return Err(RefreshError::Gone);
    }
    let tokens = vault::open(
        &state.master_key,
        &provider.id,
        &connection.owner,
        &sealed.sealed,
    )?;
    let updated = Connection {
        scopes: sealed.scopes,
        expires_at: sealed.expires_at,
        refreshable: sealed.refreshable,
        updated_at: now,
        ..connection.clone()
    };
    Ok((updated, tokens))
}

/// How many connections one scheduled round refreshes at most.
const ROUND_LIMIT: i64 = 200;

/// Refreshes, every `period`, each connection that would expire before the round after. One
/// connection (or provider) that cannot be refreshed does not hold up the others.
pub fn spawn(state: &AppState, period: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ahead = i64::try_from(period.as_millis()).unwrap_or(i64::MAX / 4) + REFRESH_MARGIN_MS;
        loop {
            tick.tick().await;
            if let Err(e) = round(&state, ahead).await {
                tracing::warn!(error = %e, "scheduled vault refresh failed; will retry");
            }
        }
    })
}

async fn round(state: &AppState, ahead: i64) -> Result<(), CoreError> {
    let due_before = state.now() + ahead;
    // Each provider (and its secret) is read once a round, however many connections it has.
    let mut providers: HashMap<String, Option<(ConnectionProvider, String)>> = HashMap::new();
    for (connection, sealed) in state.store.connections_due(due_before, ROUND_LIMIT).await? {
        let provider = match providers.get(&connection.provider_id) {
            Some(known) => known.clone(),
            None => {
                let loaded = match state
                    .store
                    .connection_provider(&connection.provider_id)
                    .await?
                {
                    Some((provider, sealed_secret)) => {
                        match vault::provider_secret(&state.master_key, &provider, &sealed_secret) {
                            Ok(secret) => Some((provider, secret)),
                            // Its connections wait; the others are still refreshed.
                            Err(e) => {
                                tracing::warn!(provider = %provider.slug, error = %e,
                                    "a connection provider's client secret cannot be opened");
                                None
                            }
                        }
                    }
                    None => None,
                };
                providers.insert(connection.provider_id.clone(), loaded.clone());
                loaded
            }
        };
        let Some((provider, secret)) = provider else {
            continue;
        };
        let tokens = match read(state, &provider, &connection, &sealed, VaultActor::Schedule).await
        {
            Ok(tokens) => tokens,
            // Tokens that do not open never will: recorded (a failed `connection.read`), set
            // aside so later rounds neither stop at them nor record them again.
            Err(
                CoreError::MasterKeyMismatch | CoreError::Crypto(_) | CoreError::CorruptJson(_),
            ) => {
                state.store.mark_unrefreshable(&connection.id).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        match refresh(
            state,
            &provider,
            &secret,
            connection,
            tokens,
            due_before,
            VaultActor::Schedule,
        )
        .await
        {
            Ok(_) | Err(RefreshError::Gone) | Err(RefreshError::Failed(_)) => {}
            Err(RefreshError::Internal(e)) => return Err(e),
        }
    }
    Ok(())
}
