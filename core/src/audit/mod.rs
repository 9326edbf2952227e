//! The audit trail: one event model and one way to record it. Events are hash-chained
//! (each hash covers the event's content and the previous hash) and written by a single
//! writer that batches the events of concurrent requests into one transaction (group commit):
//! [`AuditLog::record`] returns only after the event's transaction committed, so a response
//! that depends on an event is never sent before the event is durable.

pub mod labels;
pub mod query;
pub mod repeats;
pub mod retention;
pub mod verify;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::Any;
use sqlx::AnyConnection;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::{Clock, UnixMillis};
use crate::error::{CoreError, CoreResult};
use crate::secret::SecretHash;
use crate::store::agents::touch_agents;
use crate::store::tokens::{rotate_refreshes, write_issuances, Issuance};
use crate::store::Store;

/// The closed list of things that happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "agent.registered")]
    AgentRegistered,
    #[serde(rename = "agent.updated")]
    AgentUpdated,
    #[serde(rename = "agent.deleted")]
    AgentDeleted,
    #[serde(rename = "user.signed_in")]
    UserSignedIn,
    #[serde(rename = "user.sign_in_failed")]
    SignInFailed,
    #[serde(rename = "user.signed_out")]
    UserSignedOut,
    #[serde(rename = "user.password_changed")]
    PasswordChanged,
    #[serde(rename = "user.mfa_verified")]
    MfaVerified,
    #[serde(rename = "user.mfa_failed")]
    MfaFailed,
    #[serde(rename = "user.mfa_enrolled")]
    MfaEnrolled,
    #[serde(rename = "user.mfa_removed")]
    MfaRemoved,
    #[serde(rename = "user.recovery_codes_generated")]
    RecoveryCodesGenerated,
    #[serde(rename = "user.passkey_registered")]
    PasskeyRegistered,
    #[serde(rename = "user.passkey_removed")]
    PasskeyRemoved,
    #[serde(rename = "authorization.tenant_chosen")]
    TenantChosen,
    #[serde(rename = "policy.evaluated")]
    PolicyEvaluated,
    #[serde(rename = "grant.revoked")]
    GrantRevoked,
    #[serde(rename = "authorization.requested")]
    AuthorizationRequested,
    #[serde(rename = "authorization.failed")]
    AuthorizationFailed,
    #[serde(rename = "consent.granted")]
    ConsentGranted,
    #[serde(rename = "consent.denied")]
    ConsentDenied,
    #[serde(rename = "code.issued")]
    CodeIssued,
    #[serde(rename = "hook.called")]
    HookCalled,
    #[serde(rename = "connection.connected")]
    ConnectionConnected,
    #[serde(rename = "connection.disconnected")]
    ConnectionDisconnected,
    #[serde(rename = "connection.read")]
    ConnectionRead,
    #[serde(rename = "connection.refreshed")]
    ConnectionRefreshed,
    #[serde(rename = "connection.exchanged")]
    ConnectionExchanged,
    #[serde(rename = "token.issued")]
    TokenIssued,
    #[serde(rename = "token.refreshed")]
    TokenRefreshed,
    #[serde(rename = "token.failed")]
    TokenFailed,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "token.refresh_reuse_detected")]
    RefreshReuseDetected,
    #[serde(rename = "token.code_replay_detected")]
    CodeReplayDetected,
    #[serde(rename = "token.introspected")]
    TokenIntrospected,
    #[serde(rename = "keys.rotated")]
    KeysRotated,
    #[serde(rename = "audit.exported")]
    AuditExported,
    #[serde(rename = "admin.changed")]
    AdminChanged,
}

impl EventType {
    /// Every type, in the order the viewer lists them.
    pub const ALL: [EventType; 38] = [
        Self::AgentRegistered,
        Self::AgentUpdated,
        Self::AgentDeleted,
        Self::UserSignedIn,
        Self::SignInFailed,
        Self::UserSignedOut,
        Self::PasswordChanged,
        Self::MfaVerified,
        Self::MfaFailed,
        Self::MfaEnrolled,
        Self::MfaRemoved,
        Self::RecoveryCodesGenerated,
        Self::PasskeyRegistered,
        Self::PasskeyRemoved,
        Self::TenantChosen,
        Self::PolicyEvaluated,
        Self::GrantRevoked,
        Self::AuthorizationRequested,
        Self::AuthorizationFailed,
        Self::ConsentGranted,
        Self::ConsentDenied,
        Self::CodeIssued,
        Self::HookCalled,
        Self::ConnectionConnected,
        Self::ConnectionDisconnected,
        Self::ConnectionRead,
        Self::ConnectionRefreshed,
        Self::ConnectionExchanged,
        Self::TokenIssued,
        Self::TokenRefreshed,
        Self::TokenFailed,
        Self::TokenRevoked,
        Self::RefreshReuseDetected,
        Self::CodeReplayDetected,
        Self::TokenIntrospected,
        Self::KeysRotated,
        Self::AuditExported,
        Self::AdminChanged,
    ];

