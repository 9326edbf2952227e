//! Discovery documents: RFC 8414 authorization server metadata for each MCP server's issuer,
//! and RFC 9728 protected resource metadata on an MCP server's behalf. Pure builders: they list
//! exactly what Mandate implements.

use serde::Serialize;

use crate::model::McpServer;

/// RFC 8414 §2.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 9207 §3.
    pub authorization_response_iss_parameter_supported: bool,
    /// Client ID Metadata Documents (MCP authorization, 2025-11-25 and later).
    pub client_id_metadata_document_supported: bool,
    /// RFC 8707 is implemented; resource indicators select the MCP server.
    pub resource_indicators_supported: bool,
    /// RFC 9068 access tokens.
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
    pub service_documentation: String,
}

/// The client authentication methods the token endpoint accepts.
pub const TOKEN_AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];
/// The grant types the token endpoint accepts.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// What the metadata lists: [`GRANT_TYPES`] and RFC 8693 token exchange, which only agents an
/// admin created for an MCP server's back end may use (never a self-registered one).
pub const ADVERTISED_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    crate::connections::exchange::GRANT_TYPE,
];

impl AuthorizationServerMetadata {
    /// The metadata of `server`'s issuer under `base_url`, listing `scopes`.
    pub fn for_server(base_url: &str, server: &McpServer, scopes: Vec<String>) -> Self {
        let issuer = server.issuer(base_url);
        let endpoint = |path: &str| format!("{issuer}/{path}");
        Self {
            authorization_endpoint: endpoint("authorize"),
            token_endpoint: endpoint("token"),
            registration_endpoint: endpoint("register"),
            revocation_endpoint: endpoint("revoke"),
            introspection_endpoint: endpoint("introspect"),
            userinfo_endpoint: endpoint("userinfo"),
            jwks_uri: endpoint("jwks.json"),
            scopes_supported: scopes,
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: ADVERTISED_GRANT_TYPES.to_vec(),
            code_challenge_methods_supported: vec!["S256"],
            token_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS.to_vec(),
            revocation_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS.to_vec(),
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
            ],
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: server.cimd_enabled,
            resource_indicators_supported: true,
            access_token_signing_alg_values_supported: vec!["ES256"],
            service_documentation: format!("{}/", base_url.trim_end_matches('/')),
            issuer,
        }
    }
}

/// RFC 9728 §2, published for an MCP server that delegates its document to Mandate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub bearer_methods_supported: Vec<&'static str>,
    pub resource_name: String,
}

impl ProtectedResourceMetadata {
    pub fn for_server(base_url: &str, server: &McpServer, scopes: Vec<String>) -> Self {
        Self {
            resource: server.resource_url.clone(),
            authorization_servers: vec![server.issuer(base_url)],
            scopes_supported: scopes,
            bearer_methods_supported: vec!["header"],
            resource_name: server.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> McpServer {
        McpServer::new("demo-notes", "Demo Notes", "http://localhost:4000/mcp", 0)
    }

    #[test]
    fn metadata_lists_exactly_what_is_implemented() {
        let m = AuthorizationServerMetadata::for_server(
            "http://localhost:3000",
            &server(),
            vec!["notes.read".into()],
        );
        assert_eq!(m.issuer, "http://localhost:3000/s/demo-notes");
        assert_eq!(m.token_endpoint, "http://localhost:3000/s/demo-notes/token");
        assert_eq!(m.response_types_supported, ["code"]);
        assert_eq!(m.code_challenge_methods_supported, ["S256"]);
        assert!(m.authorization_response_iss_parameter_supported);
        assert!(m.client_id_metadata_document_supported);
        assert!(!m
            .token_endpoint_auth_methods_supported
            .contains(&"private_key_jwt"));
        let json = serde_json::to_value(&m).expect("json");
        assert_eq!(json["scopes_supported"][0], "notes.read");
    }

    #[test]
    fn protected_resource_points_at_the_issuer() {
        let p = ProtectedResourceMetadata::for_server("http://localhost:3000/", &server(), vec![]);
        assert_eq!(p.resource, "http://localhost:4000/mcp");
        assert_eq!(
            p.authorization_servers,
            ["http://localhost:3000/s/demo-notes"]
        );
    }
}
