//! The guard over real HTTP: a JWKS served by a local issuer, tokens signed with its keys or
//! forged, and a guarded MCP endpoint. Every refusal has the right status and challenge.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Extension;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use mandate_guard::{Guard, GuardConfig, GuardLayer, Principal};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};
use tower::Layer;

const AUDIENCE: &str = "http://localhost:4000/mcp";
const METADATA: &str = "http://localhost:4000/.well-known/oauth-protected-resource/mcp";

struct Key {
    kid: String,
    signing: SigningKey,
}

impl Key {
    fn new(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            signing: SigningKey::random(&mut rand::thread_rng()),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.signing.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        })
    }

    fn public_pem(&self) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        self.signing
            .verifying_key()
            .to_public_key_pem(Default::default())
            .expect("pem")
            .into_bytes()
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    fn sign_with(&self, header: Header, claims: &Value) -> String {
        let der = self.signing.to_pkcs8_der().expect("der");
        encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes())).expect("sign")
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    mcp: String,
}

impl Issuer {
    fn claims(&self, scope: &str) -> Value {
        json!({
            "iss": self.url, "sub": "user-1", "aud": AUDIENCE, "client_id": "agent-1",
            "scope": scope, "tenant": "tenant-1", "jti": "t-1",
            "iat": now(), "nbf": now(), "exp": now() + 300,
        })
    }
}

async fn listen(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// An issuer serving `keys` at `/jwks.json`, and an MCP endpoint guarded for it where
/// `create_note` needs `notes.write`.
async fn start(keys: Vec<Value>) -> Issuer {
    let keys = Arc::new(Mutex::new(keys));
    let served = keys.clone();
    let issuer = listen(Router::new().route(
        "/jwks.json",
        get(move || {
            let keys = served.lock().expect("keys").clone();
            async move { Json(json!({ "keys": keys })) }
        }),
    ))
    .await;
    let url = format!("http://{issuer}");
    let guard = Guard::new(
        GuardConfig::new(url.clone(), AUDIENCE, METADATA).tool_scope("create_note", "notes.write"),
    );
    let app = Router::new().route(
        "/mcp",
        post(|Extension(p): Extension<Principal>| async move {
            Json(json!({ "sub": p.subject, "tenant": p.tenant, "client": p.client_id }))
        }),
    );
    let mcp = listen(Router::new().route_service("/mcp", GuardLayer::new(guard).layer(app))).await;
    Issuer {
        url,
        keys,
        mcp: format!("http://{mcp}/mcp"),
    }
}

const LIST: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_notes"}}"#;
const CREATE: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_note"}}"#;

async fn call(issuer: &Issuer, token: Option<&str>, body: &str) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .post(&issuer.mcp)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

async fn refused(issuer: &Issuer, token: &str, why: &str) {
    let (status, challenge, _) = call(issuer, Some(token), LIST).await;
    assert_eq!(status, 401, "{why}");
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{why}: {challenge}"
    );
    assert!(
        challenge.contains(&format!("resource_metadata=\"{METADATA}\"")),
        "{why}"
    );
}

#[tokio::test]
async fn a_valid_token_reaches_the_tool_with_its_principal() {
    let key = Key::new("k1");
    let issuer = start(vec![key.jwk()]).await;
    let token = key.sign(&issuer.claims("notes.read notes.write"));
    let (status, _, body) = call(&issuer, Some(&token), CREATE).await;
    assert_eq!(status, 200);
    assert_eq!(body["sub"], "user-1");
    assert_eq!(
        body["tenant"], "tenant-1",
        "the tenant is exposed to the tool"
    );
}

#[tokio::test]
async fn no_token_is_a_401_naming_the_resource_metadata() {
    let issuer = start(vec![Key::new("k1").jwk()]).await;
    let (status, challenge, _) = call(&issuer, None, LIST).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{METADATA}\"")
    );
}

