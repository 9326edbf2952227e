//! Calls an MCP server's issuance hooks, in order, after consent and before the code is
//! issued (`mandate_core::enrich` holds the rules). Every call is signed, bounded by its
//! timeout, never follows a redirect, reaches only the addresses the deployment allows
//! (`MANDATE_INTEGRATIONS_NETWORK`), and is one `hook.called` audit event.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome, RequestContext};
use mandate_core::enrich::{
    self, AgentRef, Enrichment, HookFailure, HookOutcome, HookRef, HookRequest, ServerRef,
    TenantRef, UserRef, FAILED_MESSAGE, MAX_ANSWER_BYTES,
};
use mandate_core::journey::TenantOption;
use mandate_core::model::{Agent, McpServer};
use mandate_core::oauth::error::OAuthError;
use mandate_core::oauth::redirect_uri::is_loopback_host;
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::store::hooks::CallableHook;
use reqwest::redirect::Policy;
use url::Url;

use crate::outbound::{check_literal, error_chain, guarded_client, AddressPolicy};
use crate::state::AppState;

/// The HTTP client for hooks.
#[derive(Clone)]
pub struct HookClient {
    client: reqwest::Client,
    policy: AddressPolicy,
}

impl HookClient {
    pub fn new(policy: AddressPolicy) -> Result<Self, String> {
        let client = guarded_client(policy)
            // A hook answers itself: a redirect could lead anywhere.
            .redirect(Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, policy })
    }

    /// https always; plain http only to a loopback host when loopback is allowed (tests).
    fn check(&self, url: &Url) -> Result<(), HookFailure> {
        let loopback_host = is_loopback_host(url.host());
        match url.scheme() {
            "https" => {}
            "http" if self.policy.loopback && loopback_host => {}
            _ => {
                return Err(HookFailure::Unreachable(
                    "only https hooks may be called".into(),
                ))
            }
        }
        check_literal(url, self.policy).map_err(|e| HookFailure::Unreachable(e.to_string()))
    }

    /// POSTs `body` signed with `key`; the answer as `enrich` reads it.
    pub async fn call(
        &self,
        url: &str,
        hook_id: &str,
        key: &[u8],
        body: Vec<u8>,
        timeout: Duration,
        now_s: i64,
    ) -> Result<enrich::Answer, HookFailure> {
        let url = Url::parse(url).map_err(|e| HookFailure::Unreachable(e.to_string()))?;
        self.check(&url)?;
        let signature = enrich::signature(key, now_s, &body);
        let exchange = async {
            let response = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .header("Mandate-Hook-Id", hook_id)
                .header("Mandate-Signature", signature)
                .body(body)
                .send()
                .await
                .map_err(transport)?;
            let status = response.status();
            if !status.is_success() {
                return Err(HookFailure::Status(status.as_u16()));
            }
            let mut answer = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(transport)?;
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HookFailure::Invalid(format!(
                        "larger than {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                answer.extend_from_slice(&chunk);
            }
            enrich::read_answer(&answer)
        };
        // One deadline for connecting, sending and reading the whole answer.
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(HookFailure::TimedOut))
    }
}

/// A transport error without its URL (a hook URL may carry a token in its query).
fn transport(e: reqwest::Error) -> HookFailure {
    if e.is_timeout() {
        HookFailure::TimedOut
    } else {
        HookFailure::Unreachable(error_chain(&e.without_url()))
    }
}

/// The authorization the hooks are asked about.
pub struct Issuance<'a> {
    pub issuer: &'a str,
    pub server: &'a McpServer,
    pub agent: &'a Agent,
    pub user_id: &'a str,
    pub email: &'a str,
    pub tenant: Option<&'a TenantOption>,
    pub request: &'a RequestContext,
}

/// What the hooks decided.
pub enum Verdict {
    /// Issue the code with these scopes and claims.
    Proceed(Enrichment),
    /// Issue nothing; the message is for the person.
    Refused { message: String },
}