    /// The type with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentRegistered => "agent.registered",
            Self::AgentUpdated => "agent.updated",
            Self::AgentDeleted => "agent.deleted",
            Self::UserSignedIn => "user.signed_in",
            Self::SignInFailed => "user.sign_in_failed",
            Self::UserSignedOut => "user.signed_out",
            Self::PasswordChanged => "user.password_changed",
            Self::MfaVerified => "user.mfa_verified",
            Self::MfaFailed => "user.mfa_failed",
            Self::MfaEnrolled => "user.mfa_enrolled",
            Self::MfaRemoved => "user.mfa_removed",
            Self::RecoveryCodesGenerated => "user.recovery_codes_generated",
            Self::PasskeyRegistered => "user.passkey_registered",
            Self::PasskeyRemoved => "user.passkey_removed",
            Self::TenantChosen => "authorization.tenant_chosen",
            Self::PolicyEvaluated => "policy.evaluated",
            Self::GrantRevoked => "grant.revoked",
            Self::AuthorizationRequested => "authorization.requested",
            Self::AuthorizationFailed => "authorization.failed",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentDenied => "consent.denied",
            Self::CodeIssued => "code.issued",
            Self::HookCalled => "hook.called",
            Self::ConnectionConnected => "connection.connected",
            Self::ConnectionDisconnected => "connection.disconnected",
            Self::ConnectionRead => "connection.read",
            Self::ConnectionRefreshed => "connection.refreshed",
            Self::ConnectionExchanged => "connection.exchanged",
            Self::TokenIssued => "token.issued",
            Self::TokenRefreshed => "token.refreshed",
            Self::TokenFailed => "token.failed",
            Self::TokenRevoked => "token.revoked",
            Self::RefreshReuseDetected => "token.refresh_reuse_detected",
            Self::CodeReplayDetected => "token.code_replay_detected",
            Self::TokenIntrospected => "token.introspected",
            Self::KeysRotated => "keys.rotated",
            Self::AuditExported => "audit.exported",
            Self::AdminChanged => "admin.changed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// The outcome with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Agent,
    Admin,
    ApiKey,
    System,
    Anonymous,
}

/// One event. Never holds a secret or a token: a token appears as its `jti` in `detail`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub event_type: EventType,
    pub outcome: Outcome,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub tenant_id: Option<String>,
    pub mcp_server_id: Option<String>,
    pub scopes_requested: Option<String>,
    pub scopes_granted: Option<String>,
    pub policies: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: Value,
}

