//! Identifier newtypes, so a tenant id can never be passed where a user id is expected.
//! Stored as TEXT; generated as UUIDv7 (time-ordered, which keeps B-tree inserts local).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Wraps an id read from storage or a request.
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An organisation an agent can act in.
    TenantId
);
id_type!(
    /// A person who signs in.
    UserId
);
id_type!(
    /// A registered MCP server (one issuer each).
    McpServerId
);
id_type!(
    /// An agent, i.e. an OAuth client; the value is its `client_id`.
    AgentId
);
id_type!(
    /// An admin-authored access policy.
    PolicyId
);
id_type!(
    /// A remembered consent of one user for one agent in one tenant on one MCP server.
    GrantId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique() {
        let a = TenantId::generate();
        let b = TenantId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
    }
}
