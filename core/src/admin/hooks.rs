//! Issuance hooks of an MCP server: list, add (the signing key is generated, sealed under the
//! master key and shown once), delete. Project admins only, like the servers themselves.

use serde::{Deserialize, Serialize};
use url::Url;

use super::{project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::crypto::MasterKey;
use crate::enrich::{FailurePolicy, DEFAULT_TIMEOUT_MS, TIMEOUT_RANGE_MS};
use crate::model::McpServer;
use crate::oauth::redirect_uri::is_loopback_host;
use crate::policy::draft::FieldErrors;
use crate::secret::{Secret, SecretKind};
use crate::store::hooks::IssuanceHook;
use crate::store::Store;

const REFUSAL: &str = "Only project admins manage issuance hooks.";
const MAX_URL: usize = 2048;

/// A hook as an admin sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HookDraft {
    pub name: String,
    /// `https://…`; plain `http://` only on a loopback host.
    pub url: String,
    /// 100 to 10,000 ms; 2,000 when left out.
    #[serde(default)]
    pub timeout_ms: Option<i64>,
    /// `deny` (the default: no code is issued when the hook fails) or `continue`.
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Where it runs among the server's hooks (ascending); after the last when left out.
    #[serde(default)]
    pub position: Option<i64>,
}

/// A new hook and its signing key, shown this once.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedHook {
    pub hook: IssuanceHook,
    /// The HMAC-SHA256 key the hook checks `Mandate-Signature` with.
    pub secret: String,
}

/// What a valid draft holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidHook {
    pub name: String,
    pub url: String,
    pub timeout_ms: i64,
    pub on_failure: FailurePolicy,
    pub position: Option<i64>,
}

/// Checks a draft; the message for each wrong field.
pub fn validate(draft: &HookDraft) -> Result<ValidHook, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        errors.insert(
            "name".into(),
            "Give the hook a name of 1 to 80 characters.".into(),
        );
    }
    let url = draft.url.trim();
    if let Err(message) = check_url(url) {
        errors.insert("url".into(), message.into());
    }
    let timeout_ms = draft.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !TIMEOUT_RANGE_MS.contains(&timeout_ms) {
        errors.insert(
            "timeout_ms".into(),
            "The timeout is 100 to 10000 milliseconds.".into(),
        );
    }
    let on_failure = match draft.on_failure.as_deref().map(str::trim) {
        None | Some("") => Some(FailurePolicy::Deny),
        Some(name) => FailurePolicy::from_name(name),
    };
    if on_failure.is_none() {
        errors.insert(
            "on_failure".into(),
            "When the hook fails: deny or continue.".into(),
        );
    }
    if draft
        .position
        .is_some_and(|p| !(0..=1_000_000).contains(&p))
    {
        errors.insert("position".into(), "The position is 0 to 1000000.".into());
    }
    match on_failure {
        Some(on_failure) if errors.is_empty() => Ok(ValidHook {
            name: name.to_owned(),
            url: url.to_owned(),
            timeout_ms,
            on_failure,
            position: draft.position,
        }),
        _ => Err(errors),
    }
}

/// https, or http on a loopback host (a hook beside Mandate); no credentials, no fragment.
/// Where the address may point is checked again at every call, after DNS resolution.
fn check_url(raw: &str) -> Result<(), &'static str> {
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err("Give the hook's URL (up to 2048 characters).");
    }
    let url = Url::parse(raw).map_err(|_| "This is not a URL.")?;
    if url.host().is_none() {
        return Err("The URL needs a host.");
    }
    let loopback = is_loopback_host(url.host());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("Hooks are called over https (plain http only on a loopback host)."),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Put no credentials in the URL: the calls are signed instead.");
    }
    if url.fragment().is_some() {
        return Err("A hook URL has no #fragment.");
    }
    Ok(())
}

async fn server(store: &Store, key: &str) -> AdminResult<McpServer> {
    super::mcp_servers::find(store, key).await
}

