//! A tenant's single sign-on: read, save (the client secret sealed under the master key; left
//! blank on a change, the stored one stays), remove. The tenant's admins or project admins.

use serde::{Deserialize, Serialize};
use url::Url;

use super::tenants::find;
use super::{AdminError, AdminResult};
use crate::access::AdminAccess;
use crate::clock::UnixMillis;
use crate::crypto::MasterKey;
use crate::model::Tenant;
use crate::oauth::redirect_uri::is_loopback_host;
use crate::policy::draft::FieldErrors;
use crate::tenancy::{parse_role_mapping, SsoSettings};

/// The SSO form as an admin sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoDraft {
    pub issuer_url: String,
    pub client_id: String,
    /// Required the first time; empty keeps the stored one.
    #[serde(default)]
    pub client_secret: String,
    /// Space- or comma-separated; `openid` is added when missing.
    #[serde(default)]
    pub scopes: String,
    /// Comma- or space-separated.
    pub email_domains: String,
    #[serde(default)]
    pub enforce: bool,
    /// `groups` when empty.
    #[serde(default)]
    pub groups_claim: String,
    /// One line per group: `group = role, role`.
    #[serde(default)]
    pub role_mapping: String,
}

fn words(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// https, or http on a loopback host (a provider beside Mandate, as in tests).
fn issuer_error(raw: &str) -> Option<&'static str> {
    let Ok(url) = Url::parse(raw) else {
        return Some("Give the provider's issuer URL, e.g. https://login.example.com.");
    };
    if url.host().is_none() {
        return Some("The issuer URL needs a host.");
    }
    let loopback = is_loopback_host(url.host());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Some("The issuer is https (plain http only on a loopback host)."),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Some("An issuer URL has no query, fragment or credentials.");
    }
    None
}