impl AuditEvent {
    pub fn new(event_type: EventType, outcome: Outcome, actor_kind: ActorKind) -> Self {
        Self {
            event_type,
            outcome,
            actor_kind,
            actor_id: None,
            agent_id: None,
            user_id: None,
            tenant_id: None,
            mcp_server_id: None,
            scopes_requested: None,
            scopes_granted: None,
            policies: None,
            client_ip: None,
            user_agent: None,
            request_id: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn agent(mut self, agent_id: impl Into<String>) -> Self {
        let id = agent_id.into();
        if self.actor_kind == ActorKind::Agent && self.actor_id.is_none() {
            self.actor_id = Some(id.clone());
        }
        self.agent_id = Some(id);
        self
    }

    pub fn user(mut self, user_id: Option<impl Into<String>>) -> Self {
        self.user_id = user_id.map(Into::into);
        if self.actor_kind == ActorKind::User && self.actor_id.is_none() {
            self.actor_id.clone_from(&self.user_id);
        }
        self
    }

    pub fn tenant(mut self, tenant_id: Option<impl Into<String>>) -> Self {
        self.tenant_id = tenant_id.map(Into::into);
        self
    }

    pub fn server(mut self, server_id: impl Into<String>) -> Self {
        self.mcp_server_id = Some(server_id.into());
        self
    }

    pub fn scopes(mut self, requested: Option<String>, granted: Option<String>) -> Self {
        self.scopes_requested = requested;
        self.scopes_granted = granted;
        self
    }

    /// Adds a field to `detail`.
    /// The policies that decided (their ids, space-separated).
    pub fn policies(mut self, ids: &[String]) -> Self {
        if !ids.is_empty() {
            self.policies = Some(ids.join(" "));
        }
        self
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Value::Object(map) = &mut self.detail {
            map.insert(
                key.to_owned(),
                serde_json::to_value(value).unwrap_or(Value::Null),
            );
        }
        self
    }

    /// Replaces NUL characters in the text columns with U+FFFD. Events carry text that came
    /// from requests (the OAuth endpoints refuse a `%00` before they record anything, but the
    /// trail must not depend on every caller doing so), and PostgreSQL's `text` cannot store
    /// the character: left in, it would fail the whole batch the event is committed in, and
    /// with it every concurrent request's record. Done before the event is
    /// hashed, so the chain covers what is stored. (`detail` is stored as JSON text, where a NUL
    /// is the escape `\u0000`.)
    fn replace_nul_characters(&mut self) {
        for text in [
            &mut self.actor_id,
            &mut self.agent_id,
            &mut self.user_id,
            &mut self.tenant_id,
            &mut self.mcp_server_id,
            &mut self.scopes_requested,
            &mut self.scopes_granted,
            &mut self.policies,
            &mut self.client_ip,
            &mut self.user_agent,
            &mut self.request_id,
        ]
        .into_iter()
        .flatten()
        {
            if text.contains('\0') {
                *text = text.replace('\0', "\u{FFFD}");
            }
        }
    }

    /// The request this happened in.
    pub fn context(mut self, ctx: &RequestContext) -> Self {
        self.client_ip.clone_from(&ctx.client_ip);
        self.user_agent.clone_from(&ctx.user_agent);
        self.request_id.clone_from(&ctx.request_id);
        self
    }
}

/// Where a request came from, for events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// The hash of an event chained to the previous hash (hex SHA-256): of `prev_hash`, a newline
/// and the compact JSON `{"event":…,"occurred_at":…,"seq":…}` with every object's keys in sorted
/// order. `event` is the event's JSON as read back from a row (see [`verify`]), whose keys a
/// `serde_json::Value` keeps sorted.
pub fn chain_hash(prev_hash: &str, seq: i64, occurred_at: UnixMillis, event: &Value) -> String {
    hash_chained(prev_hash, seq, occurred_at, event)
}

/// [`chain_hash`] of an event about to be written, without building its JSON tree first: the
/// event is serialized straight into the hash with its fields in sorted order, so the bytes,
/// and the hash, are those verification recomputes from the row (a test holds the two
/// together). Building the tree cost a copy of every string of the event per issuance.
pub fn chain_hash_of_event(
    prev_hash: &str,
    seq: i64,
    occurred_at: UnixMillis,
    event: &AuditEvent,
) -> String {
    let AuditEvent {
        event_type,
        outcome,
        actor_kind,
        actor_id,
        agent_id,
        user_id,
        tenant_id,
        mcp_server_id,
        scopes_requested,
        scopes_granted,
        policies,
        client_ip,
        user_agent,
        request_id,
        detail,
    } = event;
    let sorted = SortedEvent {
        actor_id,
        actor_kind,
        agent_id,
        client_ip,
        detail,
        event_type,
        mcp_server_id,
        outcome,
        policies,
        request_id,
        scopes_granted,
        scopes_requested,
        tenant_id,
        user_agent,
        user_id,
    };
    hash_chained(prev_hash, seq, occurred_at, &sorted)
}

/// The chain hash of `event`, which must serialize with its keys in sorted order.
fn hash_chained(
    prev_hash: &str,
    seq: i64,
    occurred_at: UnixMillis,
    event: &impl Serialize,
) -> String {
    let content = ChainedContent {
        event,
        occurred_at,
        seq,
    };
    let mut hasher = HashWriter(Sha256::new());
    hasher.0.update(prev_hash.as_bytes());
    hasher.0.update(b"\n");
    // Serializing plain fields, strings and a `Value` into a hash cannot fail.
    let _ = serde_json::to_writer(&mut hasher, &content);
    lower_hex(&hasher.0.finalize())
}

/// What [`chain_hash`] hashes, field names in sorted order.
#[derive(Serialize)]
struct ChainedContent<'a, E> {
    event: &'a E,
    occurred_at: UnixMillis,
    seq: i64,
}

/// An [`AuditEvent`] with its fields in sorted order.
#[derive(Serialize)]
struct SortedEvent<'a> {
    actor_id: &'a Option<String>,
    actor_kind: &'a ActorKind,
    agent_id: &'a Option<String>,
    client_ip: &'a Option<String>,
    detail: &'a Value,
    event_type: &'a EventType,
    mcp_server_id: &'a Option<String>,
    outcome: &'a Outcome,
    policies: &'a Option<String>,
    request_id: &'a Option<String>,
    scopes_granted: &'a Option<String>,
    scopes_requested: &'a Option<String>,
    tenant_id: &'a Option<String>,
    user_agent: &'a Option<String>,
    user_id: &'a Option<String>,
}

/// Feeds what is written into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `bytes` as lowercase hex (on the issuance path: one `format!` per byte showed in profiles).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

type Ack = oneshot::Sender<Result<Landed, String>>;

/// What became of a queued event once its batch committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    Written,
    /// Its issuance replaces a refresh token that could no longer be rotated (another request
    /// rotated it first, it expired, or its family was revoked): neither the issuance nor the
    /// event was written.
    NotRotated,
}

/// One queued event, with the token records that must commit together with it.
struct Pending {
    event: AuditEvent,
    at: UnixMillis,
    issuance: Option<Issuance>,
    ack: Ack,
}

impl Pending {
    /// The refresh token this event's issuance replaces, and when.
    fn rotation(&self) -> Option<(&SecretHash, UnixMillis)> {
        let issuance = self.issuance.as_ref()?;
        Some((issuance.rotates.as_ref()?, issuance.issued_at))
    }
}

/// What the writer is handed: an event, or a request to say when everything before it is
/// written. (An event is moved through the queue as it is; boxing it to shrink the rare flush
/// would cost an allocation per event.)
#[allow(clippy::large_enum_variant)]
enum Queued {
    Event(Pending),
    Flush(oneshot::Sender<()>),
}

/// Records events through the single batching writer.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Queued>,
    clock: Arc<dyn Clock>,
    /// The newest committed sequence number this process wrote (0 until the first batch).
    head: watch::Receiver<i64>,
    /// What the writer has committed so far (shared with it).
    stats: Arc<WriterCounters>,
}

