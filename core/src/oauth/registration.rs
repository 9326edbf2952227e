//! Client metadata (RFC 7591 §2) from a DCR request or a Client ID Metadata Document:
//! known fields type-checked, unknown fields ignored, redirect URIs validated, grant types
//! Mandate does not offer dropped (real clients list more than they use).

use serde_json::{Map, Value};
use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::metadata::{GRANT_TYPES, TOKEN_AUTH_METHODS};
use super::redirect_uri::{self, ApplicationType};

/// Registration payloads larger than this are refused before parsing.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// At most this many redirect URIs per client.
const MAX_REDIRECT_URIS: usize = 20;

/// Validated client metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub application_type: ApplicationType,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub scope: String,
    /// The metadata as stored and echoed back: the known fields after validation.
    pub document: Value,
}

impl ClientMetadata {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == "none"
    }

    pub fn application_type_str(&self) -> &'static str {
        match self.application_type {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }
}

fn bad(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, OAuthError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

fn string_list(obj: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("{name} must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(format!("{name} must be an array of strings"))),
    }
}

/// A URL-valued field (logo, client, policy, terms): https only, never fetched by Mandate.
fn https_url_field(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, OAuthError> {
    let Some(text) = string_field(obj, name)? else {
        return Ok(None);
    };
    let url =
        Url::parse(&text).map_err(|_| bad(format!("{name} must be an absolute https URL")))?;
    if url.scheme() != "https" || url.host_str().is_none() || !url.username().is_empty() {
        return Err(bad(format!("{name} must be an absolute https URL")));
    }
    Ok(Some(text))
}

/// How the client authenticates at the token endpoint.
fn auth_method(obj: &Map<String, Value>, default: &str) -> Result<String, OAuthError> {
    if let Some(method) = string_field(obj, "token_endpoint_auth_method")? {
        return Ok(method);
    }
    // OIDC RP Metadata Choices: some documents list the methods they support instead
    // (ChatGPT's does); take the first one Mandate offers, preferring `none`.
    if let Some(list) = string_list(obj, "token_endpoint_auth_methods_supported")? {
        if list.iter().any(|m| m == "none") {
            return Ok("none".into());
        }
        return list
            .into_iter()
            .find(|m| TOKEN_AUTH_METHODS.contains(&m.as_str()))
            .ok_or_else(|| bad("none of token_endpoint_auth_methods_supported is offered here"));
    }
    Ok(default.to_owned())
}

/// Parses and validates client metadata. `default_auth_method` applies when the client
/// names none (RFC 7591 §2: `client_secret_basic`; CIMD clients: `none`).
/// `allowed_hosts` limits non-loopback redirect hosts (empty: any).
pub fn parse(
    raw: &Value,
    default_auth_method: &str,
    allowed_hosts: &[String],
) -> Result<ClientMetadata, OAuthError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| bad("the client metadata must be a JSON object"))?;
    let application_type = match string_field(obj, "application_type")?.as_deref() {
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(other) => {
            return Err(bad(format!(
                "application_type {other:?} is not web or native"
            )))
        }
    };
    let token_endpoint_auth_method = auth_method(obj, default_auth_method)?;
    if !TOKEN_AUTH_METHODS.contains(&token_endpoint_auth_method.as_str()) {
        return Err(bad(format!(
            "token_endpoint_auth_method {token_endpoint_auth_method} is not supported: use one of {}",
            TOKEN_AUTH_METHODS.join(", ")
        )));
    }
    let listed_grants =
        string_list(obj, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    let mut grant_types: Vec<String> = listed_grants
        .into_iter()
        .filter(|g| GRANT_TYPES.contains(&g.as_str()))
        .collect();
    grant_types.dedup();
    if token_endpoint_auth_method == "none" {
        grant_types.retain(|g| g != "client_credentials");
    }
    if grant_types.is_empty() {
        return Err(bad("grant_types lists no grant type offered here"));
    }
    if let Some(response_types) = string_list(obj, "response_types")? {
        if !response_types.iter().any(|r| r == "code") {
            return Err(bad("response_types must include code"));
        }
    }
    let redirect_uris = string_list(obj, "redirect_uris")?.unwrap_or_default();
    let uses_code = grant_types.iter().any(|g| g == "authorization_code");
    if uses_code && redirect_uris.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required",
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "too many redirect_uris",
        ));
    }
    for uri in &redirect_uris {
        redirect_uri::validate_registered(uri, application_type, allowed_hosts)?;
    }
    let client_name = string_field(obj, "client_name")?.map(|n| n.chars().take(200).collect());
    let logo_uri = https_url_field(obj, "logo_uri")?;
    let client_uri = https_url_field(obj, "client_uri")?;
    let policy_uri = https_url_field(obj, "policy_uri")?;
    let tos_uri = https_url_field(obj, "tos_uri")?;
    let scope = string_field(obj, "scope")?.unwrap_or_default();
    super::scope::ScopeSet::parse(&scope)
        .map_err(|_| bad("scope has characters RFC 6749 §3.3 does not allow"))?;
    let contacts = string_list(obj, "contacts")?;
    let software_id = string_field(obj, "software_id")?;
    let software_version = string_field(obj, "software_version")?;

    let mut document = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            document.insert(k.to_owned(), v);
        }
    };
    put("redirect_uris", Value::from(redirect_uris.clone()));
    put(
        "token_endpoint_auth_method",
        Value::from(token_endpoint_auth_method.clone()),
    );
    put("grant_types", Value::from(grant_types.clone()));
    put("response_types", Value::from(vec!["code"]));
    put(
        "application_type",
        Value::from(match application_type {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }),
    );
    put(
        "client_name",
        client_name.clone().map_or(Value::Null, Value::from),
    );
    put(
        "client_uri",
        client_uri.clone().map_or(Value::Null, Value::from),
    );
    put(
        "logo_uri",
        logo_uri.clone().map_or(Value::Null, Value::from),
    );
    put("policy_uri", policy_uri.map_or(Value::Null, Value::from));
    put("tos_uri", tos_uri.map_or(Value::Null, Value::from));
    put(
        "scope",
        if scope.is_empty() {
            Value::Null
        } else {
            Value::from(scope.clone())
        },
    );
    put("contacts", contacts.map_or(Value::Null, Value::from));
    put("software_id", software_id.map_or(Value::Null, Value::from));
    put(
        "software_version",
        software_version.map_or(Value::Null, Value::from),
    );

    let document = Value::Object(document);
    if crate::text::json_holds_nul(&document) {
        // No kept value needs one, and PostgreSQL's text cannot store it (unknown fields are
        // dropped, so a NUL there does not matter).
        return Err(bad(
            "client metadata values must not contain NUL characters",
        ));
    }
    Ok(ClientMetadata {
        client_name,
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        application_type,
        logo_uri,
        client_uri,
        scope,
        document,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value) -> ClientMetadata {
        parse(&v, "client_secret_basic", &[]).expect("valid")
    }

    fn err(v: Value) -> ErrorCode {
        parse(&v, "client_secret_basic", &[])
            .expect_err("invalid")
            .code
    }

    #[test]
    fn a_typical_mcp_client_registers_as_public() {
        let m = ok(json!({
            "client_name": "Claude Code",
            "redirect_uris": ["http://localhost:53100/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "some_future_field": {"x": 1}
        }));
        assert!(m.is_public());
        assert_eq!(m.grant_types, ["authorization_code", "refresh_token"]);
        assert!(
            m.document.get("some_future_field").is_none(),
            "unknown fields are ignored"
        );
    }

    #[test]
    fn nul_characters_in_kept_values_are_refused_and_ignored_in_unknown_fields() {
        let cb = "https://app.example.com/cb";
        for bad in [
            json!({"redirect_uris": [cb], "client_name": "Evil\0Agent"}),
            json!({"redirect_uris": [cb], "contacts": ["a\0@example.com"]}),
            json!({"redirect_uris": [cb], "software_version": "1\0"}),
        ] {
            assert_eq!(err(bad), ErrorCode::InvalidClientMetadata);
        }
        let m = ok(json!({"redirect_uris": [cb], "x_unknown": "a\0b"}));
        assert!(m.document.get("x_unknown").is_none());
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let m = ok(json!({"redirect_uris": ["https://app.example.com/cb"]}));
        assert_eq!(m.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(m.grant_types, ["authorization_code"]);
        assert_eq!(m.application_type, ApplicationType::Web);
    }

    #[test]
    fn known_fields_are_type_checked() {
        assert_eq!(
            err(json!({"redirect_uris": "https://a.example.com/cb"})),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            err(json!({"redirect_uris": ["https://a.example.com/cb"], "client_name": 5})),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            err(
                json!({"redirect_uris": ["https://a.example.com/cb"], "grant_types": "authorization_code"})
            ),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(err(json!([1, 2])), ErrorCode::InvalidClientMetadata);
        assert_eq!(
            err(
                json!({"redirect_uris": ["https://a.example.com/cb"], "application_type": "desktop"})
            ),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            err(
                json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "private_key_jwt"})
            ),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            err(
                json!({"redirect_uris": ["https://a.example.com/cb"], "logo_uri": "javascript:alert(1)"})
            ),
            ErrorCode::InvalidClientMetadata
        );
        assert_eq!(
            err(
                json!({"redirect_uris": ["https://a.example.com/cb"], "response_types": ["token"]})
            ),
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn bad_redirect_uris_are_invalid_redirect_uri() {
        for uri in [
            "javascript:alert(1)",
            "data:text/html,x",
            "https://a.example.com/cb#f",
            "https://*.example.com/cb",
            "http://a.example.com/cb",
            "app:/cb",
        ] {
            assert_eq!(
                err(json!({"redirect_uris": [uri]})),
                ErrorCode::InvalidRedirectUri,
                "{uri}"
            );
        }
        assert_eq!(
            err(json!({})),
            ErrorCode::InvalidRedirectUri,
            "authorization_code needs redirect_uris"
        );
    }

    #[test]
    fn unoffered_grant_types_are_dropped_not_refused() {
        // Claude Desktop's document lists jwt-bearer while being a public client.
        let m = ok(json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "token_endpoint_auth_method": "none"
        }));
        assert_eq!(m.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(
            err(json!({"redirect_uris": [], "grant_types": ["implicit"]})),
            ErrorCode::InvalidClientMetadata
        );
    }

    #[test]
    fn auth_methods_supported_stands_in_for_a_missing_method() {
        let m = parse(
            &json!({"redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "none"]}),
            "client_secret_basic",
            &[],
        )
        .expect("valid");
        assert_eq!(m.token_endpoint_auth_method, "none");
    }

    #[test]
    fn public_clients_cannot_use_client_credentials() {
        let m = ok(
            json!({"redirect_uris": ["https://a.example.com/cb"], "token_endpoint_auth_method": "none",
                          "grant_types": ["authorization_code", "client_credentials"]}),
        );
        assert_eq!(m.grant_types, ["authorization_code"]);
    }

    #[test]
    fn no_client_registers_itself_for_token_exchange() {
        // RFC 8693 exchange reaches the token vault: only an admin grants it (never DCR/CIMD).
        let m = ok(json!({"redirect_uris": ["https://a.example.com/cb"],
                          "grant_types": ["authorization_code",
                                          crate::connections::exchange::GRANT_TYPE]}));
        assert_eq!(m.grant_types, ["authorization_code"]);
    }
}
