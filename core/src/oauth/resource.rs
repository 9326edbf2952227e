//! Resource indicators (RFC 8707): the `resource` parameter names the MCP server a token is for.

use url::Url;

use super::error::{ErrorCode, OAuthError};

/// The comparable form of a resource URI: parsed, without a trailing slash on the path.
/// MCP clients differ on `https://x/mcp` vs `https://x/mcp/`; both name the same server.
pub fn normalize(resource: &str) -> Result<String, OAuthError> {
    let url = Url::parse(resource).map_err(|_| {
        OAuthError::new(ErrorCode::InvalidTarget, "resource must be an absolute URI")
    })?;
    // RFC 8707 §2: "MUST NOT include a fragment component".
    if url.fragment().is_some() {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource must not contain a fragment",
        ));
    }
    let text = url.as_str();
    Ok(text.strip_suffix('/').unwrap_or(text).to_owned())
}

/// Whether a requested resource names the MCP server whose resource URL is `server_resource`.
pub fn matches(requested: &str, server_resource: &str) -> Result<bool, OAuthError> {
    Ok(normalize(requested)? == normalize(server_resource)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_and_case_of_scheme_host_are_tolerated() {
        assert!(matches(
            "https://notes.example.com/mcp/",
            "https://notes.example.com/mcp"
        )
        .expect("ok"));
        assert!(matches(
            "HTTPS://Notes.Example.com/mcp",
            "https://notes.example.com/mcp"
        )
        .expect("ok"));
        assert!(matches("https://notes.example.com", "https://notes.example.com/").expect("ok"));
    }

    #[test]
    fn other_resources_do_not_match() {
        assert!(!matches(
            "https://notes.example.com/mcp2",
            "https://notes.example.com/mcp"
        )
        .expect("ok"));
        assert!(!matches(
            "https://evil.example.com/mcp",
            "https://notes.example.com/mcp"
        )
        .expect("ok"));
    }

    #[test]
    fn malformed_resources_are_invalid_target() {
        for bad in ["/mcp", "not a uri", "https://x.example.com/mcp#f"] {
            assert_eq!(
                normalize(bad).expect_err(bad).code,
                ErrorCode::InvalidTarget
            );
        }
    }
}
