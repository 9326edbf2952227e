//! Who is calling: client IP, user agent and request id, for audit events and rate limits.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use mandate_core::audit::RequestContext;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::middleware::request_log::REQUEST_ID;

/// The caller of this request.
pub struct Caller {
    pub ip: IpAddr,
    pub context: RequestContext,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
        };
        Ok(Self {
            ip,
            context: RequestContext {
                client_ip: Some(ip.to_string()),
                user_agent: header("user-agent"),
                request_id: header(REQUEST_ID.as_str()),
            },
        })
    }
}
