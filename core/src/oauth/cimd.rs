//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, preferred by
//! the MCP authorization spec): a `client_id` that is an https URL names a JSON document of
//! client metadata served at that URL. These are the pure rules; the SSRF-guarded fetch
//! lives in the server.

use serde_json::Value;
use url::Url;

use super::error::{ErrorCode, OAuthError};
use super::redirect_uri::host_allowed;
use super::registration::{self, ClientMetadata};
use crate::clock::UnixMillis;

/// Documents larger than this are refused.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Cache lifetime when the response gives none, and the bounds applied to any it gives.
pub const DEFAULT_TTL_SECS: i64 = 3600;
const MIN_TTL_SECS: i64 = 60;
const MAX_TTL_SECS: i64 = 24 * 3600;

/// Whether `client_id` is meant as a metadata document URL.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

fn invalid_client(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

/// §3: an https URL with a path, no fragment, no credentials, no dot segments.
pub fn validate_document_url(client_id: &str) -> Result<Url, OAuthError> {
    let url = Url::parse(client_id).map_err(|_| invalid_client("client_id is not a valid URL"))?;
    if url.scheme() != "https" {
        return Err(invalid_client("a client_id URL must use https"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_client(
            "a client_id URL must not have a fragment or credentials",
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(invalid_client("a client_id URL must have a path"));
    }
    // `Url` normalises dot segments away, so compare with the text as given.
    if client_id
        .split(['/', '?'])
        .any(|seg| seg == "." || seg == "..")
    {
        return Err(invalid_client(
            "a client_id URL must not contain dot segments",
        ));
    }
    if url.as_str() != client_id {
        return Err(invalid_client(
            "the client_id URL is not in its normal form",
        ));
    }
    Ok(url)
}

/// Whether an MCP server accepts documents from `host` (`approved` patterns, or any host when
/// unknown hosts are allowed).
pub fn host_is_accepted(host: &str, approved: &[String], allow_unknown: bool) -> bool {
    allow_unknown || (!approved.is_empty() && host_allowed(host, approved))
}

/// Validates a fetched document for `client_id`. CIMD clients have no shared secret with
/// Mandate, so they are public clients (`none`).
pub fn validate_document(
    client_id: &str,
    body: &[u8],
    allowed_hosts: &[String],
) -> Result<ClientMetadata, OAuthError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(invalid_client("the client metadata document is too large"));
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|_| invalid_client("the client metadata document is not JSON"))?;
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid_client(
            "the document's client_id must equal the URL it was fetched from",
        ));
    }
    if doc.get("client_secret").is_some() || doc.get("client_secret_expires_at").is_some() {
        return Err(invalid_client(
            "a client metadata document must not contain a client secret",
        ));
    }
    let meta = registration::parse(&doc, "none", allowed_hosts).map_err(|e| {
        OAuthError::new(
            ErrorCode::InvalidClient,
            format!(
                "the client metadata document is not acceptable: {}",
                e.description
            ),
        )
    })?;
    if !meta.is_public() {
        return Err(invalid_client(
            "Mandate accepts metadata-document clients as public clients (token_endpoint_auth_method none)",
        ));
    }
    Ok(meta)
}

/// When to fetch the document again, from its `Cache-Control` header.
pub fn expires_at(cache_control: Option<&str>, now: UnixMillis) -> UnixMillis {
    let mut ttl = DEFAULT_TTL_SECS;
    if let Some(header) = cache_control {
        for directive in header.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                ttl = MIN_TTL_SECS;
            } else if let Some(v) = lower.strip_prefix("max-age=") {
                if let Ok(secs) = v.trim_matches('"').parse::<i64>() {
                    ttl = secs;
                }
            }
        }
    }
    now + ttl.clamp(MIN_TTL_SECS, MAX_TTL_SECS) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example.com/oauth/client.json";

    #[test]
    fn document_urls_must_be_plain_https_with_a_path() {
        assert!(validate_document_url(ID).is_ok());
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/a/../client.json",
            "https://app.example.com/./client.json",
            "https://user:pw@app.example.com/client.json",
            "https://app.example.com/client.json#x",
            "https://APP.example.com/client.json",
        ] {
            assert!(validate_document_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_document_must_name_itself() {
        let doc = format!(
            r#"{{"client_id":"{ID}","client_name":"App","redirect_uris":["https://app.example.com/cb"]}}"#
        );
        let meta = validate_document(ID, doc.as_bytes(), &[]).expect("valid");
        assert!(meta.is_public());
        let other = r#"{"client_id":"https://evil.example.com/c.json","redirect_uris":["https://app.example.com/cb"]}"#;
        assert_eq!(
            validate_document(ID, other.as_bytes(), &[])
                .expect_err("other")
                .code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn real_client_documents_are_tolerated() {
        // ChatGPT lists methods instead of naming one; Claude lists jwt-bearer while public.
        let chatgpt = format!(
            r#"{{"client_id":"{ID}","redirect_uris":["https://chatgpt.com/cb"],"token_endpoint_auth_methods_supported":["none"]}}"#
        );
        assert!(validate_document(ID, chatgpt.as_bytes(), &[]).is_ok());
        let claude = format!(
            r#"{{"client_id":"{ID}","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"token_endpoint_auth_method":"none",
               "grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:jwt-bearer"]}}"#
        );
        assert_eq!(
            validate_document(ID, claude.as_bytes(), &[])
                .expect("ok")
                .grant_types,
            ["authorization_code", "refresh_token"]
        );
    }

    #[test]
    fn secrets_size_and_confidential_methods_are_refused() {
        let secret = format!(
            r#"{{"client_id":"{ID}","client_secret":"x","redirect_uris":["https://a.example.com/cb"]}}"#
        );
        assert!(validate_document(ID, secret.as_bytes(), &[]).is_err());
        let confidential = format!(
            r#"{{"client_id":"{ID}","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["https://a.example.com/cb"]}}"#
        );
        assert!(validate_document(ID, confidential.as_bytes(), &[]).is_err());
        let big = format!(
            r#"{{"client_id":"{ID}","client_name":"{}"}}"#,
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        assert!(validate_document(ID, big.as_bytes(), &[]).is_err());
        assert!(validate_document(ID, b"not json", &[]).is_err());
        let bad_redirect =
            format!(r#"{{"client_id":"{ID}","redirect_uris":["javascript:alert(1)"]}}"#);
        assert!(validate_document(ID, bad_redirect.as_bytes(), &[]).is_err());
    }

    #[test]
    fn approved_hosts_and_the_unknown_switch() {
        let approved = vec!["*.example.com".to_owned()];
        assert!(host_is_accepted("app.example.com", &approved, false));
        assert!(!host_is_accepted("evil.com", &approved, false));
        assert!(host_is_accepted("evil.com", &approved, true));
        assert!(!host_is_accepted("app.example.com", &[], false));
    }

    #[test]
    fn cache_lifetime_follows_cache_control_within_bounds() {
        assert_eq!(expires_at(None, 0), DEFAULT_TTL_SECS * 1000);
        assert_eq!(expires_at(Some("public, max-age=600"), 0), 600_000);
        assert_eq!(
            expires_at(Some("max-age=5"), 0),
            60_000,
            "at least a minute"
        );
        assert_eq!(
            expires_at(Some("max-age=99999999"), 0),
            86_400_000,
            "at most a day"
        );
        assert_eq!(expires_at(Some("no-store"), 0), 60_000);
    }
}
