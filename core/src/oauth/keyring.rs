//! Loading, creating and rotating the deployment's signing keys.

use super::tokens::{generate_signing_key, KeySet};
use crate::clock::UnixMillis;
use crate::crypto::MasterKey;
use crate::error::CoreResult;
use crate::store::Store;

/// The key set from the store, creating the first key on a new deployment.
pub async fn load_or_create(
    store: &Store,
    master: &MasterKey,
    now: UnixMillis,
) -> CoreResult<KeySet> {
    let keys = store.signing_keys().await?;
    if keys.iter().any(|k| k.active) {
        return KeySet::from_stored(&keys, master);
    }
    rotate(store, master, now).await?;
    KeySet::from_stored(&store.signing_keys().await?, master)
}

/// Retires the active key and makes a new one active; returns the new kid. Tokens signed by
/// the retired key keep verifying: it stays in the JWKS.
pub async fn rotate(store: &Store, master: &MasterKey, now: UnixMillis) -> CoreResult<String> {
    let key = generate_signing_key(master)?;
    store.rotate_signing_key(&key, now).await?;
    Ok(key.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    #[tokio::test]
    async fn first_load_creates_a_key_and_rotation_keeps_the_old_one_published() {
        for db in each_backend().await {
            let store = db.store().await;
            store.migrate().await.expect("migrate");
            let master = MasterKey::generate();
            let first = load_or_create(&store, &master, 1).await.expect("create");
            let again = load_or_create(&store, &master, 2).await.expect("load");
            assert_eq!(
                first.signing_kid(),
                again.signing_kid(),
                "no second key on reload"
            );
            let new_kid = rotate(&store, &master, 3).await.expect("rotate");
            let after = load_or_create(&store, &master, 4).await.expect("load");
            assert_eq!(after.signing_kid(), new_kid);
            let kids: Vec<_> = after.jwks()["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| k["kid"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert!(kids.contains(&first.signing_kid().to_owned()) && kids.contains(&new_kid));
            let stored = store.signing_keys().await.expect("keys");
            assert_eq!(stored.iter().filter(|k| k.active).count(), 1);
            assert!(
                stored
                    .iter()
                    .all(|k| !k.private_sealed.windows(5).any(|w| w == b"-----")),
                "private keys are sealed"
            );
        }
    }
}