#[tokio::test]
async fn wrong_issuer_audience_and_times_are_refused() {
    let key = Key::new("k1");
    let issuer = start(vec![key.jwk()]).await;
    let mut c = issuer.claims("notes.read");
    c["iss"] = json!("http://elsewhere.example/s/notes");
    refused(&issuer, &key.sign(&c), "another issuer").await;

    let mut c = issuer.claims("notes.read");
    c["aud"] = json!("http://localhost:4001/other-mcp");
    refused(&issuer, &key.sign(&c), "another audience (no passthrough)").await;

    let mut c = issuer.claims("notes.read");
    c["exp"] = json!(now() - 120);
    refused(&issuer, &key.sign(&c), "expired beyond the leeway").await;

    let mut c = issuer.claims("notes.read");
    c["nbf"] = json!(now() + 120);
    refused(&issuer, &key.sign(&c), "not valid yet").await;

    let mut c = issuer.claims("notes.read");
    c["exp"] = json!(now() - 10);
    let (status, _, _) = call(&issuer, Some(&key.sign(&c)), LIST).await;
    assert_eq!(status, 200, "within the 30 s leeway");
}

#[tokio::test]
async fn forged_algorithms_and_types_are_refused() {
    let key = Key::new("k1");
    let issuer = start(vec![key.jwk()]).await;
    let claims = issuer.claims("notes.read");

    // alg none: header and payload, empty signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    refused(&issuer, &format!("{header}.{payload}."), "alg none").await;

    // HS256 keyed with the issuer's public key (the classic algorithm confusion).
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some("k1".into());
    let forged = encode(&hs, &claims, &EncodingKey::from_secret(&key.public_pem())).expect("hs");
    refused(&issuer, &forged, "HS256 with the public key").await;

    // A validly signed token that is not an access token.
    let mut id_token = Header::new(Algorithm::ES256);
    id_token.typ = Some("JWT".into());
    id_token.kid = Some("k1".into());
    refused(&issuer, &key.sign_with(id_token, &claims), "typ JWT").await;

    // Signed by a key the issuer never published, under its kid.
    let stranger = Key {
        kid: "k1".into(),
        signing: SigningKey::random(&mut rand::thread_rng()),
    };
    refused(&issuer, &stranger.sign(&claims), "wrong signature").await;
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_so_rotation_needs_no_restart() {
    let old = Key::new("k1");
    let issuer = start(vec![old.jwk()]).await;
    let (status, _, _) = call(&issuer, Some(&old.sign(&issuer.claims("notes.read"))), LIST).await;
    assert_eq!(status, 200, "keys fetched and cached");

    let new = Key::new("k2");
    let early = new.sign(&issuer.claims("notes.read"));
    refused(&issuer, &early, "a kid the issuer does not publish").await;

    // The issuer rotates: the new key is published beside the retired one.
    issuer.keys.lock().expect("keys").push(new.jwk());
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    let (status, _, _) = call(&issuer, Some(&early), LIST).await;
    assert_eq!(
        status, 200,
        "the unknown kid made the guard fetch the keys again"
    );
    let (status, _, _) = call(&issuer, Some(&old.sign(&issuer.claims("notes.read"))), LIST).await;
    assert_eq!(status, 200, "the retired key still verifies live tokens");
}

#[tokio::test]
async fn a_tool_call_without_its_scope_is_a_403_step_up_challenge() {
    let key = Key::new("k1");
    let issuer = start(vec![key.jwk()]).await;
    let token = key.sign(&issuer.claims("notes.read"));
    let (status, _, _) = call(&issuer, Some(&token), LIST).await;
    assert_eq!(status, 200, "list_notes needs no more than the token has");
    let (status, challenge, body) = call(&issuer, Some(&token), CREATE).await;
    assert_eq!(status, 403);
    assert!(
        challenge
            .starts_with("Bearer error=\"insufficient_scope\", scope=\"notes.read notes.write\""),
        "asks for what the token has plus the tool's scope: {challenge}"
    );
    assert!(challenge.contains(&format!("resource_metadata=\"{METADATA}\"")));
    assert_eq!(body["error"], "insufficient_scope");
}
