//! Tenants: project admins create them; a tenant's admins edit it and decide, per agent and
//! MCP server, to approve (with scopes) or block the agent for their tenant. A tenant admin
//! who names another tenant gets "not found", never its data.

use serde::{Deserialize, Serialize};

use super::{invalid, project_only, AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::ids::{AgentId, McpServerId};
use crate::model::mcp_server::is_valid_slug;
use crate::model::Tenant;
use crate::policy::draft::FieldErrors;
use crate::store::people::TenantApproval;
use crate::store::tenants::new_tenant;
use crate::store::Store;

const NOT_FOUND: &str = "No tenant you administer has this id or slug.";

/// A tenant's settings as an admin types them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TenantDraft {
    /// Fixed once created.
    pub slug: String,
    pub name: String,
    pub email_domains: Vec<String>,
    /// An https address of the tenant's logo (shown as a link; Mandate never fetches it).
    pub logo_url: String,
}

/// A checked draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTenant {
    pub slug: String,
    pub name: String,
    /// Lowercase, without duplicates.
    pub email_domains: Vec<String>,
    pub logo_url: Option<String>,
}

/// An https URL without credentials, or a reason.
fn logo_error(text: &str) -> Option<&'static str> {
    match url::Url::parse(text) {
        Ok(u)
            if u.scheme() == "https"
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            None
        }
        _ => Some("Give an https address of an image, or leave it empty."),
    }
}

/// Checks a draft.
pub fn validate(draft: &TenantDraft) -> Result<CheckedTenant, FieldErrors> {
    let mut errors = FieldErrors::new();
    let slug = draft.slug.trim().to_owned();
    if !is_valid_slug(&slug) {
        errors.insert(
            "slug".into(),
            "1 to 63 lowercase letters, digits and inner dashes, e.g. acme.".into(),
        );
    }
    let name = draft.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.insert(
            "name".into(),
            "Give the tenant a name of 1 to 100 characters.".into(),
        );
    }
    let mut domains = Vec::new();
    for d in &draft.email_domains {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        let fine = d.contains('.')
            && d.len() <= 253
            && d.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !fine {
            errors.insert(
                "email_domains".into(),
                format!("“{d}” is not a domain name."),
            );
        } else if !domains.contains(&d) {
            domains.push(d);
        }
    }
    let logo = draft.logo_url.trim();
    if let Some(message) = (!logo.is_empty()).then(|| logo_error(logo)).flatten() {
        errors.insert("logo_url".into(), message.into());
    }
    if errors.is_empty() {
        Ok(CheckedTenant {
            slug,
            name,
            email_domains: domains,
            logo_url: (!logo.is_empty()).then(|| logo.to_owned()),
        })
    } else {
        Err(errors)
    }
}

/// Every tenant the caller administers.
pub async fn list(store: &Store, access: &AdminAccess) -> AdminResult<Vec<Tenant>> {
    Ok(store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| access.sees_tenant(Some(t.id.as_str())))
        .collect())
}

/// A tenant by id or slug, if the caller administers it.
pub async fn find(store: &Store, access: &AdminAccess, key: &str) -> AdminResult<Tenant> {
    let key = key.trim();
    store
        .list_tenants()
        .await?
        .into_iter()
        .find(|t| {
            (t.slug == key || t.id.as_str() == key) && access.sees_tenant(Some(t.id.as_str()))
        })
        .ok_or(AdminError::NotFound(NOT_FOUND))
}

pub async fn create(
    store: &Store,
    access: &AdminAccess,
    draft: &TenantDraft,
    now: UnixMillis,
) -> AdminResult<Tenant> {
    project_only(access, "Only project admins create tenants.")?;
    let checked = validate(draft).map_err(AdminError::Invalid)?;
    if store.tenant_by_slug(&checked.slug).await?.is_some() {
        return Err(invalid("slug", "Another tenant has this slug."));
    }
    let domains: Vec<&str> = checked.email_domains.iter().map(String::as_str).collect();
    let tenant = Tenant {
        logo_url: checked.logo_url.clone(),
        ..new_tenant(&checked.slug, &checked.name, &domains, now)
    };
    store.insert_tenant(&tenant).await.map_err(|e| match e {
        crate::CoreError::AlreadyExists { .. } => invalid("slug", "Another tenant has this slug."),
        e => e.into(),
    })?;
    Ok(tenant)
}

