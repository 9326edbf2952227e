//! Providers and connections policies as an admin types them, checked field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;

use super::policy::{ConnectionAllow, ConnectionPolicy};
use super::{ConnectionProvider, ProviderKind};
use crate::clock::UnixMillis;
use crate::oauth::redirect_uri::is_loopback_host;
use crate::policy::draft::{checked_conditions, checked_name, known_scopes, FieldErrors};
use crate::policy::Condition;

/// A provider before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderDraft {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
    /// `oauth2` or `api_key`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub authorization_endpoint: String,
    #[serde(default)]
    pub token_endpoint: String,
    #[serde(default)]
    pub client_id: String,
    /// Required for a new OAuth 2.0 provider; empty keeps the stored one.
    #[serde(default)]
    pub client_secret: String,
    /// Space- or comma-separated.
    #[serde(default)]
    pub scopes: String,
    /// MCP server ids or slugs whose consent screen offers this connection.
    #[serde(default)]
    pub mcp_servers: Vec<String>,
}

/// The words of `text` (comma, space or line separated), each once, in their first order.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split([',', ' ', '\n']).map(str::trim) {
        if !word.is_empty() && !out.iter().any(|w| w == word) {
            out.push(word.to_owned());
        }
    }
    out
}

/// https, or http on a loopback host (a provider beside Mandate, as in tests); no fragment
/// or credentials.
fn endpoint_error(raw: &str) -> Option<&'static str> {
    let Ok(url) = Url::parse(raw) else {
        return Some(
            "Give the endpoint's full URL, e.g. https://github.com/login/oauth/authorize.",
        );
    };
    if url.host().is_none() {
        return Some("The URL needs a host.");
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(url.host()) => {}
        _ => return Some("Use https (plain http only on a loopback host)."),
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Some("The URL may not have a fragment or credentials.");
    }
    None
}

/// A slug: 1 to 64 lowercase letters, digits and dashes, starting with a letter or digit.
pub fn slug_ok(slug: &str) -> bool {
    (1..=64).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
}

/// Checks a provider draft. `had_secret`: a client secret is on file; `servers` maps each MCP
/// server's slug and id to its id. Returns the provider (with `id` and times) or the message
/// for each wrong field.
pub fn validate_provider(
    draft: &ProviderDraft,
    id: String,
    had_secret: bool,
    servers: &BTreeMap<String, String>,
    created_at: UnixMillis,
    now: UnixMillis,
) -> Result<ConnectionProvider, FieldErrors> {
    let mut errors = FieldErrors::new();
    let slug = draft.slug.trim().to_owned();
    if !slug_ok(&slug) {
        errors.insert(
            "slug".into(),
            "Use 1 to 64 lowercase letters, digits and dashes (e.g. github).".into(),
        );
    }
    let name = draft.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.insert(
            "name".into(),
            "Give the provider a name of 1 to 100 characters.".into(),
        );
    }
    let kind = ProviderKind::parse(draft.kind.trim());
    if kind.is_none() {
        errors.insert("kind".into(), "Choose OAuth 2.0 or API key.".into());
    }
    let mut fields = (String::new(), String::new(), String::new(), Vec::new());
    if kind == Some(ProviderKind::Oauth2) {
        let authorize = draft.authorization_endpoint.trim().to_owned();
        if let Some(m) = endpoint_error(&authorize) {
            errors.insert("authorization_endpoint".into(), m.into());
        }
        let token = draft.token_endpoint.trim().to_owned();
        if let Some(m) = endpoint_error(&token) {
            errors.insert("token_endpoint".into(), m.into());
        }
        let client_id = draft.client_id.trim().to_owned();
        if client_id.is_empty() || client_id.len() > 255 {
            errors.insert(
                "client_id".into(),
                "Give the client id the provider issued (up to 255 characters).".into(),
            );
        }
        if draft.client_secret.len() > 1024
            || (draft.client_secret.trim().is_empty() && !had_secret)
        {
            errors.insert(
                "client_secret".into(),
                "Give the client secret the provider issued.".into(),
            );
        }
        let scopes = words(&draft.scopes);
        if scopes.len() > 50
            || scopes
                .iter()
                .any(|s| s.len() > 200 || s.chars().any(|c| c.is_control() || c == '"'))
        {
            errors.insert(
                "scopes".into(),
                "At most 50 scopes of up to 200 characters.".into(),
            );
        }
        fields = (authorize, token, client_id, scopes);
    }
    let mut mcp_server_ids = Vec::new();
    for key in draft
        .mcp_servers
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        match servers.get(key) {
            Some(id) if !mcp_server_ids.contains(id) => mcp_server_ids.push(id.clone()),
            Some(_) => {}
            None => {
                errors.insert("mcp_servers".into(), format!("No MCP server is “{key}”."));
            }
        }
    }
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return Err(errors);
    };
    let (authorization_endpoint, token_endpoint, client_id, scopes) = fields;
    Ok(ConnectionProvider {
        id,
        slug,
        name,
        kind,
        authorization_endpoint,
        token_endpoint,
        client_id,
        scopes,
        mcp_server_ids,
        created_at,
        updated_at: now,
    })
}

/// A connections policy before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionPolicyDraft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Provider ids or slugs, with the provider scopes allowed.
    #[serde(default)]
    pub allows: Vec<ConnectionAllow>,
}

/// Checks a connections policy. `providers` maps each provider's id and slug to its id and
/// scopes.
pub fn validate_policy(
    draft: &ConnectionPolicyDraft,
    providers: &BTreeMap<String, (String, Vec<String>)>,
    id: String,
) -> Result<ConnectionPolicy, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = checked_name(&draft.name, &draft.description, &mut errors);
    let conditions = checked_conditions(&draft.conditions, &mut errors);
    let mut allows: Vec<ConnectionAllow> = Vec::new();
    for (i, a) in draft.allows.iter().enumerate() {
        let Some((provider_id, known)) = providers.get(a.provider_id.trim()) else {
            errors.insert(
                format!("allows[{i}]"),
                "No connection provider is this.".into(),
            );
            continue;
        };
        let scopes = match known_scopes(&a.scopes, known) {
            Ok(scopes) => scopes,
            Err(unknown) => {
                errors.insert(
                    format!("allows[{i}]"),
                    format!("This provider has no scope {}.", unknown.join(", ")),
                );
                continue;
            }
        };
        allows.push(ConnectionAllow {
            provider_id: provider_id.clone(),
            scopes,
        });
    }
    if allows.is_empty() && !errors.keys().any(|k| k.starts_with("allows")) {
        errors.insert(
            "allows".into(),
            "Name at least one provider the policy allows.".into(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ConnectionPolicy {
        id,
        name,
        description: draft.description.trim().to_owned(),
        conditions,
        allows,
    })
}
