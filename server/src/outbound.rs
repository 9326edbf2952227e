//! Outbound HTTP, guarded against SSRF: client metadata documents (https only, every resolved
//! address, also after redirects, must be public, bounded in time and size, no proxies, no
//! cookies) and the resolver and URL checks the issuance hooks' client (`crate::hooks`)
//! shares. Loopback and an extra CA can be allowed for tests only.

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use url::{Host, Url};

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("only https URLs may be fetched")]
    NotHttps,
    #[error("the address of {0} is not a public address")]
    ForbiddenAddress(String),
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the document could not be fetched: {0}")]
    Transport(String),
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local, CGNAT,
/// unique-local, multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Whether `ip` is in a private network an operator may run services in: RFC 1918, CGNAT
/// (RFC 6598) and IPv6 unique-local addresses. Never link-local (cloud metadata lives there)
/// nor loopback.
pub fn is_private_network(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_network(IpAddr::V4(v4)),
            None => (v6.segments()[0] & 0xfe00) == 0xfc00,
        },
    }
}

/// Which addresses outbound calls may reach besides public ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Private networks ([`is_private_network`]).
    pub private: bool,
    /// Loopback, and plain http to it (tests).
    pub loopback: bool,
}

impl AddressPolicy {
    pub fn allows(self, ip: IpAddr) -> bool {
        is_public(ip)
            || (self.loopback && ip.to_canonical().is_loopback())
            || (self.private && is_private_network(ip))
    }
}

/// A client builder for every outbound call: names resolve through the address guard (only
/// addresses `policy` allows), no proxy, Mandate's user agent. Callers add their redirect
/// policy and timeouts.
pub(crate) fn guarded_client(policy: AddressPolicy) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .no_proxy()
        .user_agent(concat!("Mandate/", env!("CARGO_PKG_VERSION")))
}

/// The client for calling identity and token providers (SSO, the token vault): it follows no
/// redirects (a provider's answer must not lead anywhere: SSRF), reaches only the addresses
/// `policy` allows, gives up after 3 s connecting and 5 s in all, and speaks https only unless
/// loopback is allowed.
pub(crate) fn provider_client(policy: AddressPolicy) -> Result<reqwest::Client, String> {
    guarded_client(policy)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(5))
        .https_only(!policy.loopback)
        .build()
        .map_err(|e| e.to_string())
}

/// An error and its causes, `: `-separated (for logs and the audit trail).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Resolves names and drops every address that is not allowed.
struct GuardedResolver {
    pub policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(FetchError::ForbiddenAddress(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// IP-literal hosts skip the resolver, so they are checked here.
fn check_url(url: &Url, allow_loopback: bool) -> Result<(), FetchError> {
    if url.scheme() != "https" {
        return Err(FetchError::NotHttps);
    }
    check_literal(
        url,
        AddressPolicy {
            private: false,
            loopback: allow_loopback,
        },
    )
}

/// An IP-literal host must be allowed by `policy` (names are checked by the resolver).
pub(crate) fn check_literal(url: &Url, policy: AddressPolicy) -> Result<(), FetchError> {
    let literal = match url.host() {
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    };
    match literal {
        Some(ip) if !policy.allows(ip) => Err(FetchError::ForbiddenAddress(ip.to_string())),
        _ => Ok(()),
    }
}

/// A fetched document.
pub struct Fetched {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    allow_loopback: bool,
}

impl OutboundClient {
    /// `extra_ca_pem`: a CA to trust besides the public roots (tests).
    pub fn new(allow_loopback: bool, extra_ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let redirect_policy = Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("too many redirects")
            } else if let Err(e) = check_url(attempt.url(), allow_loopback) {
                attempt.error(e)
            } else {
                attempt.follow()
            }
        });
        let mut builder = guarded_client(AddressPolicy {
            private: false,
            loopback: allow_loopback,
        })
        .redirect(redirect_policy)
        .timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(2))
        .https_only(true);
        if let Some(pem) = extra_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("the extra CA is not a PEM certificate: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            allow_loopback,
        })
    }

    /// GETs `url` as JSON, refusing more than `max_bytes`.
    pub async fn fetch_json(&self, url: &Url, max_bytes: usize) -> Result<Fetched, FetchError> {
        check_url(url, self.allow_loopback)?;
        let response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Transport(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Transport(e.without_url().to_string()))?;
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            cache_control,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn private_networks_are_allowed_only_when_the_policy_says_so_and_link_local_never() {
        let private = AddressPolicy {
            private: true,
            loopback: false,
        };
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            let ip = ip.parse().expect("ip");
            assert!(private.allows(ip), "{ip}");
            assert!(!AddressPolicy::default().allows(ip), "{ip}");
        }
        for ip in ["169.254.169.254", "fe80::1", "127.0.0.1", "::1", "0.0.0.0"] {
            assert!(!private.allows(ip.parse().expect("ip")), "{ip}");
        }
        let loopback = AddressPolicy {
            private: false,
            loopback: true,
        };
        assert!(loopback.allows("127.0.0.1".parse().expect("ip")));
        assert!(loopback.allows("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!loopback.allows("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn urls_must_be_https_and_ip_literals_public() {
        let check = |u: &str, loopback| check_url(&Url::parse(u).expect("url"), loopback);
        assert!(matches!(
            check("http://example.com/x", false),
            Err(FetchError::NotHttps)
        ));
        assert!(matches!(
            check("https://169.254.169.254/latest", false),
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            check("https://[::1]/x", false),
            Err(FetchError::ForbiddenAddress(_))
        ));
        assert!(
            check("https://127.0.0.1/x", true).is_ok(),
            "loopback only when allowed"
        );
        assert!(check("https://example.com/x", false).is_ok());
    }
}
