//! Scopes: RFC 6749 §3.3. A scope value is a space-delimited list of case-sensitive tokens,
//! each `1*( %x21 / %x23-5B / %x5D-7E )`.

use std::collections::BTreeSet;

use super::error::OAuthError;

/// A set of scope tokens, kept in the order first seen and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

fn is_scope_char(c: char) -> bool {
    matches!(c, '\u{21}' | '\u{23}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

impl ScopeSet {
    /// Parses a `scope` parameter. Empty or absent gives the empty set.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let mut out: Vec<String> = Vec::new();
        // §3.3: tokens are separated by single spaces; tolerate runs of spaces, nothing else.
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !token.chars().all(is_scope_char) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope token {token:?} has characters RFC 6749 §3.3 does not allow"
                )));
            }
            if !out.iter().any(|t| t == token) {
                out.push(token.to_owned());
            }
        }
        Ok(Self(out))
    }

    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for t in tokens {
            let t = t.into();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Self(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.clone()
    }

    /// Tokens of `self` that are not in `other`.
    pub fn missing_from(&self, other: &ScopeSet) -> ScopeSet {
        Self(
            self.0
                .iter()
                .filter(|t| !other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// Tokens of `self` that are also in `other`, in `self`'s order.
    pub fn intersect(&self, other: &ScopeSet) -> ScopeSet {
        Self(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// Tokens of both, `self`'s first.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self::from_tokens(self.0.iter().chain(other.0.iter()).cloned())
    }

    /// The space-separated form, sorted for stable output.
    pub fn to_scope_string(&self) -> String {
        let sorted: BTreeSet<&str> = self.iter().collect();
        sorted.into_iter().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated_tokens_without_duplicates() {
        let s = ScopeSet::parse("notes.read  notes.write notes.read").expect("parse");
        assert_eq!(s.to_vec(), ["notes.read", "notes.write"]);
        assert!(ScopeSet::parse("").expect("empty").is_empty());
    }

    #[test]
    fn refuses_characters_outside_rfc_6749_section_3_3() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\tb", "a\nb"] {
            let err = ScopeSet::parse(bad).expect_err(bad);
            assert_eq!(err.code, super::super::ErrorCode::InvalidScope);
        }
    }

    #[test]
    fn set_operations() {
        let asked = ScopeSet::parse("a b c").expect("parse");
        let allowed = ScopeSet::parse("c a").expect("parse");
        assert_eq!(asked.intersect(&allowed).to_vec(), ["a", "c"]);
        assert_eq!(asked.missing_from(&allowed).to_vec(), ["b"]);
        assert!(!asked.is_subset_of(&allowed));
        assert!(allowed.is_subset_of(&asked));
        assert_eq!(allowed.union(&asked).to_vec(), ["c", "a", "b"]);
        assert_eq!(asked.to_scope_string(), "a b c");
    }
}
