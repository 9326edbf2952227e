//! Token revocation (RFC 7009). A client may revoke only its own tokens; revoking a refresh
//! token ends its whole family (§2.1: "SHOULD also invalidate all access tokens based on the
//! same authorization grant"). Unknown or foreign tokens still answer 200 (§2.2).

use super::tokens::KeySet;
use crate::clock::UnixMillis;
use crate::error::CoreResult;
use crate::model::Agent;
use crate::secret::Secret;
use crate::store::Store;

/// What a revocation did, for the audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Family(String),
    AccessToken(String),
    Nothing,
}

pub async fn revoke(
    store: &Store,
    keys: &KeySet,
    issuer: &str,
    client: &Agent,
    token: &str,
    now: UnixMillis,
) -> CoreResult<Revoked> {
    // The hint (§2.1) only speeds up the lookup; both kinds are tried, so it is not needed.
    let hash = Secret::presented(token).hash();
    if let Some(state) = store.refresh_token_state(&hash).await? {
        let family = state.family;
        if family.agent_id == client.id.as_str() {
            store
                .revoke_family(&family.id, "revoked by client", now)
                .await?;
            return Ok(Revoked::Family(family.id));
        }
        return Ok(Revoked::Nothing);
    }
    // An expired access token needs no revoking; a foreign one is not the caller's to revoke.
    if let Ok(claims) = keys.verify(token, issuer, now / 1000) {
        if claims.client_id == client.id.as_str()
            && store
                .revoke_access_token(&claims.jti, client.id.as_str(), now)
                .await?
        {
            return Ok(Revoked::AccessToken(claims.jti));
        }
    }
    Ok(Revoked::Nothing)
}
