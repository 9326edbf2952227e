//! Tenant single sign-on rules, as pure functions: which tenant's OpenID provider an email
//! must sign in with, whether an identity the provider returned may sign in to that tenant,
//! and which Mandate roles its groups map to. The protocol itself (discovery, PKCE, nonce, ID
//! token validation) is the server's, with the `openidconnect` crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::UnixMillis;

/// Where every tenant's provider sends people back (registered at the provider).
pub const SSO_CALLBACK_PATH: &str = "/sign-in/sso/callback";

/// The redirect URI of a deployment at `public_url`, as providers must have it registered.
pub fn sso_redirect_uri(public_url: &str) -> String {
    format!("{}{SSO_CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

/// A tenant's upstream OpenID provider (its client secret is stored sealed, apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoSettings {
    pub tenant_id: String,
    /// The provider's issuer; its discovery document is `{issuer}/.well-known/openid-configuration`.
    pub issuer_url: String,
    pub client_id: String,
    /// Requested at the provider; always includes `openid`.
    pub scopes: Vec<String>,
    /// Emails of these domains belong to this provider (lower-case).
    pub email_domains: Vec<String>,
    /// People with such an email sign in only through the provider (no password).
    pub enforce: bool,
    /// The ID token claim holding the person's groups (`groups`; a dotted path reaches into
    /// objects, e.g. `realm_access.roles`).
    pub groups_claim: String,
    /// Provider group → Mandate roles in the tenant.
    pub role_mapping: BTreeMap<String, Vec<String>>,
    pub updated_at: UnixMillis,
}

/// The lower-cased domain of an email (`None` when it has no `@`).
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

impl SsoSettings {
    /// Whether `email` is one of this provider's domains.
    pub fn owns(&self, email: &str) -> bool {
        email_domain(email).is_some_and(|d| {
            self.email_domains
                .iter()
                .any(|owned| owned.eq_ignore_ascii_case(&d))
        })
    }
}

/// The provider `email` must sign in with: the first one that enforces SSO for its domain.
pub fn enforced_for<'a>(email: &str, all: &'a [SsoSettings]) -> Option<&'a SsoSettings> {
    all.iter().find(|s| s.enforce && s.owns(email))
}

/// The provider `email` may sign in with (enforced or not).
pub fn offered_for<'a>(email: &str, all: &'a [SsoSettings]) -> Option<&'a SsoSettings> {
    enforced_for(email, all).or_else(|| all.iter().find(|s| s.owns(email)))
}

/// Why an identity the provider vouched for cannot sign in to the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRefusal {
    /// The ID token has no email.
    NoEmail,
    /// The provider says the email is not verified.
    EmailNotVerified,
    /// The email is not one of the tenant's SSO domains: a provider may only sign in people of
    /// the domains the tenant claims, or it could take over anyone's account.
    ForeignDomain(String),
}

impl IdentityRefusal {
    /// For the audit log and the person's page.
    pub fn reason(&self) -> String {
        match self {
            Self::NoEmail => "the provider did not say who you are (no email)".into(),
            Self::EmailNotVerified => "the provider has not verified your email".into(),
            Self::ForeignDomain(domain) => {
                format!("{domain} is not one of this organization's single sign-on domains")
            }
        }
    }
}

/// The normalised email of a provider's identity, if it may sign in to the tenant.
pub fn accept_identity(
    email: Option<&str>,
    email_verified: Option<bool>,
    settings: &SsoSettings,
) -> Result<String, IdentityRefusal> {
    let email = email
        .and_then(crate::model::user::normalize_email)
        .ok_or(IdentityRefusal::NoEmail)?;
    if email_verified == Some(false) {
        return Err(IdentityRefusal::EmailNotVerified);
    }
    if !settings.owns(&email) {
        return Err(IdentityRefusal::ForeignDomain(
            email_domain(&email).unwrap_or_default(),
        ));
    }
    Ok(email)
}

/// Whether a provider's identity may be linked to an existing Mandate account with its email
/// (a first sign-in through the provider). A tenant's admins choose its provider, and its
/// domains are the tenant's (one provider per domain), so it speaks for that tenant's people
/// and for accounts in no tenant yet; never for a project admin, and never for someone only
/// other tenants know (that would be one tenant's admins taking over another's member).
pub fn may_link_existing(is_project_admin: bool, member_of: &[&str], tenant_id: &str) -> bool {
    !is_project_admin && (member_of.is_empty() || member_of.contains(&tenant_id))
}

