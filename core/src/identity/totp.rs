//! Time-based one-time passwords (RFC 6238) as a second factor: 160-bit secrets, SHA-1,
//! 6 digits, 30 s steps (what every authenticator app speaks), accepted within ±1 step, and
//! never the same step twice (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt
//! of the same OTP after the successful validation has been issued for the first OTP").
//! The secret is stored sealed under the master key by the caller.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::{CoreError, CoreResult};

/// Authenticator apps' common parameters.
const DIGITS: u8 = 6;
const STEP_SECS: u64 = 30;
/// Steps accepted either side of now: clock drift and the time to type the code.
const SKEW: u16 = 1;

/// A new random 160-bit secret (RFC 4226 §4 recommends 160 bits).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], issuer: Option<&str>, account: &str) -> CoreResult<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECS)
        .with_skew(SKEW)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(issuer)
        .with_account_name(account)
        .build()
        .map_err(|_| CoreError::Crypto("invalid TOTP parameters"))
}

/// What the enrolment page shows: the `otpauth://` URL (for the QR code) and the key to type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub otpauth_url: String,
    /// The secret in base32, grouped in fours for reading aloud.
    pub manual_key: String,
}

pub fn enrolment(secret: &[u8], issuer: &str, account: &str) -> CoreResult<Enrolment> {
    let t = totp(secret, Some(issuer), account)?;
    let url = t.to_url().map_err(|_| {
        CoreError::Invalid("the account name cannot be used in an authenticator".into())
    })?;
    let base32 = t.secret().to_base32();
    let manual_key = base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Enrolment {
        otpauth_url: url,
        manual_key,
    })
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpRefusal {
    /// Wrong, malformed, or outside ±1 step.
    Invalid,
    /// Right, but its step (or a later one) was already used.
    Replayed,
}

/// Checks `code` at `now_secs`. Returns the matched step, which the caller stores so the same
/// or an earlier step is refused next time (`last_used_step`).
pub fn verify(
    secret: &[u8],
    code: &str,
    now_secs: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpRefusal> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpRefusal::Invalid);
    }
    let t = totp(secret, None, "user").map_err(|_| TotpRefusal::Invalid)?;
    let step = t.check(&code, now_secs).ok_or(TotpRefusal::Invalid)?;
    match last_used_step {
        Some(last) if step <= last => Err(TotpRefusal::Replayed),
        _ => Ok(step),
    }
}

/// The code for `now_secs` (tests and the enrolment self-check).
pub fn code_at(secret: &[u8], now_secs: u64) -> CoreResult<String> {
    Ok(totp(secret, None, "user")?.generate(now_secs).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 secret.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_test_vectors_last_six_digits() {
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(
                code_at(RFC_SECRET, time).expect("code"),
                expected,
                "t={time}"
            );
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_no_further() {
        let secret = new_secret();
        let now = 1_800_000_000;
        for offset in [-30i64, 0, 30] {
            let code = code_at(&secret, (now as i64 + offset) as u64).expect("code");
            assert!(verify(&secret, &code, now, None).is_ok(), "offset {offset}");
        }
        for offset in [-90i64, 90] {
            let code = code_at(&secret, (now as i64 + offset) as u64).expect("code");
            assert_eq!(
                verify(&secret, &code, now, None),
                Err(TotpRefusal::Invalid),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn the_same_code_is_never_accepted_twice() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).expect("code");
        let step = verify(&secret, &code, now, None).expect("first");
        assert_eq!(
            verify(&secret, &code, now + 5, Some(step)),
            Err(TotpRefusal::Replayed)
        );
        let earlier = code_at(&secret, now - 30).expect("code");
        assert_eq!(
            verify(&secret, &earlier, now, Some(step)),
            Err(TotpRefusal::Replayed),
            "an older step after a newer one"
        );
        let next = code_at(&secret, now + 30).expect("code");
        assert!(verify(&secret, &next, now + 30, Some(step)).is_ok());
    }

    #[test]
    fn malformed_codes_are_invalid() {
        let secret = new_secret();
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(
                verify(&secret, bad, 1_800_000_000, None),
                Err(TotpRefusal::Invalid),
                "{bad:?}"
            );
        }
        let code = code_at(&secret, 1_800_000_000).expect("code");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(
            verify(&secret, &spaced, 1_800_000_000, None).is_ok(),
            "spaces are ignored"
        );
    }

    #[test]
    fn enrolment_gives_an_otpauth_url_and_a_readable_key() {
        let e = enrolment(RFC_SECRET, "Mandate", "ada@example.com").expect("enrolment");
        assert!(
            e.otpauth_url.starts_with(
                "otpauth://totp/Mandate:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            ),
            "{}",
            e.otpauth_url
        );
        assert!(e.otpauth_url.contains("issuer=Mandate"));
        assert_eq!(e.manual_key, "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
    }
}
