//! What a protected MCP server tells the guard about itself and its authorization server.

use std::collections::BTreeMap;
use std::time::Duration;

/// The guard's settings. `issuer`, `audience` and `jwks_uri` come from the MCP server's
/// entry in Mandate (its issuer `{base}/s/{slug}`, its resource URL, `{issuer}/jwks.json`).
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The only accepted `aud`: this MCP server's resource URL.
    pub audience: String,
    /// Where the issuer publishes its signing keys.
    pub jwks_uri: String,
    /// This server's RFC 9728 Protected Resource Metadata URL, named in every challenge.
    pub resource_metadata: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// How long fetched keys are trusted before they are fetched again.
    pub keys_ttl: Duration,
    /// Tool name → the scope a `tools/call` of it needs.
    pub tool_scopes: BTreeMap<String, String>,
    /// The scopes a client should ask for first, named in the 401 challenge (MCP
    /// authorization, scope selection: the challenge's `scope` comes before the metadata's
    /// `scopes_supported`), so agents start small and step up when a tool needs more.
    pub initial_scope: Option<String>,
}

impl GuardConfig {
    /// Settings for an MCP server at `audience` protected by the Mandate issuer `issuer`, with
    /// a 30 s leeway and keys kept 5 minutes.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        resource_metadata: impl Into<String>,
    ) -> Self {
        let issuer: String = issuer.into();
        Self {
            jwks_uri: format!("{}/jwks.json", issuer.trim_end_matches('/')),
            issuer,
            audience: audience.into(),
            resource_metadata: resource_metadata.into(),
            leeway: Duration::from_secs(30),
            keys_ttl: Duration::from_secs(300),
            tool_scopes: BTreeMap::new(),
            initial_scope: None,
        }
    }

    /// Names `scope` in the 401 challenge as what to ask for first.
    pub fn initial_scope(mut self, scope: impl Into<String>) -> Self {
        self.initial_scope = Some(scope.into());
        self
    }

    /// Requires `scope` for calls of the tool `tool`.
    pub fn tool_scope(mut self, tool: impl Into<String>, scope: impl Into<String>) -> Self {
        self.tool_scopes.insert(tool.into(), scope.into());
        self
    }
}
