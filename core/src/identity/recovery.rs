//! Recovery codes: ten single-use codes shown once at enrolment, stored as SHA-256 only.
//! Each has 60 bits of entropy, written as three groups of four from an alphabet without
//! look-alike characters.

use rand::Rng;

use crate::secret::{Secret, SecretHash};

/// Crockford-style alphabet: no I, L, O, U.
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODES_PER_SET: usize = 10;

/// A fresh set: the codes to show once, and the hashes to store.
pub fn generate() -> (Vec<String>, Vec<SecretHash>) {
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<String> = (0..CODES_PER_SET)
        .map(|_| {
            let raw: String = (0..12)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
        })
        .collect();
    let hashes = codes.iter().map(|c| hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a code as typed: case, spaces and dashes do not matter.
pub fn hash(typed: &str) -> SecretHash {
    let normalized: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Secret::presented(normalized).hash()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_readable_and_stored_hashed() {
        let (codes, hashes) = generate();
        assert_eq!(codes.len(), CODES_PER_SET);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), CODES_PER_SET);
        for (code, stored) in codes.iter().zip(&hashes) {
            assert_eq!(code.len(), 14);
            assert!(!code.contains(['I', 'L', 'O', 'U']));
            assert_ne!(stored.as_str(), code.as_str());
            assert_eq!(&hash(code), stored);
        }
    }

    #[test]
    fn typing_variations_match_the_same_code() {
        let stored = hash("ABCD-EFGH-JKMN");
        assert_eq!(hash("abcd efgh jkmn"), stored);
        assert_eq!(hash(" ABCDEFGHJKMN "), stored);
        assert_ne!(hash("ABCD-EFGH-JKMP"), stored);
    }
}