/// Running totals of the writer's work since the process started, for metrics: how well group
/// commit batches (events ÷ batches) and how long a batch takes to write (commit time ÷
/// batches). Counters only ever grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Batches committed.
    pub batches: u64,
    /// Events those batches wrote (an issuance refused at the commit writes none).
    pub events: u64,
    /// Time spent writing them, in microseconds: from a batch's first attempt (taking a
    /// connection if the writer holds none) to its commit, retries included.
    pub commit_micros: u64,
    /// Batches that could not be written after every retry (their events failed; logged).
    pub failed_batches: u64,
}

#[derive(Debug, Default)]
struct WriterCounters {
    batches: AtomicU64,
    events: AtomicU64,
    commit_micros: AtomicU64,
    failed_batches: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

/// At most this many events go into one transaction.
const MAX_BATCH: usize = 256;

impl AuditLog {
    /// Events waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// What the writer has committed since the process started.
    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.stats;
        WriterStats {
            batches: c.batches.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            commit_micros: c.commit_micros.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
        }
    }

    /// Starts the writer task on `store`.
    pub fn spawn(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let (head_tx, head) = watch::channel(0);
        let stats = Arc::new(WriterCounters::default());
        tokio::spawn(writer(store, rx, head_tx, stats.clone()));
        Self {
            tx,
            clock,
            head,
            stats,
        }
    }

    /// Changes whenever this process commits events (the live tail and forwarding wake on it;
    /// events other instances write are found by their periodic re-read).
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.head.clone()
    }

    /// Appends `event`; returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> CoreResult<()> {
        self.submit(event, None).await.map(|_| ())
    }

    /// Appends `event` and writes the tokens of `issuance` in the same transaction: the single
    /// writer batches the issuances of concurrent requests into one commit (group commit).
    /// For an issuance that rotates a refresh token, see [`AuditLog::record_rotation`].
    pub async fn record_issuance(&self, event: AuditEvent, issuance: Issuance) -> CoreResult<()> {
        self.submit(event, Some(issuance)).await.map(|_| ())
    }

    /// As [`AuditLog::record_issuance`] for an issuance that replaces a refresh token
    /// (`issuance.rotates`): the rotation is part of the same transaction. Returns `false`, with
    /// nothing written, if the token could no longer be rotated when the batch committed (a
    /// concurrent request rotated it first, it expired, or its family was revoked).
    pub async fn record_rotation(&self, event: AuditEvent, issuance: Issuance) -> CoreResult<bool> {
        Ok(self.submit(event, Some(issuance)).await? == Landed::Written)
    }

    /// Appends `event` without waiting for its commit (it still commits in the writer's next
    /// batch, in order). For reads that change nothing, such as an introspection: the answer
    /// need not wait for the disk, while an issuance or a change always does.
    pub async fn record_unconfirmed(&self, event: AuditEvent) -> CoreResult<()> {
        let (ack, _) = oneshot::channel();
        self.enqueue(event, None, ack).await
    }

    async fn enqueue(
        &self,
        mut event: AuditEvent,
        issuance: Option<Issuance>,
        ack: Ack,
    ) -> CoreResult<()> {
        let at = self.clock.now_ms();
        event.replace_nul_characters();
        self.tx
            .send(Queued::Event(Pending {
                event,
                at,
                issuance,
                ack,
            }))
            .await
            .map_err(|_| CoreError::Invalid("the audit writer has stopped".into()))
    }

    /// Returns once every event queued before this call is written (or failed and was logged):
    /// a stopping server calls it before closing the database, so events queued without
    /// confirmation are not lost.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Queued::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    async fn submit(&self, event: AuditEvent, issuance: Option<Issuance>) -> CoreResult<Landed> {
        let (ack, done) = oneshot::channel();
        self.enqueue(event, issuance, ack).await?;
        match done.await {
            Ok(Ok(landed)) => Ok(landed),
            Ok(Err(e)) => Err(CoreError::Invalid(format!("audit write failed: {e}"))),
            Err(_) => Err(CoreError::Invalid("the audit writer has stopped".into())),
        }
    }
}

/// One transaction's worth: the events (with their tokens) and the agents whose use it records.
struct BatchWrite<'a> {
    events: &'a [Pending],
    agents_used: &'a [(String, UnixMillis)],
}

/// When this process last recorded each agent's use. `last_used_at` (DCR expiry, the console)
/// needs minute precision, so an agent's use is written at most once a minute, in the batch
/// of one of its issuances.
#[derive(Default)]
struct AgentsUsed {
    recorded: std::collections::HashMap<String, UnixMillis>,
}

impl AgentsUsed {
    const EVERY_MS: UnixMillis = 60_000;
    const MAX_AGENTS: usize = 100_000;

    /// The agents of `batch`'s issuances not recorded within the last minute, with the time of
    /// their latest issuance in it.
    fn to_record(&self, batch: &[Pending]) -> Vec<(String, UnixMillis)> {
        let mut used: Vec<(String, UnixMillis)> = Vec::new();
        for issuance in batch.iter().filter_map(|p| p.issuance.as_ref()) {
            let at = issuance.issued_at;
            if self
                .recorded
                .get(&issuance.agent_id)
                .is_some_and(|last| at - last < Self::EVERY_MS)
            {
                continue;
            }
            match used.iter_mut().find(|(id, _)| *id == issuance.agent_id) {
                Some(entry) => entry.1 = entry.1.max(at),
                None => used.push((issuance.agent_id.clone(), at)),
            }
        }
        used
    }