/// The groups in an ID token's claims at `claim` (a dotted path): an array of strings or one
/// string; anything else is no groups.
pub fn groups_of(claims: &Value, claim: &str) -> Vec<String> {
    let mut at = claims;
    for part in claim.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => return Vec::new(),
        }
    }
    match at {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The Mandate roles `groups` map to: every mapped role of every group, sorted, once each.
/// Groups without a mapping give nothing.
pub fn mapped_roles(groups: &[String], mapping: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut roles: Vec<String> = groups
        .iter()
        .filter_map(|g| mapping.get(g))
        .flatten()
        .cloned()
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Reads a mapping typed one line per group: `group = role, role`.
pub fn parse_role_mapping(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut mapping = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((group, roles)) = line.split_once('=') else {
            return Err(format!("Line {}: write it as “group = role, role”.", n + 1));
        };
        let group = group.trim();
        let roles: Vec<String> = roles
            .split([',', ' '])
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        if group.is_empty() || roles.is_empty() {
            return Err(format!(
                "Line {}: name a group and at least one role.",
                n + 1
            ));
        }
        if group.len() > 200 || roles.iter().any(|r| r.len() > 100) {
            return Err(format!("Line {}: a name is too long.", n + 1));
        }
        mapping
            .entry(group.to_owned())
            .or_insert_with(Vec::new)
            .extend(roles);
    }
    Ok(mapping)
}

/// A mapping as [`parse_role_mapping`] reads it.
pub fn role_mapping_text(mapping: &BTreeMap<String, Vec<String>>) -> String {
    mapping
        .iter()
        .map(|(group, roles)| format!("{group} = {}", roles.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(domains: &[&str], enforce: bool) -> SsoSettings {
        SsoSettings {
            tenant_id: "t1".into(),
            issuer_url: "https://idp.example".into(),
            client_id: "mandate".into(),
            scopes: vec!["openid".into(), "email".into()],
            email_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            enforce,
            groups_claim: "groups".into(),
            role_mapping: BTreeMap::new(),
            updated_at: 0,
        }
    }

    #[test]
    fn an_email_of_an_enforcing_domain_goes_to_that_provider_whatever_its_case() {
        let all = [
            settings(&["acme.example"], false),
            settings(&["globex.example"], true),
        ];
        assert_eq!(
            enforced_for("Ada@GLOBEX.example", &all).map(|s| &s.email_domains[0]),
            Some(&"globex.example".to_owned())
        );
        assert!(
            enforced_for("ada@acme.example", &all).is_none(),
            "offered, not enforced"
        );
        assert!(offered_for("ada@acme.example", &all).is_some());
        assert!(
            enforced_for("ada@sub.globex.example", &all).is_none(),
            "exact domains only"
        );
        assert!(enforced_for("not-an-email", &all).is_none());
        assert!(enforced_for("@globex.example", &all).is_none());
    }

    #[test]
    fn only_verified_emails_of_the_tenants_domains_may_sign_in() {
        let s = settings(&["globex.example"], true);
        assert_eq!(
            accept_identity(Some(" Ada@Globex.example "), Some(true), &s),
            Ok("ada@globex.example".into())
        );
        assert_eq!(
            accept_identity(Some("ada@globex.example"), None, &s),
            Ok("ada@globex.example".into()),
            "providers that do not say are trusted for their own domains"
        );
        assert_eq!(
            accept_identity(Some("ada@globex.example"), Some(false), &s),
            Err(IdentityRefusal::EmailNotVerified)
        );
        assert_eq!(
            accept_identity(Some("boss@acme.example"), Some(true), &s),
            Err(IdentityRefusal::ForeignDomain("acme.example".into())),
            "a provider cannot sign in someone of another domain"
        );
        assert_eq!(
            accept_identity(None, Some(true), &s),
            Err(IdentityRefusal::NoEmail)
        );
        assert_eq!(
            accept_identity(Some("nobody"), None, &s),
            Err(IdentityRefusal::NoEmail)
        );
    }

    #[test]
    fn a_provider_speaks_for_its_tenants_people_and_never_for_a_project_admin() {
        assert!(may_link_existing(false, &["t1"], "t1"));
        assert!(
            may_link_existing(false, &["t2", "t1"], "t1"),
            "also elsewhere: still ours"
        );
        assert!(may_link_existing(false, &[], "t1"), "in no tenant yet");
        assert!(
            !may_link_existing(true, &["t1"], "t1"),
            "never a project admin"
        );
        assert!(
            !may_link_existing(false, &["t2"], "t1"),
            "only another tenant's member"
        );
    }

    #[test]
    fn groups_are_read_at_a_dotted_path_and_mapped_to_roles() {
        let claims = json!({
            "groups": ["finance", "staff", 7],
            "realm_access": { "roles": "admins" },
            "odd": { "x": 1 }
        });
        assert_eq!(groups_of(&claims, "groups"), vec!["finance", "staff"]);
        assert_eq!(groups_of(&claims, "realm_access.roles"), vec!["admins"]);
        assert!(groups_of(&claims, "odd").is_empty());
        assert!(groups_of(&claims, "missing.path").is_empty());
        let mapping =
            parse_role_mapping("finance = approver, member\nstaff = member\n\n").expect("mapping");
        assert_eq!(
            mapped_roles(
                &["finance".into(), "staff".into(), "unmapped".into()],
                &mapping
            ),
            vec!["approver", "member"]
        );
        assert!(mapped_roles(&[], &mapping).is_empty());
    }

    #[test]
    fn a_role_mapping_reads_back_what_it_writes_and_refuses_half_lines() {
        let mapping =
            parse_role_mapping("engineering = engineer\nfinance = approver, member").expect("ok");
        assert_eq!(
            parse_role_mapping(&role_mapping_text(&mapping)),
            Ok(mapping)
        );
        for bad in ["engineering", "= engineer", "finance = ", "x = a\ny"] {
            assert!(parse_role_mapping(bad).is_err(), "{bad:?}");
        }
    }
}
