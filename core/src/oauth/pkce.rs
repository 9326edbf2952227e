//! PKCE (RFC 7636), S256 only: OAuth 2.1 §4.1.1 and RFC 9700 §2.1.1 forbid `plain` where S256
//! is possible, and the MCP authorization spec requires S256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`; a S256 challenge has the same alphabet.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<String, OAuthError> {
    let challenge = challenge.filter(|c| !c.is_empty()).ok_or_else(|| {
        OAuthError::invalid_request("code_challenge is required (PKCE with S256)")
    })?;
    match method {
        Some("S256") => {}
        Some("plain") => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method plain is not allowed: use S256",
            ))
        }
        // RFC 7636 §4.3 defaults a missing method to plain, which is refused.
        None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is required and must be S256",
            ))
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            ))
        }
    }
    // A SHA-256 in unpadded base64url is exactly 43 characters.
    if challenge.len() != 43 || !is_pkce_string(challenge) {
        return Err(OAuthError::invalid_request(
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    Ok(challenge.to_owned())
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.6: the verifier must hash to the stored challenge.
pub fn verify(verifier: Option<&str>, challenge: &str) -> Result<(), OAuthError> {
    let verifier = verifier
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required"))?;
    if !is_pkce_string(verifier) {
        return Err(OAuthError::invalid_grant(
            "code_verifier must be 43 to 128 unreserved characters",
        ));
    }
    if bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc_7636_appendix_b_example() {
        assert_eq!(
            s256(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verify(
            Some(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        )
        .is_ok());
    }

    #[test]
    fn pkce_missing_is_refused() {
        let err = check_challenge(None, Some("S256")).expect_err("missing");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(check_challenge(Some(""), Some("S256")).is_err());
    }

    #[test]
    fn pkce_plain_and_missing_method_are_refused() {
        let challenge = s256(VERIFIER);
        for method in [Some("plain"), None, Some("s256"), Some("S512")] {
            let err = check_challenge(Some(&challenge), method).expect_err("method");
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{method:?}");
        }
        assert_eq!(
            check_challenge(Some(&challenge), Some("S256")).expect("ok"),
            challenge
        );
    }

    #[test]
    fn malformed_challenges_are_refused() {
        for bad in [
            "short",
            &"a".repeat(44),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        ] {
            assert!(check_challenge(Some(bad), Some("S256")).is_err(), "{bad}");
        }
    }

    #[test]
    fn pkce_mismatch_is_invalid_grant() {
        let challenge = s256(VERIFIER);
        let other = "x".repeat(43);
        assert_eq!(
            verify(Some(&other), &challenge).expect_err("mismatch").code,
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            verify(None, &challenge).expect_err("missing").code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            verify(Some("short"), &challenge).expect_err("short").code,
            ErrorCode::InvalidGrant
        );
    }
}
