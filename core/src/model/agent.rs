//! Agents: the OAuth clients that act for people (or for themselves with client_credentials).

use serde::{Deserialize, Serialize};

use crate::clock::UnixMillis;
use crate::ids::AgentId;

/// How the agent came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub disabled: bool,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
