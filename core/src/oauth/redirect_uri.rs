//! Redirect URIs: exact matching at /authorize (OAuth 2.1 §4.1.1, RFC 9700 §4.1.3) with the
//! RFC 8252 §7.3 loopback exception, and validation of the URIs a client registers.

use url::{Host, Url};

use super::error::{ErrorCode, OAuthError};

/// `localhost`, `127.0.0.1` or `[::1]`.
pub fn is_loopback_host(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn loopback_http(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    (url.scheme() == "http" && is_loopback_host(url.host())).then_some(url)
}

/// Whether `requested` is one of `registered`: an exact, case-sensitive string match, except
/// that for http loopback URIs the port may differ (RFC 8252 §7.3: "MUST allow any port to be
/// specified at the time of the request for loopback IP redirect URIs").
pub fn matches_registered(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Some(req) = loopback_http(requested) else {
        return false;
    };
    registered
        .iter()
        .filter_map(|r| loopback_http(r))
        .any(|reg| {
            reg.host() == req.host()
                && reg.path() == req.path()
                && reg.query() == req.query()
                && reg.fragment().is_none()
                && req.fragment().is_none()
                && reg.username().is_empty()
                && req.username().is_empty()
                && req.password().is_none()
        })
}

/// RFC 7591 §2 `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    Web,
    Native,
}

const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob", "about"];

fn refuse(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, why)
}

/// Validates one redirect URI a client registers (DCR or CIMD). `allowed_hosts` are the MCP
/// server's admin-set patterns for non-loopback hosts (`example.com`, `*.example.com`); empty
/// allows any host.
pub fn validate_registered(
    uri: &str,
    application_type: ApplicationType,
    allowed_hosts: &[String],
) -> Result<(), OAuthError> {
    if uri.contains('*') {
        return Err(refuse(format!("{uri}: wildcards are not allowed")));
    }
    let url = Url::parse(uri).map_err(|_| refuse(format!("{uri}: not an absolute URI")))?;
    if url.fragment().is_some() || uri.contains('#') {
        // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        return Err(refuse(format!("{uri}: must not contain a fragment")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(format!("{uri}: must not contain credentials")));
    }
    let scheme = url.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(refuse(format!(
            "{uri}: the {scheme}: scheme is not allowed"
        )));
    }
    match scheme {
        "https" => {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| refuse(format!("{uri}: needs a host")))?;
            if !is_loopback_host(url.host()) && !host_allowed(host, allowed_hosts) {
                return Err(refuse(format!(
                    "{uri}: the host {host} is not allowed for this MCP server"
                )));
            }
            Ok(())
        }
        // RFC 8252 §8.3: plain http only for the loopback interface.
        "http" if is_loopback_host(url.host()) => Ok(()),
        "http" => Err(refuse(format!(
            "{uri}: http is only allowed for loopback addresses; use https"
        ))),
        // RFC 8252 §7.1: private-use URI schemes are for native apps.
        _ if application_type == ApplicationType::Native => Ok(()),
        _ => Err(refuse(format!(
            "{uri}: custom schemes need application_type \"native\""
        ))),
    }
}

/// Whether `host` matches one of `patterns` (`*.example.com` matches subdomains only).
pub fn host_allowed(host: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let host = host.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.trim().to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => host == p,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|u| (*u).to_owned()).collect()
    }

    #[test]
    fn exact_match_is_required() {
        let registered = reg(&["https://app.example.com/cb"]);
        assert!(matches_registered(
            &registered,
            "https://app.example.com/cb"
        ));
        for tricky in [
            "https://app.example.com/cb/",         // suffix
            "https://app.example.com/cb/../cb",    // traversal
            "https://app.example.com/c",           // prefix
            "https://app.example.com/cb?x=1",      // extra query
            "https://app.example.com/cb#frag",     // fragment
            "HTTPS://app.example.com/cb",          // case of scheme
            "https://APP.example.com/cb",          // case of host
            "https://app.example.com/CB",          // case of path
            "https://app.example.com.evil.com/cb", // host suffix
            "https://evil.com/https://app.example.com/cb",
            "https://app.example.com:443/cb", // explicit port is a different string
        ] {
            assert!(
                !matches_registered(&registered, tricky),
                "{tricky} must not match"
            );
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port() {
        let registered = reg(&[
            "http://127.0.0.1/callback",
            "http://localhost:8080/cb",
            "http://[::1]/cb",
        ]);
        assert!(matches_registered(
            &registered,
            "http://127.0.0.1:53123/callback"
        ));
        assert!(matches_registered(&registered, "http://127.0.0.1/callback"));
        assert!(matches_registered(&registered, "http://localhost:1234/cb"));
        assert!(matches_registered(&registered, "http://[::1]:9/cb"));
        assert!(!matches_registered(
            &registered,
            "http://127.0.0.1:5000/other"
        ));
        assert!(
            !matches_registered(&registered, "http://localhost:1234/callback"),
            "host must match"
        );
        assert!(
            !matches_registered(&registered, "https://127.0.0.1:5000/callback"),
            "scheme must match"
        );
        assert!(!matches_registered(
            &registered,
            "http://127.0.0.1:5000/callback?x=1"
        ));
        assert!(!matches_registered(
            &registered,
            "http://user@127.0.0.1:5000/callback"
        ));
    }

    #[test]
    fn registration_accepts_https_loopback_and_native_schemes() {
        let none: Vec<String> = vec![];
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1/cb",
            "http://localhost:3000/cb",
            "http://[::1]/cb",
        ] {
            assert!(
                validate_registered(ok, ApplicationType::Web, &none).is_ok(),
                "{ok}"
            );
        }
        assert!(
            validate_registered("com.example.app:/oauth", ApplicationType::Native, &none).is_ok()
        );
    }

    #[test]
    fn registration_refuses_dangerous_or_sloppy_uris() {
        let none: Vec<String> = vec![];
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example.com/cb#x",
            "https://*.example.com/cb",
            "http://app.example.com/cb",
            "com.example.app:/oauth",
            "/relative/cb",
            "https://user:pw@app.example.com/cb",
        ] {
            let err = validate_registered(bad, ApplicationType::Web, &none).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
        assert!(
            validate_registered("javascript:alert(1)", ApplicationType::Native, &none).is_err()
        );
    }

    #[test]
    fn host_patterns_limit_non_loopback_hosts() {
        let patterns = reg(&["*.example.com", "claude.ai"]);
        assert!(
            validate_registered("https://a.example.com/cb", ApplicationType::Web, &patterns)
                .is_ok()
        );
        assert!(
            validate_registered("https://claude.ai/api/cb", ApplicationType::Web, &patterns)
                .is_ok()
        );
        assert!(
            validate_registered("http://127.0.0.1/cb", ApplicationType::Web, &patterns).is_ok()
        );
        assert!(
            validate_registered("https://example.com/cb", ApplicationType::Web, &patterns).is_err()
        );
        assert!(validate_registered(
            "https://evilexample.com/cb",
            ApplicationType::Web,
            &patterns
        )
        .is_err());
    }
}