/// Calls the server's enabled hooks in order with the consented `scopes`.
pub async fn run(
    state: &AppState,
    issuance: &Issuance<'_>,
    scopes: &ScopeSet,
) -> Result<Verdict, OAuthError> {
    let hooks = state
        .store
        .hooks_to_call(issuance.server.id.as_str())
        .await?;
    let mut enrichment = Enrichment::new(scopes.clone());
    for hook in &hooks {
        let started = Instant::now();
        let result = call_one(state, issuance, hook, &enrichment).await;
        let outcome = enrichment.apply(result, hook.hook.on_failure);
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        state
            .audit
            .record(event(issuance, hook, &outcome, elapsed_ms, &enrichment))
            .await?;
        match outcome {
            HookOutcome::Denied { message } => return Ok(Verdict::Refused { message }),
            HookOutcome::Failed { .. } => {
                return Ok(Verdict::Refused {
                    message: FAILED_MESSAGE.to_owned(),
                })
            }
            HookOutcome::Applied { .. } | HookOutcome::Skipped { .. } => {}
        }
    }
    Ok(Verdict::Proceed(enrichment))
}

async fn call_one(
    state: &AppState,
    issuance: &Issuance<'_>,
    callable: &CallableHook,
    so_far: &Enrichment,
) -> Result<enrich::Answer, HookFailure> {
    let hook = &callable.hook;
    let key = state
        .master_key
        .open(&callable.secret_sealed, hook.id.as_bytes())
        .map_err(|_| HookFailure::Unreachable("its signing key cannot be opened".into()))?;
    let agent = issuance.agent;
    let roles: &[String] = issuance.tenant.map_or(&[], |t| t.roles.as_slice());
    let request = HookRequest {
        kind: enrich::ISSUANCE,
        hook: HookRef {
            id: &hook.id,
            name: &hook.name,
        },
        issuer: issuance.issuer,
        mcp_server: ServerRef {
            id: issuance.server.id.as_str(),
            slug: &issuance.server.slug,
            resource: &issuance.server.resource_url,
        },
        agent: AgentRef {
            client_id: agent.id.as_str(),
            name: &agent.name,
            trust_level: agent.trust_level.as_str(),
        },
        user: UserRef {
            id: issuance.user_id,
            email: issuance.email,
            roles,
        },
        tenant: issuance.tenant.map(|t| TenantRef {
            id: &t.id,
            slug: &t.slug,
            name: &t.name,
        }),
        scopes: so_far.scopes.to_vec(),
        claims: &so_far.claims,
    };
    let body = serde_json::to_vec(&request)
        .map_err(|e| HookFailure::Invalid(format!("the request could not be written: {e}")))?;
    let timeout = Duration::from_millis(u64::try_from(hook.timeout_ms).unwrap_or(2_000));
    state
        .hooks
        .call(&hook.url, &hook.id, &key, body, timeout, state.now() / 1000)
        .await
}

/// The `hook.called` event: which hook, what it decided, what it changed (claim names, not
/// values), how long it took.
fn event(
    issuance: &Issuance<'_>,
    callable: &CallableHook,
    outcome: &HookOutcome,
    elapsed_ms: u64,
    after: &Enrichment,
) -> AuditEvent {
    let hook = &callable.hook;
    let failed = matches!(
        outcome,
        HookOutcome::Failed { .. } | HookOutcome::Skipped { .. }
    );
    let mut event = AuditEvent::new(
        EventType::HookCalled,
        if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        ActorKind::System,
    )
    .user(Some(issuance.user_id))
    .agent(issuance.agent.id.as_str())
    .tenant(issuance.tenant.map(|t| t.id.as_str()))
    .server(issuance.server.id.as_str())
    .with("hook", &hook.id)
    .with("hook_name", &hook.name)
    .with("decision", outcome.label())
    .with("on_failure", hook.on_failure.as_str())
    .with("elapsed_ms", elapsed_ms)
    .context(issuance.request);
    event = match outcome {
        HookOutcome::Applied {
            added_claims,
            removed_scopes,
        } => event
            .with("added_claims", added_claims)
            .with("removed_scopes", removed_scopes)
            .scopes(None, Some(after.scopes.to_scope_string())),
        HookOutcome::Denied { message } => event.with("message", message),
        HookOutcome::Skipped { reason } | HookOutcome::Failed { reason } => {
            event.with("reason", reason)
        }
    };
    event
}
