//! Token introspection (RFC 7662) for resource servers and confidential clients.
//! Anything not currently valid at this issuer is `{"active": false}`, with no reason given
//! (§2.2: "the authorization server MUST NOT reveal ... why").

use serde_json::{json, Value};

use super::tokens::{AccessTokenClaims, KeySet};
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::model::{Agent, McpServer};
use crate::secret::Secret;
use crate::store::tokens::TokenFamily;
use crate::store::Store;

pub fn inactive() -> Value {
    json!({ "active": false })
}

/// Introspects `token` for `caller` at `issuer` (the issuer of `server`).
pub async fn introspect(
    store: &Store,
    keys: &KeySet,
    issuer: &str,
    server: &McpServer,
    caller: &Agent,
    token: &str,
    now: UnixMillis,
) -> CoreResult<Value> {
    if token.starts_with("mdt_rt_") {
        return introspect_refresh(store, issuer, server, caller, token, now).await;
    }
    let Some(claims) = live_access_token(store, keys, token, issuer, now).await? else {
        return Ok(inactive());
    };
    let mut out = serde_json::to_value(&claims)?;
    if let Value::Object(map) = &mut out {
        map.insert("active".into(), Value::Bool(true));
        map.insert("token_type".into(), Value::from("Bearer"));
    }
    Ok(out)
}

/// The claims of `token` if it is an access token of `issuer` that is valid now (signature,
/// issuer, lifetime) and not revoked; `None` otherwise. Introspection, userinfo and token
/// exchange all accept a token only through this.
pub async fn live_access_token(
    store: &Store,
    keys: &KeySet,
    token: &str,
    issuer: &str,
    now: UnixMillis,
) -> CoreResult<Option<AccessTokenClaims>> {
    let Ok(claims) = keys.verify(token, issuer, now / 1000) else {
        return Ok(None);
    };
    if store.access_token_revoked(&claims.jti).await? != Some(false) {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// A refresh token is described only to the client it belongs to.
async fn introspect_refresh(
    store: &Store,
    issuer: &str,
    server: &McpServer,
    caller: &Agent,
    token: &str,
    now: UnixMillis,
) -> CoreResult<Value> {
    let hash = Secret::presented(token).hash();
    let Some(state) = store.refresh_token_state(&hash).await? else {
        return Ok(inactive());
    };
    let family = &state.family;
    if family.agent_id != caller.id.as_str() || state.rotated_at.is_some() {
        return Ok(inactive());
    }
    if !is_live(family, state.expires_at, now) || family.mcp_server_id != server.id.as_str() {
        return Ok(inactive());
    }
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": family.agent_id,
        "scope": state.scopes,
        "sub": family.user_id,
        "tenant": family.tenant_id,
        "iss": issuer,
        "aud": server.resource_url,
        "exp": state.expires_at.min(family.expires_at) / 1000,
    }))
}

fn is_live(family: &TokenFamily, expires_at: UnixMillis, now: UnixMillis) -> bool {
    family.revoked_at.is_none() && expires_at > now && family.expires_at > now
}
