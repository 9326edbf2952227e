//! Claim enrichment: issuance hooks. Per MCP server, an ordered list of HTTP endpoints is
//! called after consent and before the authorization code is issued; each may add claims to
//! the access token, remove scopes, or deny with a message the person sees. This module holds
//! the rules as pure functions (the request body, its signature, reading an answer, the
//! failure policy, folding answers in order); the call itself is the server's.
//!
//! The call (also in README.md, "Issuance hooks"):
//! ```text
//! POST {url}
//! Content-Type: application/json
//! Mandate-Hook-Id: {hook id}
//! Mandate-Signature: t={unix seconds},v1={hex HMAC-SHA256(key, "{t}.{body}")}
//!
//! {"type":"token.issuance","hook":{…},"issuer":…,"mcp_server":{…},"agent":{…},
//!  "user":{…},"tenant":{…},"scopes":[…],"claims":{…added by earlier hooks}}
//! ```
//! The answer, a 2xx JSON object of at most [`MAX_ANSWER_BYTES`]:
//! `{"decision":"allow"|"deny", "message":…, "claims":{…}, "remove_scopes":[…]}`.

use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::oauth::scope::ScopeSet;

/// What a hook's answer may not name: the claims Mandate itself sets (ARCHITECTURE.md §6) and
/// those with a registered meaning a resource server would trust (RFC 7519 §4.1, RFC 9068 §2.2,
/// RFC 8693 §4, RFC 7800 §3, OIDC Core §2).
pub const RESERVED_CLAIMS: [&str; 20] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "auth_time",
    "acr",
    "amr",
    "tenant",
    "act",
    "may_act",
    "azp",
    "cnf",
    "nonce",
    "sid",
    "typ",
];

/// The largest answer read from a hook.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// The largest set of added claims (serialized) one authorization may carry: they ride in
/// every access token of it.
pub const MAX_CLAIMS_BYTES: usize = 4 * 1024;
/// The longest deny message shown to the person.
pub const MAX_MESSAGE_CHARS: usize = 300;
/// The longest claim name.
const MAX_CLAIM_NAME: usize = 64;
/// Hook timeouts an admin may set, in milliseconds.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<i64> = 100..=10_000;
pub const DEFAULT_TIMEOUT_MS: i64 = 2_000;

/// Shown when a hook denies without saying why.
const DEFAULT_DENY_MESSAGE: &str = "Your organization's checks did not allow this request.";

/// What happens to an authorization when a hook cannot be called or answers badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// No code is issued (fail closed): the default, since a hook may exist to refuse.
    Deny,
    /// The hook is skipped and the authorization goes on without its answer.
    Continue,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Continue => "continue",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "deny" => Some(Self::Deny),
            "continue" => Some(Self::Continue),
            _ => None,
        }
    }
}

/// `t=…,v1=…`: HMAC-SHA256 under `key` of `"{timestamp}.{body}"`, hex. The same scheme signs
/// the audit forwarder's deliveries.
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(&key, &signed);
    format!("t={timestamp},v1={}", crate::audit::lower_hex(tag.as_ref()))
}

/// What a receiver checks (documented for hook authors, used by the tests): the header's
/// `v1` is the HMAC of its `t` and the body under `key` (compared in constant time), and `t`
/// is within `tolerance_s` of `now_s`, so a captured call cannot be replayed later.
pub fn verify_signature(
    key: &[u8],
    header: &str,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> bool {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => tag = decode_hex(v),
            _ => {}
        }
    }
    let (Some(t), Some(tag)) = (timestamp, tag) else {
        return false;
    };
    if (now_s - t).abs() > tolerance_s {
        return false;
    }
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), &signed, &tag).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The body of one hook call.
#[derive(Debug, Clone, Serialize)]
pub struct HookRequest<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub hook: HookRef<'a>,
    pub issuer: &'a str,
    pub mcp_server: ServerRef<'a>,
    pub agent: AgentRef<'a>,
    pub user: UserRef<'a>,
    pub tenant: Option<TenantRef<'a>>,
    /// The scopes the code would carry now (after earlier hooks' removals).
    pub scopes: Vec<String>,
    /// Claims earlier hooks added.
    pub claims: &'a Map<String, Value>,
}

/// The request's `type`.
pub const ISSUANCE: &str = "token.issuance";

#[derive(Debug, Clone, Serialize)]
pub struct HookRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRef<'a> {
    pub id: &'a str,
    pub slug: &'a str,
    pub resource: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRef<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub trust_level: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRef<'a> {
    pub id: &'a str,
    pub email: &'a str,
    /// The person's roles in the chosen tenant.
    pub roles: &'a [String],
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantRef<'a> {
    pub id: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
}

/// Why a hook's answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookFailure {
    /// Not reached (refused address, connection, TLS).
    Unreachable(String),
    TimedOut,
    /// Answered with a non-2xx status (redirects are not followed).
    Status(u16),
    /// An answer that is not what [`read_answer`] accepts.
    Invalid(String),
}

impl fmt::Display for HookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "unreachable: {why}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Status(code) => write!(f, "answered HTTP {code}"),
            Self::Invalid(why) => write!(f, "invalid answer: {why}"),
        }
    }
}

/// A hook's usable answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Allow {
        claims: Map<String, Value>,
        remove_scopes: Vec<String>,
    },
    Deny {
        message: String,
    },
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default)]
    remove_scopes: Option<Vec<String>>,
}