/// Renames a tenant and sets its email domains (the slug stays); returns (before, after).
pub async fn update(
    store: &Store,
    access: &AdminAccess,
    key: &str,
    draft: &TenantDraft,
) -> AdminResult<(Tenant, Tenant)> {
    let before = find(store, access, key).await?;
    let with_slug = TenantDraft {
        slug: before.slug.clone(),
        ..draft.clone()
    };
    let checked = validate(&with_slug).map_err(AdminError::Invalid)?;
    store
        .update_tenant(
            &before.slug,
            &checked.name,
            &checked.email_domains,
            checked.logo_url.as_deref(),
        )
        .await?;
    let after = Tenant {
        name: checked.name,
        email_domains: checked.email_domains,
        logo_url: checked.logo_url,
        ..before.clone()
    };
    Ok((before, after))
}

/// A tenant admin's decision about an agent on a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ApprovalDraft {
    /// The agent's client id.
    pub agent: String,
    /// The MCP server's id or slug.
    pub mcp_server: String,
    /// `approved`, `blocked`, or `none` (withdraw the decision).
    pub decision: String,
    /// With `approved`: the scopes it covers (empty: every scope of the server).
    pub scopes: Vec<String>,
}

/// Records (or withdraws) the tenant's decision; returns (before, after).
pub async fn decide(
    store: &Store,
    access: &AdminAccess,
    tenant_key: &str,
    draft: &ApprovalDraft,
    now: UnixMillis,
) -> AdminResult<(Option<TenantApproval>, Option<TenantApproval>)> {
    let tenant = find(store, access, tenant_key).await?;
    let mut errors = FieldErrors::new();
    let agent = store
        .agent(&AgentId::from_string(draft.agent.trim()))
        .await?;
    if agent.is_none() {
        errors.insert("agent".into(), "No agent has this client id.".into());
    }
    let key = draft.mcp_server.trim();
    let server = match store.mcp_server(&McpServerId::from_string(key)).await? {
        Some(s) => Some(s),
        None => store.mcp_server_by_slug(key).await?,
    };
    let known = match &server {
        Some(s) => store.scopes_of(&s.id).await?,
        None => {
            errors.insert(
                "mcp_server".into(),
                "No MCP server has this id or slug.".into(),
            );
            Vec::new()
        }
    };
    let decision = draft.decision.trim();
    if !matches!(decision, "approved" | "blocked" | "none") {
        errors.insert("decision".into(), "One of approved, blocked, none.".into());
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in draft
        .scopes
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        if !known.iter().any(|k| k.name == s) && server.is_some() {
            errors.insert("scopes".into(), format!("The server has no scope {s}."));
        } else if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    let (Some(agent), Some(server), true) = (agent, server, errors.is_empty()) else {
        return Err(AdminError::Invalid(errors));
    };
    if decision == "approved" && scopes.is_empty() {
        scopes = known.into_iter().map(|s| s.name).collect();
    }
    let (t, a, s) = (tenant.id.as_str(), agent.id.as_str(), server.id.as_str());
    let before = store.tenant_approval(t, a, s).await?;
    if decision == "none" {
        store.delete_tenant_approval(t, a, s).await?;
        return Ok((before, None));
    }
    let after = TenantApproval {
        tenant_id: t.to_owned(),
        agent_id: a.to_owned(),
        mcp_server_id: s.to_owned(),
        decision: decision.to_owned(),
        scopes: if decision == "blocked" {
            Vec::new()
        } else {
            scopes
        },
        decided_by: Some(access.user().to_string()),
        decided_at: now,
    };
    store.set_tenant_approval(&after).await?;
    Ok((before, Some(after)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_checked_and_domains_cleaned() {
        let draft = TenantDraft {
            slug: "acme".into(),
            name: " Acme ".into(),
            email_domains: vec!["@Acme.Example".into(), "".into(), "acme.example".into()],
            logo_url: " https://acme.example/logo.svg ".into(),
        };
        assert_eq!(
            validate(&draft),
            Ok(CheckedTenant {
                slug: "acme".into(),
                name: "Acme".into(),
                email_domains: vec!["acme.example".into()],
                logo_url: Some("https://acme.example/logo.svg".into()),
            })
        );
        let bad = TenantDraft {
            slug: "Acme Corp".into(),
            name: "".into(),
            email_domains: vec!["not a domain".into()],
            logo_url: "javascript:alert(1)".into(),
        };
        let errors = validate(&bad).expect_err("refused");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["email_domains", "logo_url", "name", "slug"]
        );
        for bad in [
            "http://acme.example/l.png",
            "https://user:pw@acme.example/l.png",
        ] {
            let draft = TenantDraft {
                slug: "acme".into(),
                name: "Acme".into(),
                logo_url: bad.into(),
                ..TenantDraft::default()
            };
            assert!(validate(&draft).is_err(), "{bad}");
        }
    }
}
