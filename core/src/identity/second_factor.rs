//! Second factors over the store: TOTP enrolment and verification (secret sealed under the
//! master key, bound to the user's row), and recovery codes. Passkeys live in the server,
//! beside webauthn-rs's ceremony state.

use crate::clock::UnixMillis;
use crate::crypto::MasterKey;
use crate::error::{CoreError, CoreResult};
use crate::identity::{recovery, totp};
use crate::store::Store;

/// Why a code was refused (shown to the person in plain words by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorRefusal {
    /// No confirmed authenticator to check against.
    NotEnrolled,
    Invalid,
    /// The code was right but already used (RFC 6238 §5.2).
    Replayed,
}

fn seal_context(user_id: &str) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

/// Starts enrolment: a new secret, stored sealed but unconfirmed until the first code.
/// `Ok(None)` when the user already has a confirmed authenticator.
pub async fn begin_totp(
    store: &Store,
    master: &MasterKey,
    user_id: &str,
    issuer: &str,
    account: &str,
    now: UnixMillis,
) -> CoreResult<Option<totp::Enrolment>> {
    let secret = totp::new_secret();
    let sealed = master.seal(&secret, &seal_context(user_id))?;
    if !store.start_totp_enrolment(user_id, &sealed, now).await? {
        return Ok(None);
    }
    totp::enrolment(&secret, issuer, account).map(Some)
}

/// The pending enrolment's details again (e.g. after a mistyped confirmation code).
pub async fn pending_totp(
    store: &Store,
    master: &MasterKey,
    user_id: &str,
    issuer: &str,
    account: &str,
) -> CoreResult<Option<totp::Enrolment>> {
    match store.totp_credential(user_id).await? {
        Some(c) if c.confirmed_at.is_none() => {
            let secret = master.open(&c.secret_sealed, &seal_context(user_id))?;
            totp::enrolment(&secret, issuer, account).map(Some)
        }
        _ => Ok(None),
    }
}

/// Whether the user has a confirmed authenticator app.
pub async fn has_totp(store: &Store, user_id: &str) -> CoreResult<bool> {
    Ok(store
        .totp_credential(user_id)
        .await?
        .is_some_and(|c| c.confirmed_at.is_some()))
}

/// Whether the user has a confirmed second factor: an authenticator app or a passkey.
pub async fn has_second_factor(store: &Store, user_id: &str) -> CoreResult<bool> {
    Ok(has_totp(store, user_id).await? || !store.passkeys_of(user_id).await?.is_empty())
}

/// Checks a TOTP code. `confirming`: the enrolment's first code (a pending credential is
/// accepted and becomes confirmed); otherwise only a confirmed credential counts.
pub async fn verify_totp(
    store: &Store,
    master: &MasterKey,
    user_id: &str,
    code: &str,
    now: UnixMillis,
    confirming: bool,
) -> CoreResult<Result<(), FactorRefusal>> {
    let Some(credential) = store.totp_credential(user_id).await? else {
        return Ok(Err(FactorRefusal::NotEnrolled));
    };
    if credential.confirmed_at.is_some() == confirming {
        return Ok(Err(FactorRefusal::NotEnrolled));
    }
    let secret = master.open(&credential.secret_sealed, &seal_context(user_id))?;
    let last = u64::try_from(credential.last_step).ok();
    let now_secs = u64::try_from(now / 1000).map_err(|_| CoreError::Crypto("clock before 1970"))?;
    let step = match totp::verify(&secret, code, now_secs, last) {
        Ok(step) => step,
        Err(totp::TotpRefusal::Invalid) => return Ok(Err(FactorRefusal::Invalid)),
        Err(totp::TotpRefusal::Replayed) => return Ok(Err(FactorRefusal::Replayed)),
    };
    let step = i64::try_from(step).map_err(|_| CoreError::Crypto("TOTP step out of range"))?;
    // The conditional UPDATE decides between two concurrent uses of one code.
    if store.use_totp_step(user_id, step, now).await? {
        Ok(Ok(()))
    } else {
        Ok(Err(FactorRefusal::Replayed))
    }
}

