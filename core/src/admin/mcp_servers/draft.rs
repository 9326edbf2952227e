//! An MCP server as an admin types it (console form, API body or config file), checked field
//! by field before it is stored. Pure: no store, no clock.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::mcp_server::is_valid_slug;
use crate::model::{McpServer, Scope, TenantConsent};
use crate::oauth::redirect_uri::is_loopback_host;
use crate::oauth::scope::ScopeSet;
use crate::policy::draft::FieldErrors;

/// The settings of an MCP server and its scopes, before validation. Omitted settings take
/// Mandate's defaults ([`McpServer::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct McpServerDraft {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub resource_url: String,
    pub access_token_ttl_secs: i64,
    pub step_up_window_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub refresh_token_max_secs: i64,
    pub dcr_enabled: bool,
    pub dcr_redirect_hosts: Vec<String>,
    pub dcr_unused_expiry_secs: i64,
    pub cimd_enabled: bool,
    pub cimd_domains: Vec<String>,
    pub cimd_allow_unknown: bool,
    /// `off`, `required` (a tenant admin approves the agent first) or `replaces` (the
    /// tenant's approval is the consent).
    pub tenant_consent: String,
    pub scopes: Vec<ScopeDraft>,
}

impl Default for McpServerDraft {
    fn default() -> Self {
        Self::of(&McpServer::new("", "", "", 0), &[])
    }
}

/// A scope before validation; an empty display name takes the scope's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ScopeDraft {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub sensitive: bool,
    pub mandatory: bool,
    pub default_on: bool,
}

impl Default for ScopeDraft {
    fn default() -> Self {
        Self {
            name: String::new(),
            display_name: String::new(),
            description: String::new(),
            sensitive: false,
            mandatory: false,
            default_on: true,
        }
    }
}

impl From<&Scope> for ScopeDraft {
    fn from(s: &Scope) -> Self {
        Self {
            name: s.name.clone(),
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            sensitive: s.sensitive,
            mandatory: s.mandatory,
            default_on: s.default_on,
        }
    }
}