    fn recorded(&mut self, used: Vec<(String, UnixMillis)>) {
        if self.recorded.len() + used.len() > Self::MAX_AGENTS {
            self.recorded.clear();
        }
        self.recorded.extend(used);
    }
}

/// How long the writer keeps its connection once the queue is empty. While events keep
/// coming, every batch runs on the same connection, whose page cache stays warm; a pooled
/// connection taken per batch would have to re-read the pages another connection changed.
const KEEP_CONNECTION: std::time::Duration = std::time::Duration::from_millis(200);

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Queued>,
    committed: watch::Sender<i64>,
    stats: Arc<WriterCounters>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    // The chain head, kept here so a batch is only INSERTs; re-read after any failure (another
    // instance may have appended).
    let mut head: Option<(i64, String)> = None;
    let mut connection: Option<PoolConnection<Any>> = None;
    let mut agents_used = AgentsUsed::default();
    loop {
        let first = if connection.is_some() {
            match tokio::time::timeout(KEEP_CONNECTION, rx.recv()).await {
                Ok(item) => item,
                Err(_) => {
                    // Idle: the connection goes back to the pool (so closing the pool never
                    // waits for the writer).
                    connection = None;
                    rx.recv().await
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = first else { break };
        collect_batch(&mut rx, first, &mut batch, &mut flushes).await;
        if !batch.is_empty() {
            let used = agents_used.to_record(&batch);
            let write = BatchWrite {
                events: &batch,
                agents_used: &used,
            };
            let started = Instant::now();
            let result = commit_batch(&store, &mut connection, &write, &mut head, &committed).await;
            match &result {
                Ok(landed) => {
                    agents_used.recorded(used);
                    let written = landed.iter().filter(|l| **l == Landed::Written).count();
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    stats.events.fetch_add(written as u64, Ordering::Relaxed);
                    stats.commit_micros.fetch_add(micros, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, events = batch.len(), "audit batch could not be written");
                }
            }
            for (i, pending) in batch.drain(..).enumerate() {
                let landed = match &result {
                    Ok(landed) => Ok(landed.get(i).copied().unwrap_or(Landed::Written)),
                    Err(e) => Err(e.clone()),
                };
                let _ = pending.ack.send(landed);
            }
        }
        if !flushes.is_empty() {
            // A flush comes before the pool closes: give the connection back first.
            connection = None;
            for done in flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

/// How many times the writer steps aside, while events keep arriving, before it cuts a batch.
const GATHER_ROUNDS: usize = 4;

/// Takes `first` and what else is queued into `batch`, up to [`MAX_BATCH`] events or a flush
/// (everything queued before a flush goes into this batch; nothing after it).
///
/// Group commit only pays if a batch holds the events of the requests running at the same
/// moment. A request that queues an event wakes the writer, and the runtime runs a task it has
/// just woken before the others that are ready, so without stepping aside the writer would cut
/// a batch of one while the other requests are a few microseconds from queuing theirs: one
/// commit (with its pages written to the log, and its round trips to the database thread) per
/// event. So after draining the queue the writer yields, letting the ready requests run up to
/// their own `record`, and drains again, for as long as that brings new events (at most
/// [`GATHER_ROUNDS`] times). An idle server loses nothing: a yield with no other task ready
/// returns at once.
async fn collect_batch(
    rx: &mut mpsc::Receiver<Queued>,
    first: Queued,
    batch: &mut Vec<Pending>,
    flushes: &mut Vec<oneshot::Sender<()>>,
) {
    let mut next = Some(first);
    let mut rounds = 0;
    loop {
        while let Some(item) = next.take() {
            match item {
                Queued::Event(pending) => batch.push(pending),
                Queued::Flush(done) => {
                    flushes.push(done);
                    return;
                }
            }
            if batch.len() >= MAX_BATCH {
                return;
            }
            next = rx.try_recv().ok();
        }
        if rounds == GATHER_ROUNDS {
            return;
        }
        rounds += 1;
        tokio::task::yield_now().await;
        next = rx.try_recv().ok();
        if next.is_none() {
            return;
        }
    }
}

/// Writes a batch after the chain head, retrying a few times: a conflict on `seq` means another
/// instance appended at the same moment, so the head is re-read and the batch tried again.
/// Runs on the writer's `connection`, taking one from the pool when it has none; a connection
/// that failed is given back (it may be broken) and a fresh one taken for the next attempt.
/// Returns what became of each event of the batch, in order.
async fn commit_batch(
    store: &Store,
    connection: &mut Option<PoolConnection<Any>>,
    write: &BatchWrite<'_>,
    head: &mut Option<(i64, String)>,
    committed: &watch::Sender<i64>,
) -> Result<Vec<Landed>, String> {
    let mut result = Err(String::new());
    for attempt in 0..5u64 {
        let outcome = async {
            if connection.is_none() {
                *connection = Some(store.pool().acquire().await?);
            }
            let Some(conn) = connection.as_mut() else {
                return Err(CoreError::Invalid("no database connection".into()));
            };
            let current = match head.clone() {
                Some(current) => current,
                None => read_head(conn).await?,
            };
            write_batch(store, conn, write, current).await
        }
        .await;
        match outcome {
            Ok((new_head, landed)) => {
                committed.send_replace(new_head.0);
                *head = Some(new_head);
                return Ok(landed);
            }
            Err(e) => {
                *head = None;
                *connection = None;
                result = Err(e.to_string());
                tokio::time::sleep(std::time::Duration::from_millis(20 * (attempt + 1))).await;
            }
        }
    }
    result
}

/// The last event's sequence number and hash (or the genesis values).
async fn read_head(conn: &mut AnyConnection) -> CoreResult<(i64, String)> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(conn)
            .await?;
    Ok(head.unwrap_or((0, GENESIS_HASH.to_owned())))
}

/// Audit rows per multi-row INSERT at most (20 parameters each; a power of two, see
/// [`crate::store::power_of_two_chunks`]).
const EVENTS_PER_STATEMENT: usize = 64;

fn outcome_str(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
    }
}

fn actor_str(actor: ActorKind) -> &'static str {
    match actor {
        ActorKind::User => "user",
        ActorKind::Agent => "agent",
        ActorKind::Admin => "admin",
        ActorKind::ApiKey => "api_key",
        ActorKind::System => "system",
        ActorKind::Anonymous => "anonymous",
    }
}

/// Appends `batch` after `head` in one transaction; returns the new head and what became of
/// each event. The refresh tokens the batch's issuances replace are rotated first, in one
/// statement; of two requests presenting one token in the same batch the first is written.
async fn write_batch(
    store: &Store,
    conn: &mut AnyConnection,
    write: &BatchWrite<'_>,
    head: (i64, String),
) -> CoreResult<((i64, String), Vec<Landed>)> {
    let batch = write.events;
    let mut tx = store.begin_write_on(conn).await?;
    // Each token presented in the batch once, at its first presentation's time.
    let mut presented = HashSet::new();
    let rotations: Vec<_> = batch
        .iter()
        .filter_map(Pending::rotation)
        .filter(|(hash, _)| presented.insert(hash.as_str()))
        .collect();
    let mut rotated = rotate_refreshes(&mut tx, store.backend(), &rotations).await?;
    // Of two requests presenting one token in the batch, the first is written (`remove`).
    let landed: Vec<Landed> = batch
        .iter()
        .map(|pending| match pending.rotation() {
            Some((hash, _)) if !rotated.remove(hash.as_str()) => Landed::NotRotated,
            _ => Landed::Written,
        })
        .collect();
    let written = || {
        batch
            .iter()
            .zip(&landed)
            .filter(|(_, landed)| **landed == Landed::Written)
            .map(|(pending, _)| pending)
    };
    let issuances: Vec<&Issuance> = written().filter_map(|p| p.issuance.as_ref()).collect();
    write_issuances(&mut tx, store.backend(), &issuances).await?;
    touch_agents(&mut tx, write.agents_used).await?;
    let (mut seq, mut prev) = head;
    let mut rows = Vec::with_capacity(batch.len());
    for pending in written() {
        seq += 1;
        let hash = chain_hash_of_event(&prev, seq, pending.at, &pending.event);
        rows.push((
            seq,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
            pending,
        ));
    }
    for chunk in crate::store::power_of_two_chunks(&rows, EVENTS_PER_STATEMENT) {
        let sql = format!(
            "{} audit_events (seq, id, occurred_at, event_type, outcome, actor_kind, actor_id,
                agent_id, user_id, tenant_id, mcp_server_id, scopes_requested, scopes_granted, policies,
                client_ip, user_agent, request_id, detail, prev_hash, hash) VALUES {}",
            store.backend().batch_insert(),
            crate::store::values_placeholders(store.backend(), chunk.len(), 20)
        );
        let mut query = sqlx::query(&sql);
        for (seq, prev_hash, hash, pending) in chunk {
            let event = &pending.event;
            query = query
                .bind(*seq)
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(pending.at)
                .bind(event.event_type.as_str())
                .bind(outcome_str(event.outcome))
                .bind(actor_str(event.actor_kind))
                .bind(event.actor_id.as_deref())
                .bind(event.agent_id.as_deref())
                .bind(event.user_id.as_deref())
                .bind(event.tenant_id.as_deref())
                .bind(event.mcp_server_id.as_deref())
                .bind(event.scopes_requested.as_deref())
                .bind(event.scopes_granted.as_deref())
                .bind(event.policies.as_deref())
                .bind(event.client_ip.as_deref())
                .bind(event.user_agent.as_deref())
                .bind(event.request_id.as_deref())
                .bind(event.detail.to_string())
                .bind(prev_hash.as_str())
                .bind(hash.as_str());
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(((seq, prev), landed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_spells_every_byte_in_two_lowercase_digits() {
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(lower_hex(&[]), "");
    }

    #[test]
    fn chain_hash_covers_content_and_previous_hash() {
        let e =
            AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent).agent("a");
        let h1 = chain_hash_of_event(GENESIS_HASH, 1, 10, &e);
        assert_eq!(h1.len(), 64);
        assert_ne!(
            h1,
            chain_hash_of_event("other", 1, 10, &e),
            "previous hash matters"
        );
        assert_ne!(
            h1,
            chain_hash_of_event(GENESIS_HASH, 2, 10, &e),
            "sequence matters"
        );
        let changed = e.clone().with("jti", "x");
        assert_ne!(
            h1,
            chain_hash_of_event(GENESIS_HASH, 1, 10, &changed),
            "content matters"
        );
        assert_eq!(
            h1,
            chain_hash_of_event(GENESIS_HASH, 1, 10, &e),
            "deterministic"
        );
    }

    #[test]
    fn the_writers_hash_is_the_hash_verification_recomputes() {
        let bare = AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent);
        let full = AuditEvent::new(EventType::ConsentGranted, Outcome::Failure, ActorKind::User)
            .agent("agent-1")
            .user(Some("user-\"1\"".to_owned()))
            .tenant(Some("tenant é".to_owned()))
            .server("server-1")
            .scopes(Some("a b".into()), Some("a".into()))
            .policies(&["p1".to_owned(), "p2".to_owned()])
            .with("jti", "x")
            .with(
                "nested",
                serde_json::json!({"z": 1, "a": [true, null, 2.5], "m": {"b": "\u{1}"}}),
            )
            .with("count", -3)
            .context(&RequestContext {
                client_ip: Some("127.0.0.1".into()),
                user_agent: Some("ua/1 \\ \t".into()),
                request_id: Some("r-1".into()),
            });
        for event in [bare, full] {
            // What verification recomputes: the event as a JSON value read back from its row.
            let as_read = serde_json::to_value(&event).expect("value");
            for (seq, at) in [(1, 0), (42, 1_796_014_123_456), (i64::MAX, -1)] {
                // The bytes every chain written so far was hashed over.
                let content = serde_json::json!({ "seq": seq, "occurred_at": at, "event": &event });
                let mut hasher = Sha256::new();
                hasher.update(b"prev\n");
                hasher.update(content.to_string().as_bytes());
                let recorded = lower_hex(&hasher.finalize());
                assert_eq!(chain_hash_of_event("prev", seq, at, &event), recorded);
                assert_eq!(chain_hash("prev", seq, at, &as_read), recorded);
            }
        }
    }

    #[tokio::test]
    async fn issuances_record_their_agents_use_in_the_same_commit_at_most_once_a_minute() {
        for db in crate::testing::each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let agent = crate::model::Agent::sample("used-agent");
            store
                .insert_agent(&agent, &crate::store::agents::AgentSecrets::default())
                .await
                .expect("agent");
            let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
            let issue = |jti: &str, at: UnixMillis| {
                let event =
                    AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent)
                        .agent("used-agent");
                let issuance = Issuance {
                    jti: jti.into(),
                    family_id: None,
                    agent_id: "used-agent".into(),
                    mcp_server_id: "server".into(),
                    access_expires_at: at + 600_000,
                    refresh: None,
                    rotates: None,
                    issued_at: at,
                };
                log.record_issuance(event, issuance)
            };
            let last_used = || async {
                store
                    .agent(&agent.id)
                    .await
                    .expect("read")
                    .expect("agent")
                    .last_used_at
            };
            assert_eq!(last_used().await, None);
            issue("j1", 1_000_000).await.expect("first issuance");
            assert_eq!(
                last_used().await,
                Some(1_000_000),
                "written by the issuance's commit, before record_issuance returned"
            );
            issue("j2", 1_030_000).await.expect("within the minute");
            assert_eq!(last_used().await, Some(1_000_000), "not rewritten");
            issue("j3", 1_061_000).await.expect("a minute later");
            assert_eq!(last_used().await, Some(1_061_000));
        }
    }

    #[tokio::test]
    async fn concurrent_records_form_one_unbroken_chain() {
        for db in crate::testing::each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
            let mut tasks = Vec::new();
            for i in 0..50 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    let e =
                        AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent)
                            .agent(format!("agent-{i}"));
                    log.record(e).await
                }));
            }
            for t in tasks {
                t.await.expect("task").expect("recorded before returning");
            }
            let rows: Vec<(i64, String, String)> =
                sqlx::query_as("SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq")
                    .fetch_all(store.pool())
                    .await
                    .expect("rows");
            assert_eq!(rows.len(), 50);
            let stats = log.writer_stats();
            assert_eq!(stats.events, 50, "{stats:?}");
            assert!((1..=50).contains(&stats.batches), "{stats:?}");
            assert!(stats.commit_micros > 0, "{stats:?}");
            assert_eq!(stats.failed_batches, 0, "{stats:?}");
            let mut prev = GENESIS_HASH.to_owned();
            for (i, (seq, prev_hash, hash)) in rows.iter().enumerate() {
                assert_eq!(*seq, i as i64 + 1, "contiguous sequence");
                assert_eq!(prev_hash, &prev, "linked to the previous event");
                prev = hash.clone();
            }
        }
    }

    #[tokio::test]
    async fn every_field_is_stored_as_recorded_and_the_chain_verifies() {
        let tricky = "quote \" backslash \\ newline \n tab \t control \u{1} é ✓ 𝄞 \\u0041";
        for db in crate::testing::each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
            let event = AuditEvent::new(EventType::TokenFailed, Outcome::Failure, ActorKind::Agent)
                .agent(format!("agent {tricky}"))
                .user(Some(format!("user {tricky}")))
                .tenant(Some(format!("tenant {tricky}")))
                .server(format!("server {tricky}"))
                .scopes(Some(format!("asked {tricky}")), Some("granted".into()))
                .policies(&["p1".into(), format!("p2 {tricky}")])
                .context(&RequestContext {
                    client_ip: Some("::1".into()),
                    user_agent: Some(format!("agent/1.0 {tricky}")),
                    request_id: Some("req-1".into()),
                })
                .with("reason", tricky)
                .with(
                    "nested",
                    serde_json::json!({"b": [1, 2.5, null, true], "a": tricky}),
                );
            // Events before it, so it links to a stored hash rather than the genesis one.
            for _ in 0..3 {
                log.record(AuditEvent::new(
                    EventType::KeysRotated,
                    Outcome::Success,
                    ActorKind::System,
                ))
                .await
                .expect("written");
            }
            log.record(event.clone()).await.expect("written");
            let stored = query::event(&store, 4)
                .await
                .expect("read")
                .expect("event 4");
            assert_eq!(stored.event_type, "token.failed");
            assert_eq!(stored.outcome, "failure");
            assert_eq!(stored.actor_kind, "agent");
            assert_eq!(stored.actor_id, event.actor_id);
            assert_eq!(stored.agent_id, event.agent_id);
            assert_eq!(stored.user_id, event.user_id);
            assert_eq!(stored.tenant_id, event.tenant_id);
            assert_eq!(stored.mcp_server_id, event.mcp_server_id);
            assert_eq!(stored.scopes_requested, event.scopes_requested);
            assert_eq!(stored.scopes_granted, event.scopes_granted);
            assert_eq!(stored.policies, event.policies);
            assert_eq!(stored.client_ip, event.client_ip);
            assert_eq!(stored.user_agent, event.user_agent);
            assert_eq!(stored.request_id, event.request_id);
            assert_eq!(stored.detail, event.detail);
            assert!(uuid::Uuid::parse_str(&stored.id).is_ok(), "{}", stored.id);
            let report = verify::verify_chain(&store, None, None)
                .await
                .expect("verify");
            assert_eq!((report.checked, report.broken), (4, None));
        }
    }

    #[tokio::test]
    async fn nul_characters_are_stored_as_replacement_characters_without_failing_the_batch() {
        for db in crate::testing::each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
            let refused = AuditEvent::new(
                EventType::AuthorizationFailed,
                Outcome::Failure,
                ActorKind::Anonymous,
            )
            .agent("client\0id")
            .scopes(Some("notes.read\0admin".into()), None)
            .with("reason", "scope\0");
            let neighbour =
                AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent)
                    .agent("neighbour");
            let (a, b) = tokio::join!(log.record(refused), log.record(neighbour));
            a.expect("the refused request's event is written");
            b.expect("so is its batch-mate's");
            let rows: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
                "SELECT agent_id, scopes_requested, detail FROM audit_events ORDER BY seq",
            )
            .fetch_all(store.pool())
            .await
            .expect("rows");
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].0.as_deref(), Some("client\u{FFFD}id"));
            assert_eq!(rows[0].1.as_deref(), Some("notes.read\u{FFFD}admin"));
            let detail: Value = serde_json::from_str(&rows[0].2).expect("detail");
            assert_eq!(
                detail["reason"], "scope\0",
                "detail keeps it, escaped in its JSON text"
            );
            assert_eq!(rows[1].0.as_deref(), Some("neighbour"));
            let report = verify::verify_chain(&store, None, None)
                .await
                .expect("verify");
            assert_eq!((report.checked, report.broken), (2, None));
        }
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_written_fails_its_record_and_counts_as_a_failed_batch() {
        for db in crate::testing::each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let log = AuditLog::spawn(store.clone(), Arc::new(crate::clock::SystemClock));
            let event =
                || AuditEvent::new(EventType::KeysRotated, Outcome::Success, ActorKind::System);
            log.record(event()).await.expect("written");
            // Nowhere to write: every attempt fails.
            sqlx::query("DROP TABLE audit_events")
                .execute(store.pool())
                .await
                .expect("drop");
            let failed = log.record(event()).await;
            assert!(
                failed.is_err(),
                "the caller learns the event was not written"
            );
            let stats = log.writer_stats();
            assert_eq!(stats.failed_batches, 1, "{stats:?}");
            assert_eq!((stats.batches, stats.events), (1, 1), "{stats:?}");
        }
    }

    #[test]
    fn stored_names_match_the_serialized_ones() {
        for o in [Outcome::Success, Outcome::Failure] {
            assert_eq!(serde_json::to_value(o).expect("json"), outcome_str(o));
        }
        for a in [
            ActorKind::User,
            ActorKind::Agent,
            ActorKind::Admin,
            ActorKind::ApiKey,
            ActorKind::System,
            ActorKind::Anonymous,
        ] {
            assert_eq!(serde_json::to_value(a).expect("json"), actor_str(a));
        }
    }

    #[test]
    fn every_type_is_listed_once_and_parses_back() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).expect("json"), t.as_str());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        assert_eq!(EventType::from_name("token.stolen"), None);
        assert_eq!(Outcome::from_name("failure"), Some(Outcome::Failure));
    }

    #[test]
    fn agent_actor_is_filled_in() {
        let e =
            AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent).agent("a1");
        assert_eq!(e.actor_id.as_deref(), Some("a1"));
        assert_eq!(e.event_type.as_str(), "token.issued");
    }
}