fn domain_ok(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Checks a draft against what is stored (`had_secret`: a secret is on file); returns the
/// settings (without the secret) or the message for each wrong field.
pub fn validate(
    draft: &SsoDraft,
    tenant_id: &str,
    had_secret: bool,
    now: UnixMillis,
) -> Result<SsoSettings, FieldErrors> {
    let mut errors = FieldErrors::new();
    let issuer_url = draft.issuer_url.trim().trim_end_matches('/').to_owned();
    if let Some(message) = issuer_error(&issuer_url) {
        errors.insert("issuer_url".into(), message.into());
    }
    let client_id = draft.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 {
        errors.insert(
            "client_id".into(),
            "Give the client id the provider issued (up to 255 characters).".into(),
        );
    }
    if draft.client_secret.len() > 1024 || (draft.client_secret.trim().is_empty() && !had_secret) {
        errors.insert(
            "client_secret".into(),
            "Give the client secret the provider issued.".into(),
        );
    }
    let mut scopes = words(&draft.scopes);
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    if scopes.len() > 20 || scopes.iter().any(|s| s.len() > 100) {
        errors.insert(
            "scopes".into(),
            "At most 20 scopes of up to 100 characters.".into(),
        );
    }
    let email_domains: Vec<String> = words(&draft.email_domains)
        .into_iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    if email_domains.is_empty() {
        errors.insert(
            "email_domains".into(),
            "Name the email domains this provider signs in.".into(),
        );
    } else if let Some(bad) = email_domains.iter().find(|d| !domain_ok(d)) {
        errors.insert(
            "email_domains".into(),
            format!("“{bad}” is not a domain name."),
        );
    }
    let groups_claim = match draft.groups_claim.trim() {
        "" => "groups".to_owned(),
        claim => claim.to_owned(),
    };
    if groups_claim.len() > 100 {
        errors.insert("groups_claim".into(), "The claim name is too long.".into());
    }
    let role_mapping = match parse_role_mapping(&draft.role_mapping) {
        Ok(mapping) => mapping,
        Err(message) => {
            errors.insert("role_mapping".into(), message);
            Default::default()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SsoSettings {
        tenant_id: tenant_id.to_owned(),
        issuer_url,
        client_id,
        scopes,
        email_domains,
        enforce: draft.enforce,
        groups_claim,
        role_mapping,
        updated_at: now,
    })
}

/// A tenant (by id or slug, one the caller administers) and its SSO settings, if any.
pub async fn get(
    store: &crate::store::Store,
    access: &AdminAccess,
    tenant_key: &str,
) -> AdminResult<(Tenant, Option<SsoSettings>)> {
    let tenant = find(store, access, tenant_key).await?;
    let settings = store.sso_of(tenant.id.as_str()).await?.map(|(s, _)| s);
    Ok((tenant, settings))
}

/// Saves a tenant's SSO; returns (before, after). Another tenant's claim on a domain is
/// refused: one email domain signs in through one provider.
pub async fn save(
    store: &crate::store::Store,
    access: &AdminAccess,
    master: &MasterKey,
    tenant_key: &str,
    draft: &SsoDraft,
    now: UnixMillis,
) -> AdminResult<(Option<SsoSettings>, SsoSettings)> {
    let tenant = find(store, access, tenant_key).await?;
    let stored = store.sso_of(tenant.id.as_str()).await?;
    let settings =
        validate(draft, tenant.id.as_str(), stored.is_some(), now).map_err(AdminError::Invalid)?;
    let others = store.all_sso().await?;
    if let Some(taken) = settings.email_domains.iter().find(|d| {
        others
            .iter()
            .any(|o| o.tenant_id != settings.tenant_id && o.email_domains.contains(d))
    }) {
        return Err(super::invalid(
            "email_domains",
            format!("Another tenant's single sign-on already signs in {taken}."),
        ));
    }
    // The secret is bound to its tenant: a sealed secret copied to another row does not open.
    let sealed = match (draft.client_secret.trim(), &stored) {
        ("", Some((_, sealed))) => sealed.clone(),
        (secret, _) => master.seal(secret.as_bytes(), tenant.id.as_str().as_bytes())?,
    };
    store.put_sso(&settings, &sealed).await?;
    Ok((stored.map(|(s, _)| s), settings))
}

/// Removes a tenant's SSO; returns what it was.
pub async fn remove(
    store: &crate::store::Store,
    access: &AdminAccess,
    tenant_key: &str,
) -> AdminResult<SsoSettings> {
    let (tenant, settings) = get(store, access, tenant_key).await?;
    let settings = settings.ok_or(AdminError::NotFound("This tenant has no single sign-on."))?;
    store.delete_sso(tenant.id.as_str()).await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> SsoDraft {
        SsoDraft {
            issuer_url: "https://login.globex.example/".into(),
            client_id: "mandate".into(),
            client_secret: "s3cret".into(),
            scopes: "email profile".into(),
            email_domains: "Globex.example, globex.test".into(),
            enforce: true,
            groups_claim: String::new(),
            role_mapping: "finance = approver".into(),
        }
    }

    #[test]
    fn a_draft_is_normalised_with_openid_and_the_groups_claim_by_default() {
        let s = validate(&draft(), "t1", false, 5).expect("valid");
        assert_eq!(
            s.issuer_url, "https://login.globex.example",
            "no trailing slash"
        );
        assert_eq!(s.scopes, vec!["openid", "email", "profile"]);
        assert_eq!(s.email_domains, vec!["globex.example", "globex.test"]);
        assert_eq!(s.groups_claim, "groups");
        assert_eq!(s.role_mapping["finance"], vec!["approver"]);
    }

    #[test]
    fn issuers_are_https_or_loopback_and_a_secret_is_needed_the_first_time() {
        for bad in [
            "http://login.example",
            "ftp://x.example",
            "login.example",
            "https://x.example/?a=1",
        ] {
            let mut d = draft();
            d.issuer_url = bad.into();
            assert!(
                validate(&d, "t1", false, 0)
                    .expect_err(bad)
                    .contains_key("issuer_url"),
                "{bad}"
            );
        }
        let mut d = draft();
        d.issuer_url = "http://localhost:4444/oidc".into();
        assert!(validate(&d, "t1", false, 0).is_ok());
        d.client_secret.clear();
        assert!(validate(&d, "t1", false, 0)
            .expect_err("no secret")
            .contains_key("client_secret"));
        assert!(
            validate(&d, "t1", true, 0).is_ok(),
            "the stored secret stays"
        );
    }

    #[test]
    fn domains_and_mappings_are_checked_beside_their_fields() {
        let mut d = draft();
        d.email_domains = "not a domain!".into();
        d.role_mapping = "finance".into();
        d.client_id = String::new();
        let errors = validate(&d, "t1", false, 0).expect_err("three");
        for field in ["email_domains", "role_mapping", "client_id"] {
            assert!(errors.contains_key(field), "{field}: {errors:?}");
        }
        d.email_domains = String::new();
        assert!(validate(&d, "t1", false, 0)
            .expect_err("none")
            .contains_key("email_domains"));
    }
}
