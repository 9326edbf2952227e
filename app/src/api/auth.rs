//! The authorization journey's pages: sign-in, second factor, tenant choice and consent.
//! Each server function asks the server's [`Screens`](crate::api::screen) for what its page
//! shows; the journey state machine in `core` has already decided which step this is.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::screen::Screen;

/// The CSRF token and journey id every form on these pages posts back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormKeys {
    pub csrf: String,
    /// `None` outside an authorization (signing in to the account page).
    pub journey: Option<String>,
}

impl FormKeys {
    /// `path`, with the journey id in the query inside an authorization, so the page a form's
    /// answer renders knows its journey just as the page that sent it did.
    pub fn action(&self, path: &str) -> String {
        match &self.journey {
            Some(id) => format!("{path}?journey={}", encode_query_value(id)),
            None => path.to_owned(),
        }
    }
}

/// Percent-encodes a query value (journey ids are URL-safe already; this keeps any other
/// value from breaking the URL).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInView {
    pub keys: FormKeys,
    /// What was typed before, when the form is shown again.
    pub email: String,
    pub error: Option<String>,
    /// Passkeys work on this deployment (it is served from a domain name).
    pub passkeys: bool,
    /// Some tenant signs its people in through its own provider.
    #[serde(default)]
    pub sso: bool,
}

/// A password that must be replaced before the sign-in completes (a one-time password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPasswordView {
    pub keys: FormKeys,
    pub email: String,
    pub min_length: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    pub keys: FormKeys,
    pub email: String,
    /// Finishing a sign-in (`true`) or stepping up before sensitive scopes.
    pub completing_sign_in: bool,
    pub totp: bool,
    pub passkeys: bool,
    pub recovery_codes_left: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub keys: FormKeys,
    pub tenants: Vec<TenantChoice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantChoice {
    pub id: String,
    pub name: String,
    /// The person's roles there, or "member".
    pub roles: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub keys: FormKeys,
    pub agent: AgentCard,
    /// Where the code goes back to.
    pub redirect_host: String,
    pub server_name: String,
    pub tenant_name: Option<String>,
    /// A remembered grant exists: scopes it does not cover are marked new.
    pub remembered: bool,
    pub scopes: Vec<ScopeRow>,
    /// At least one requested scope can be granted (otherwise there is no "Allow").
    pub grantable: bool,
    /// Accounts this MCP server can use for the person (connection providers it names).
    pub connections: Vec<crate::api::account::ConnectionRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCard {
    pub name: String,
    /// An https logo, if the agent has one.
    pub logo_uri: Option<String>,
    pub trust: TrustBadge,
}

/// How the agent came to be known, as the consent page labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrustBadge {
    Verified,
    Admin,
    Dcr,
    Cimd,
}

impl TrustBadge {
    pub fn label(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Admin => "registered by an admin",
            Self::Dcr => "self-registered (DCR)",
            Self::Cimd => "metadata document (CIMD)",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Verified | Self::Admin => "badge ok",
            Self::Dcr => "badge warn",
            Self::Cimd => "badge",
        }
    }
}

/// One requested scope on the consent page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRow {
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// Locked on.
    pub mandatory: bool,
    pub sensitive: bool,
    /// The switch starts on.
    pub default_on: bool,
    /// Not covered by the remembered grant.
    pub new: bool,
    /// Covered by the remembered grant: shown locked on, so only what is new is decided.
    pub allowed_before: bool,
    /// Why the policies do not allow it, when they do not.
    pub unavailable: Option<String>,
}

impl ScopeRow {
    /// An id for the switch, from the scope name.
    pub fn element_id(&self) -> String {
        format!(
            "scope-{}",
            self.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        )
    }
}

#[server(endpoint = "sign_in_screen")]
pub async fn sign_in_screen(journey: Option<String>) -> Result<Screen<SignInView>, ServerFnError> {
    use crate::api::screen::{respond, screens};
    let (screens, request) = screens()?;
    Ok(respond(screens.sign_in(request, journey).await))
}

#[server(endpoint = "new_password_screen")]
pub async fn new_password_screen(
    journey: Option<String>,
) -> Result<Screen<NewPasswordView>, ServerFnError> {
    use crate::api::screen::{respond, screens};
    let (screens, request) = screens()?;
    Ok(respond(screens.new_password(request, journey).await))
}

#[server(endpoint = "verify_screen")]
pub async fn verify_screen(journey: Option<String>) -> Result<Screen<VerifyView>, ServerFnError> {
    use crate::api::screen::{respond, screens};
    let (screens, request) = screens()?;
    Ok(respond(screens.verify(request, journey).await))
}

#[server(endpoint = "tenant_screen")]
pub async fn tenant_screen(journey: Option<String>) -> Result<Screen<TenantView>, ServerFnError> {
    use crate::api::screen::{respond, screens};
    let (screens, request) = screens()?;
    Ok(respond(screens.tenant(request, journey).await))
}

#[server(endpoint = "consent_screen")]
pub async fn consent_screen(journey: Option<String>) -> Result<Screen<ConsentView>, ServerFnError> {
    use crate::api::screen::{respond, screens};
    let (screens, request) = screens()?;
    Ok(respond(screens.consent(request, journey).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_switch_ids_are_safe_for_html() {
        let row = ScopeRow {
            name: "notes.write:all".into(),
            display_name: String::new(),
            description: String::new(),
            mandatory: false,
            sensitive: false,
            default_on: true,
            new: false,
            allowed_before: false,
            unavailable: None,
        };
        assert_eq!(row.element_id(), "scope-notes-write-all");
    }

    #[test]
    fn form_actions_carry_the_journey() {
        let keys = FormKeys {
            csrf: "c".into(),
            journey: Some("a b&c".into()),
        };
        assert_eq!(keys.action("/sign-in"), "/sign-in?journey=a%20b%26c");
        let outside = FormKeys {
            csrf: "c".into(),
            journey: None,
        };
        assert_eq!(outside.action("/sign-in"), "/sign-in");
    }

    #[test]
    fn trust_badges_say_how_the_agent_is_known() {
        assert_eq!(TrustBadge::Dcr.label(), "self-registered (DCR)");
        assert_eq!(TrustBadge::Dcr.class(), "badge warn");
        assert_eq!(TrustBadge::Verified.class(), "badge ok");
    }
}