/// Uses a recovery code once.
pub async fn verify_recovery_code(
    store: &Store,
    user_id: &str,
    typed: &str,
    now: UnixMillis,
) -> CoreResult<Result<(), FactorRefusal>> {
    if store
        .use_recovery_code(user_id, &recovery::hash(typed), now)
        .await?
    {
        Ok(Ok(()))
    } else {
        Ok(Err(FactorRefusal::Invalid))
    }
}

/// A new set of recovery codes (replacing any old set); returns the codes to show once.
pub async fn new_recovery_codes(
    store: &Store,
    user_id: &str,
    now: UnixMillis,
) -> CoreResult<Vec<String>> {
    let (codes, hashes) = recovery::generate();
    store.replace_recovery_codes(user_id, &hashes, now).await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::password::PasswordHasherPool;
    use crate::seed::{seed_demo, DEMO_RESOURCE_URL, DEMO_USER_EMAIL};
    use crate::testing::sqlite;

    const NOW: i64 = 1_700_000_000_000;

    #[tokio::test]
    async fn enrol_confirm_then_verify_once_per_step() {
        let db = sqlite();
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        seed_demo(&store, &PasswordHasherPool::new(1), DEMO_RESOURCE_URL, 1)
            .await
            .expect("seed");
        let user = store
            .user_by_email(DEMO_USER_EMAIL)
            .await
            .expect("get")
            .expect("user")
            .id
            .to_string();
        let master = MasterKey::generate();
        let enrolment = begin_totp(&store, &master, &user, "Mandate", DEMO_USER_EMAIL, NOW)
            .await
            .expect("begin")
            .expect("enrolment");
        assert!(enrolment.otpauth_url.starts_with("otpauth://totp/"));
        assert!(!has_totp(&store, &user).await.expect("has"));
        let again = pending_totp(&store, &master, &user, "Mandate", DEMO_USER_EMAIL)
            .await
            .expect("pending")
            .expect("still pending");
        assert_eq!(again.manual_key, enrolment.manual_key);

        let credential = store.totp_credential(&user).await.expect("get").expect("c");
        let secret = master
            .open(&credential.secret_sealed, &seal_context(&user))
            .expect("open");
        let code = totp::code_at(&secret, (NOW / 1000) as u64).expect("code");
        assert_eq!(
            verify_totp(&store, &master, &user, &code, NOW, false)
                .await
                .expect("v"),
            Err(FactorRefusal::NotEnrolled),
            "an unconfirmed authenticator does not count for sign-in"
        );
        assert_eq!(
            verify_totp(&store, &master, &user, &code, NOW, true)
                .await
                .expect("v"),
            Ok(())
        );
        assert!(has_totp(&store, &user).await.expect("has"));
        assert_eq!(
            verify_totp(&store, &master, &user, &code, NOW + 1000, false)
                .await
                .expect("v"),
            Err(FactorRefusal::Replayed)
        );
        let next = totp::code_at(&secret, (NOW / 1000) as u64 + 30).expect("code");
        assert_eq!(
            verify_totp(&store, &master, &user, &next, NOW + 30_000, false)
                .await
                .expect("v"),
            Ok(())
        );
        assert_eq!(
            verify_totp(&store, &master, &user, "000000", NOW + 60_000, false)
                .await
                .expect("v"),
            Err(FactorRefusal::Invalid)
        );
        assert!(
            begin_totp(&store, &master, &user, "Mandate", DEMO_USER_EMAIL, NOW)
                .await
                .expect("begin")
                .is_none(),
            "a confirmed authenticator is not silently replaced"
        );

        let codes = new_recovery_codes(&store, &user, NOW).await.expect("codes");
        assert_eq!(
            verify_recovery_code(&store, &user, &codes[3], NOW)
                .await
                .expect("r"),
            Ok(())
        );
        assert_eq!(
            verify_recovery_code(&store, &user, &codes[3], NOW)
                .await
                .expect("r"),
            Err(FactorRefusal::Invalid)
        );
    }
}