impl McpServerDraft {
    /// The draft that describes a stored server (the edit form's starting point, an export).
    pub fn of(server: &McpServer, scopes: &[Scope]) -> Self {
        Self {
            slug: server.slug.clone(),
            name: server.name.clone(),
            description: server.description.clone(),
            resource_url: server.resource_url.clone(),
            access_token_ttl_secs: server.access_token_ttl_secs,
            step_up_window_secs: server.step_up_window_secs,
            refresh_token_ttl_secs: server.refresh_token_ttl_secs,
            refresh_token_max_secs: server.refresh_token_max_secs,
            dcr_enabled: server.dcr_enabled,
            dcr_redirect_hosts: server.dcr_redirect_hosts.clone(),
            dcr_unused_expiry_secs: server.dcr_unused_expiry_secs,
            cimd_enabled: server.cimd_enabled,
            cimd_domains: server.cimd_domains.clone(),
            cimd_allow_unknown: server.cimd_allow_unknown,
            tenant_consent: server.tenant_consent.as_str().to_owned(),
            scopes: scopes.iter().map(ScopeDraft::from).collect(),
        }
    }
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 500;
const MAX_SCOPES: usize = 100;
const MINUTE: i64 = 60;
const DAY: i64 = 24 * 3600;

/// Every bound a lifetime field has: (field, lowest, highest, what the error says).
const LIFETIMES: [(&str, i64, i64, &str); 5] = [
    (
        "access_token_ttl_secs",
        MINUTE,
        crate::model::mcp_server::MAX_ACCESS_TOKEN_TTL_SECS,
        "between 60 seconds and one day",
    ),
    (
        "step_up_window_secs",
        0,
        DAY,
        "between 0 seconds and one day",
    ),
    (
        "refresh_token_ttl_secs",
        5 * MINUTE,
        365 * DAY,
        "between 5 minutes and a year",
    ),
    (
        "refresh_token_max_secs",
        5 * MINUTE,
        5 * 365 * DAY,
        "between 5 minutes and five years",
    ),
    (
        "dcr_unused_expiry_secs",
        DAY,
        5 * 365 * DAY,
        "between one day and five years",
    ),
];

fn lifetime(draft: &McpServerDraft, field: &str) -> i64 {
    match field {
        "access_token_ttl_secs" => draft.access_token_ttl_secs,
        "step_up_window_secs" => draft.step_up_window_secs,
        "refresh_token_ttl_secs" => draft.refresh_token_ttl_secs,
        "refresh_token_max_secs" => draft.refresh_token_max_secs,
        _ => draft.dcr_unused_expiry_secs,
    }
}

/// An RFC 8707 resource indicator for an MCP server: an absolute https URL (http only on a
/// loopback host, for local development) without a fragment (RFC 8707 §2).
fn resource_url_error(text: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(text) else {
        return Some("Give the absolute URL of the MCP server, e.g. https://mcp.example.com/mcp.");
    };
    if url.fragment().is_some() {
        return Some("A resource URL has no #fragment (RFC 8707 §2).");
    }
    match url.scheme() {
        "https" if url.host().is_some() => None,
        "http" if is_loopback_host(url.host()) => None,
        "http" => Some("Use https: plain http is only accepted for a loopback host."),
        _ => Some("Give an https URL."),
    }
}

/// `example.com` or `*.example.com`: lowercase DNS labels.
fn is_host_pattern(pattern: &str) -> bool {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn host_patterns(list: &[String], field: &str, errors: &mut FieldErrors) -> Vec<String> {
    let cleaned: Vec<String> = list
        .iter()
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if let Some(bad) = cleaned.iter().find(|p| !is_host_pattern(p)) {
        errors.insert(
            field.into(),
            format!("“{bad}” is not a host name or a *.domain pattern."),
        );
    }
    cleaned
}

fn scopes(drafts: &[ScopeDraft], errors: &mut FieldErrors) -> Vec<Scope> {
    if drafts.is_empty() {
        errors.insert(
            "scopes".into(),
            "Define at least one scope: agents ask for scopes, people approve them.".into(),
        );
    }
    if drafts.len() > MAX_SCOPES {
        errors.insert(
            "scopes".into(),
            format!("A server has at most {MAX_SCOPES} scopes."),
        );
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.iter().enumerate() {
        let name = d.name.trim();
        // RFC 6749 §3.3: one scope token, no spaces or quotes.
        let one_token = ScopeSet::parse(name).is_ok_and(|s| s.len() == 1);
        if !one_token || name.len() > MAX_NAME {
            errors.insert(
                format!("scopes[{i}].name"),
                "A scope name is one word of visible characters without \" or \\ (RFC 6749 §3.3), e.g. notes.read."
                    .into(),
            );
        } else if !seen.insert(name.to_owned()) {
            errors.insert(
                format!("scopes[{i}].name"),
                format!("The scope {name} is defined twice."),
            );
        }
        let display_name = match d.display_name.trim() {
            "" => name,
            given => given,
        };
        if display_name.chars().count() > MAX_NAME {
            errors.insert(
                format!("scopes[{i}].display_name"),
                format!("Keep the display name under {MAX_NAME} characters."),
            );
        }
        if d.description.chars().count() > MAX_DESCRIPTION {
            errors.insert(
                format!("scopes[{i}].description"),
                format!("Keep the description under {MAX_DESCRIPTION} characters."),
            );
        }
        out.push(Scope {
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            description: d.description.trim().to_owned(),
            sensitive: d.sensitive,
            // A mandatory scope is always on.
            mandatory: d.mandatory,
            default_on: d.default_on || d.mandatory,
        });
    }
    out
}

/// The server `draft` describes (keeping `base`'s id and creation time) with its scopes, or
/// every field that is wrong: `slug`, `name`, `description`, `resource_url`, each lifetime,
/// `dcr_redirect_hosts`, `cimd_domains`, `scopes`, `scopes[i].name`, ….
pub fn validate(
    draft: &McpServerDraft,
    base: &McpServer,
) -> Result<(McpServer, Vec<Scope>), FieldErrors> {
    let mut errors = FieldErrors::new();
    let slug = draft.slug.trim();
    if !is_valid_slug(slug) {
        errors.insert(
            "slug".into(),
            "1 to 63 lowercase letters, digits and inner dashes, e.g. notes; it becomes the issuer's last path segment."
                .into(),
        );
    }
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        errors.insert(
            "name".into(),
            format!("Give the server a name of 1 to {MAX_NAME} characters."),
        );
    }
    if draft.description.chars().count() > MAX_DESCRIPTION {
        errors.insert(
            "description".into(),
            format!("Keep the description under {MAX_DESCRIPTION} characters."),
        );
    }
    let resource_url = draft.resource_url.trim();
    if let Some(message) = resource_url_error(resource_url) {
        errors.insert("resource_url".into(), message.into());
    }
    for (field, low, high, words) in LIFETIMES {
        let value = lifetime(draft, field);
        if !(low..=high).contains(&value) {
            errors.insert(field.into(), format!("Give a number of seconds {words}."));
        }
    }
    if draft.refresh_token_ttl_secs > draft.refresh_token_max_secs {
        errors
            .entry("refresh_token_ttl_secs".into())
            .or_insert_with(|| "The sliding lifetime cannot exceed the absolute one.".into());
    }
    let dcr_redirect_hosts =
        host_patterns(&draft.dcr_redirect_hosts, "dcr_redirect_hosts", &mut errors);
    let cimd_domains = host_patterns(&draft.cimd_domains, "cimd_domains", &mut errors);
    let tenant_consent = TenantConsent::parse(draft.tenant_consent.trim()).unwrap_or_else(|| {
        errors.insert(
            "tenant_consent".into(),
            "One of off, required, replaces.".into(),
        );
        TenantConsent::Off
    });
    let scopes = scopes(&draft.scopes, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let server = McpServer {
        id: base.id.clone(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        description: draft.description.trim().to_owned(),
        resource_url: resource_url.to_owned(),
        access_token_ttl_secs: draft.access_token_ttl_secs,
        step_up_window_secs: draft.step_up_window_secs,
        dcr_enabled: draft.dcr_enabled,
        cimd_enabled: draft.cimd_enabled,
        refresh_token_ttl_secs: draft.refresh_token_ttl_secs,
        refresh_token_max_secs: draft.refresh_token_max_secs,
        dcr_redirect_hosts,
        dcr_unused_expiry_secs: draft.dcr_unused_expiry_secs,
        cimd_domains,
        cimd_allow_unknown: draft.cimd_allow_unknown,
        tenant_consent,
        created_at: base.created_at,
    };
    Ok((server, scopes))
}

#[cfg(test)]
#[path = "draft_tests.rs"]
mod tests;
