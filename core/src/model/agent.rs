//! Agents: the OAuth clients that act for people (or for themselves with client_credentials).

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::AgentId;

/// How the agent came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// Created by an admin in the console or API.
    Manual,
    /// Self-registered through RFC 7591 dynamic client registration.
    Dcr,
    /// Identified by a Client ID Metadata Document URL.
    Cimd,
}

/// How far the person approving it can trust the agent's stated identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TrustLevel {
    /// An admin checked and marked it verified.
    Verified,
    /// Registered by an admin.
    Admin,
    /// Self-registered (DCR).
    Dcr,
    /// Known through its metadata document (CIMD).
    Cimd,
}

/// RFC 6749 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Public,
    Confidential,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

text_enum!(AgentKind { Manual => "manual", Dcr => "dcr", Cimd => "cimd" });
text_enum!(TrustLevel { Verified => "verified", Admin => "admin", Dcr => "dcr", Cimd => "cimd" });
text_enum!(ClientType { Public => "public", Confidential => "confidential" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// The OAuth `client_id`.
    pub id: AgentId,
    pub name: String,
    pub kind: AgentKind,
    pub trust_level: TrustLevel,
    pub client_type: ClientType,
    /// RFC 7591 `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub tags: Vec<String>,
    pub logo_uri: Option<String>,
    /// RFC 7591 `application_type`: `web` or `native`.
    pub application_type: String,
    /// The `scope` it registered with: informational, never a cap (step-up asks for more).
    pub scope: String,
    /// For DCR agents: the MCP server whose `/register` created it.
    pub registered_at_server: Option<String>,
    pub disabled: bool,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
}

impl Agent {
    /// A self-registered agent unused for longer than `unused_secs` has expired: it can no
    /// longer authorize or get tokens, so abandoned registrations do not linger.
    pub fn is_expired_registration(&self, unused_secs: i64, now: UnixMillis) -> bool {
        self.kind == AgentKind::Dcr
            && now - self.last_used_at.unwrap_or(self.created_at) > unused_secs.saturating_mul(1000)
    }
}

#[cfg(test)]
impl Agent {
    /// An enabled, public, admin-registered agent for tests; struct-update the fields a test needs.
    pub(crate) fn sample(id: &str) -> Self {
        Agent {
            id: AgentId::from_string(id),
            name: id.into(),
            kind: AgentKind::Manual,
            trust_level: TrustLevel::Admin,
            client_type: ClientType::Public,
            token_endpoint_auth_method: "none".into(),
            redirect_uris: vec![],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            tags: vec![],
            logo_uri: None,
            application_type: "web".into(),
            scope: String::new(),
            registered_at_server: None,
            disabled: false,
            created_at: 0,
            last_used_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_dcr_agents_expire_and_others_do_not() {
        let mut agent = Agent {
            kind: AgentKind::Dcr,
            trust_level: TrustLevel::Dcr,
            ..Agent::sample("a")
        };
        assert!(!agent.is_expired_registration(10, 10_000));
        assert!(agent.is_expired_registration(10, 10_001));
        agent.last_used_at = Some(5_000);
        assert!(!agent.is_expired_registration(10, 15_000), "use renews it");
        agent.kind = AgentKind::Manual;
        assert!(
            !agent.is_expired_registration(10, 1_000_000),
            "admin-made agents never expire"
        );
    }

    #[test]
    fn text_forms_round_trip() {
        for kind in [AgentKind::Manual, AgentKind::Dcr, AgentKind::Cimd] {
            assert_eq!(AgentKind::parse(kind.as_str()), Some(kind));
        }
        for level in [
            TrustLevel::Verified,
            TrustLevel::Admin,
            TrustLevel::Dcr,
            TrustLevel::Cimd,
        ] {
            assert_eq!(TrustLevel::parse(level.as_str()), Some(level));
        }
        for ty in [ClientType::Public, ClientType::Confidential] {
            assert_eq!(ClientType::parse(ty.as_str()), Some(ty));
        }
        assert_eq!(TrustLevel::parse("root"), None);
    }
}