/// A server (by id or slug) and its hooks in calling order.
pub async fn list(
    store: &Store,
    access: &AdminAccess,
    server_key: &str,
) -> AdminResult<(McpServer, Vec<IssuanceHook>)> {
    project_only(access, REFUSAL)?;
    let server = server(store, server_key).await?;
    let hooks = store.hooks_of(server.id.as_str()).await?;
    Ok((server, hooks))
}

/// Adds a hook to a server with a new signing key.
pub async fn create(
    store: &Store,
    access: &AdminAccess,
    master: &MasterKey,
    server_key: &str,
    draft: &HookDraft,
    now: UnixMillis,
) -> AdminResult<CreatedHook> {
    project_only(access, REFUSAL)?;
    let server = server(store, server_key).await?;
    let valid = validate(draft).map_err(AdminError::Invalid)?;
    let secret = Secret::generate(SecretKind::HookKey);
    let id = uuid::Uuid::now_v7().to_string();
    // The key is bound to its hook: a sealed key copied to another row does not open.
    let sealed = master.seal(secret.expose().as_bytes(), id.as_bytes())?;
    let exposed = secret.expose();
    let hint = exposed[exposed.len().saturating_sub(4)..].to_owned();
    let hook = IssuanceHook {
        id,
        mcp_server_id: server.id.to_string(),
        position: 0,
        name: valid.name,
        url: valid.url,
        secret_hint: hint,
        timeout_ms: valid.timeout_ms,
        on_failure: valid.on_failure,
        enabled: true,
        created_at: now,
    };
    let hook = store.insert_hook(&hook, valid.position, &sealed).await?;
    Ok(CreatedHook {
        hook,
        secret: exposed.to_owned(),
    })
}

/// Deletes one of a server's hooks.
pub async fn delete(
    store: &Store,
    access: &AdminAccess,
    server_key: &str,
    hook_id: &str,
) -> AdminResult<IssuanceHook> {
    project_only(access, REFUSAL)?;
    let server = server(store, server_key).await?;
    store
        .delete_hook(server.id.as_str(), hook_id)
        .await?
        .ok_or(AdminError::NotFound(
            "This server has no hook with that id.",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(url: &str) -> HookDraft {
        HookDraft {
            name: "Claims".into(),
            url: url.into(),
            ..HookDraft::default()
        }
    }

    #[test]
    fn a_draft_takes_the_defaults_deny_and_two_seconds() {
        let valid = validate(&draft("https://hooks.example.com/issue")).expect("valid");
        assert_eq!(valid.timeout_ms, 2_000);
        assert_eq!(valid.on_failure, FailurePolicy::Deny);
        assert_eq!(valid.position, None);
    }

    #[test]
    fn hook_urls_are_https_or_loopback_http_without_credentials_or_fragments() {
        for ok in [
            "https://hooks.example.com/issue",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]:9/hook",
        ] {
            assert!(validate(&draft(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "hooks.example.com",
            "http://hooks.example.com/issue",
            "http://10.0.0.1/hook",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "javascript:alert(1)",
        ] {
            let errors = validate(&draft(bad)).expect_err(bad);
            assert!(errors.contains_key("url"), "{bad}: {errors:?}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL));
        assert!(validate(&draft(&long)).is_err());
    }

    #[test]
    fn names_timeouts_policies_and_positions_are_bounded() {
        let mut d = draft("https://h.example/x");
        d.name = " ".into();
        d.timeout_ms = Some(50);
        d.on_failure = Some("ignore".into());
        d.position = Some(-1);
        let errors = validate(&d).expect_err("four errors");
        for field in ["name", "timeout_ms", "on_failure", "position"] {
            assert!(errors.contains_key(field), "{field}: {errors:?}");
        }
        d.name = "Deny finance".into();
        d.timeout_ms = Some(10_000);
        d.on_failure = Some("continue".into());
        d.position = Some(3);
        let valid = validate(&d).expect("valid");
        assert_eq!(valid.on_failure, FailurePolicy::Continue);
        assert_eq!(valid.position, Some(3));
    }
}
