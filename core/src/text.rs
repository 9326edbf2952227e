//! Text both databases can store. PostgreSQL's `text` cannot hold a NUL character (it refuses
//! the value, and even a lookup by it), so input that would reach a text column with one is
//! refused where it arrives, the same way on SQLite.

use serde_json::Value;

/// Whether any string of `value`, object keys included, holds a NUL character.
pub fn json_holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(json_holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || json_holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_is_found_in_any_string_or_key() {
        assert!(!json_holds_nul(
            &json!({"a": [1, "b", null, true, {"c": "d"}]})
        ));
        assert!(json_holds_nul(&json!("a\0")));
        assert!(json_holds_nul(&json!({"a": [1, {"c": "d\0"}]})));
        assert!(json_holds_nul(&json!({"k\0": 1})));
        assert!(!json_holds_nul(&json!("\\u0000 as six characters")));
    }
}
