//! Building the redirect back to the client: one function, `url` query encoding, never string
//! concatenation. `iss` is on every response, errors included (RFC 9207 §2).

use url::Url;

use super::error::OAuthError;

/// The redirect URI with `params` appended to its query (existing query kept, RFC 6749 §3.1.2).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Result<String, OAuthError> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|_| OAuthError::server_error("registered redirect_uri does not parse"))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}

/// A successful authorization response (RFC 6749 §4.1.2).
pub fn success(
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
    issuer: &str,
) -> Result<String, OAuthError> {
    let mut params = vec![("code", code)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

/// An error authorization response (RFC 6749 §4.1.2.1).
pub fn error(
    redirect_uri: &str,
    err: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> Result<String, OAuthError> {
    let mut params = vec![
        ("error", err.code.as_str()),
        ("error_description", err.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_keeps_existing_query_and_encodes_state() {
        let url = success(
            "https://app.example.com/cb?x=1",
            "c0de",
            Some("a b&c=d"),
            "https://as/s/x",
        )
        .expect("url");
        assert_eq!(url, "https://app.example.com/cb?x=1&code=c0de&state=a+b%26c%3Dd&iss=https%3A%2F%2Fas%2Fs%2Fx");
    }

    #[test]
    fn errors_carry_code_state_and_iss() {
        let err = OAuthError::invalid_scope("nope");
        let url = error("http://127.0.0.1:5000/cb", &err, Some("s"), "iss").expect("url");
        let parsed = Url::parse(&url).expect("parse");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("error".into(), "invalid_scope".into()),
                ("error_description".into(), "nope".into()),
                ("state".into(), "s".into()),
                ("iss".into(), "iss".into())
            ]
        );
    }
}