/// Reads a hook's 2xx body: a JSON object, `decision` `allow` (the default) or `deny`, claims
/// whose names are not reserved, scope names to remove. Unknown fields are ignored.
pub fn read_answer(body: &[u8]) -> Result<Answer, HookFailure> {
    let invalid = |why: String| HookFailure::Invalid(why);
    if body.len() > MAX_ANSWER_BYTES {
        return Err(invalid(format!("larger than {MAX_ANSWER_BYTES} bytes")));
    }
    let raw: RawAnswer = if body.iter().all(u8::is_ascii_whitespace) {
        // An empty 2xx (e.g. 204) allows and adds nothing.
        RawAnswer {
            decision: None,
            message: None,
            claims: None,
            remove_scopes: None,
        }
    } else {
        serde_json::from_slice(body).map_err(|e| invalid(format!("not the expected JSON: {e}")))?
    };
    match raw.decision.as_deref().unwrap_or("allow") {
        "deny" => Ok(Answer::Deny {
            message: shown_message(raw.message.as_deref()),
        }),
        "allow" => {
            let claims = raw.claims.unwrap_or_default();
            for name in claims.keys() {
                check_claim_name(name).map_err(invalid)?;
            }
            Ok(Answer::Allow {
                claims,
                remove_scopes: raw.remove_scopes.unwrap_or_default(),
            })
        }
        other => Err(invalid(format!(
            "decision is {other:?}, not \"allow\" or \"deny\""
        ))),
    }
}

fn check_claim_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_CLAIM_NAME {
        return Err(format!("claim names are 1 to {MAX_CLAIM_NAME} characters"));
    }
    if RESERVED_CLAIMS.contains(&name) {
        return Err(format!("the claim {name:?} is reserved"));
    }
    Ok(())
}

/// The hook's message as the person will read it: one line of plain text, bounded.
fn shown_message(message: Option<&str>) -> String {
    let cleaned: String = message
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed.is_empty() {
        return DEFAULT_DENY_MESSAGE.to_owned();
    }
    match trimmed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed,
    }
}

/// What one hook did to the authorization (for its audit event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// Its answer was applied: the claims it added and the scopes it removed.
    Applied {
        added_claims: Vec<String>,
        removed_scopes: Vec<String>,
    },
    /// It refused the authorization; the message is for the person.
    Denied { message: String },
    /// It failed and its policy is `continue`: skipped.
    Skipped { reason: String },
    /// It failed and its policy is `deny`: the authorization stops.
    Failed { reason: String },
}

impl HookOutcome {
    /// Whether the authorization stops here (no later hook is called, no code issued).
    pub fn stops(&self) -> bool {
        matches!(self, Self::Denied { .. } | Self::Failed { .. })
    }

    /// The audit event's `decision` for this outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Applied { .. } => "allow",
            Self::Denied { .. } => "deny",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Shown to the person when a hook failed under the `deny` policy (the reason goes to the
/// audit log, not to them).
pub const FAILED_MESSAGE: &str =
    "A check this service requires before granting access could not be completed. Try again in a moment.";
/// Shown when the hooks removed every scope.
pub const NOTHING_LEFT_MESSAGE: &str =
    "Your organization's checks removed every permission this application asked for.";

/// The authorization as the hooks shape it, hook after hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    pub scopes: ScopeSet,
    pub claims: Map<String, Value>,
}

impl Enrichment {
    pub fn new(scopes: ScopeSet) -> Self {
        Self {
            scopes,
            claims: Map::new(),
        }
    }

    /// Applies one hook's result under its failure policy. Claims a later hook adds replace
    /// an earlier hook's claim of the same name; scopes only ever shrink; the added claims
    /// together stay within [`MAX_CLAIMS_BYTES`] (past it, the answer counts as invalid).
    pub fn apply(
        &mut self,
        result: Result<Answer, HookFailure>,
        policy: FailurePolicy,
    ) -> HookOutcome {
        let failed = |failure: HookFailure| match policy {
            FailurePolicy::Deny => HookOutcome::Failed {
                reason: failure.to_string(),
            },
            FailurePolicy::Continue => HookOutcome::Skipped {
                reason: failure.to_string(),
            },
        };
        let (claims, remove_scopes) = match result {
            Err(failure) => return failed(failure),
            Ok(Answer::Deny { message }) => return HookOutcome::Denied { message },
            Ok(Answer::Allow {
                claims,
                remove_scopes,
            }) => (claims, remove_scopes),
        };
        let mut merged = self.claims.clone();
        let added_claims: Vec<String> = claims.keys().cloned().collect();
        merged.extend(claims);
        let size = serde_json::to_vec(&merged).map_or(usize::MAX, |v| v.len());
        if size > MAX_CLAIMS_BYTES {
            return failed(HookFailure::Invalid(format!(
                "the added claims would take {size} bytes, more than {MAX_CLAIMS_BYTES}"
            )));
        }
        let removed = self.scopes.intersect(&ScopeSet::from_tokens(remove_scopes));
        self.claims = merged;
        self.scopes = self.scopes.missing_from(&removed);
        if self.scopes.is_empty() {
            return HookOutcome::Denied {
                message: NOTHING_LEFT_MESSAGE.to_owned(),
            };
        }
        HookOutcome::Applied {
            added_claims,
            removed_scopes: removed.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests;
