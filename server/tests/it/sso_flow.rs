//! The single sign-on callback over real HTTP against a scripted OpenID provider started by the
//! test (discovery, JWKS and a token endpoint that signs an ES256 ID token with the claims the
//! test chooses): just-in-time accounts, roles replaced at every sign-in, existing accounts
//! linked only within their tenant, and every refusal (another domain, an unverified email, a
//! wrong nonce, a project admin's account). SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Form, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::ids::UserId;
use mandate_core::seed::seed_demo;
use mandate_core::testing::each_backend;
use serde_json::{json, Value};

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, signed_in};
use crate::oauth_flow::RESOURCE;
use crate::steps::post_sign_in;
use crate::support::{browser, client, location, query_of, TestServer};

/// What the provider puts in its next ID token.
#[derive(Default)]
struct Next {
    nonce: String,
    claims: Value,
}

#[derive(Clone)]
struct Provider {
    issuer: String,
    key: Arc<jsonwebtoken::EncodingKey>,
    jwk: Value,
    next: Arc<Mutex<Next>>,
}

async fn discovery(State(p): State<Provider>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/auth", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn jwks(State(p): State<Provider>) -> Json<Value> {
    Json(json!({ "keys": [p.jwk] }))
}

async fn token(
    State(p): State<Provider>,
    Form(_form): Form<Vec<(String, String)>>,
) -> impl IntoResponse {
    let next = p.next.lock().expect("next");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let mut claims = json!({
        "iss": p.issuer, "aud": "mandate", "iat": now, "exp": now + 300, "nonce": next.nonce,
    });
    if let (Some(all), Some(extra)) = (claims.as_object_mut(), next.claims.as_object()) {
        all.extend(extra.clone());
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let id_token = jsonwebtoken::encode(&header, &claims, &p.key).expect("sign");
    Json(
        json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token }),
    )
}

async fn provider() -> Provider {
    let pair = rcgen::KeyPair::generate().expect("P-256 key");
    let raw = pair.public_key_raw();
    let (x, y) = raw[1..].split_at(32);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!(
        "http://localhost:{}",
        listener.local_addr().expect("addr").port()
    );
    let p = Provider {
        issuer,
        key: Arc::new(
            jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("pem"),
        ),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }),
        next: Arc::default(),
    };
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(discovery),
        )
        .route("/jwks", axum::routing::get(jwks))
        .route("/token", axum::routing::post(token))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    p
}

/// Types `email` on the sign-in page (with a password, which an enforced domain ignores; or
/// pressing "Continue with single sign-on" when `explicit`), follows Mandate to the provider,
/// then brings back the provider's answer carrying `claims` (and the request's nonce unless
/// `nonce` says another).
async fn through_provider(
    server: &TestServer,
    p: &Provider,
    email: &str,
    claims: Value,
    nonce: Option<&str>,
    explicit: bool,
) -> (reqwest::Client, reqwest::Response) {
    let b = browser();
    let mut fields = vec![("email", email), ("password", "not checked")];
    if explicit {
        fields.push(("sso", "1"));
    }
    let res = post_sign_in(server, &b, None, &fields).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(to.starts_with(&format!("{}/auth?", p.issuer)), "{to}");
    let q = query_of(&to);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["login_hint"], email);
    *p.next.lock().expect("next") = Next {
        nonce: nonce.map_or_else(|| q["nonce"].clone(), str::to_owned),
        claims,
    };
    let res = b
        .get(server.url(&format!(
            "/sign-in/sso/callback?code=c&state={}",
            q["state"]
        )))
        .send()
        .await
        .expect("callback");
    (b, res)
}

async fn roles_in(server: &TestServer, email: &str, tenant_slug: &str) -> Option<Vec<String>> {
    let user = server.store.user_by_email(email).await.expect("read")?;
    server
        .store
        .memberships_of(&user.id)
        .await
        .expect("memberships")
        .into_iter()
        .find(|(_, t)| t.slug == tenant_slug)
        .map(|(m, _)| m.roles)
}

#[tokio::test]
async fn the_provider_signs_people_in_and_its_groups_become_their_roles() {
    for db in each_backend().await {
        let server = TestServer::start_with(
            &db,
            &[("MANDATE_INTEGRATIONS_NETWORK", "loopback".to_owned())],
        )
        .await;
        let password = seed_demo(&server.store, &PasswordHasherPool::new(1), RESOURCE, 1)
            .await
            .expect("seed")
            .user_password
            .expect("fresh demo user");
        make_project_admin(&server.store).await;
        let (console, _) = signed_in(&server, &password).await;
        let (_, page) = create_key(&server, &console, "SSO", "full").await;
        let key = key_in(&page);
        let p = provider().await;
        let res = client()
            .put(server.url("/api/v1/tenants/acme/sso"))
            .bearer_auth(&key)
            .json(&json!({
                "issuer_url": p.issuer, "client_id": "mandate", "client_secret": "s3cret-for-the-provider",
                "scopes": "openid email groups", "email_domains": "acme.example, example.com",
                "enforce": true, "role_mapping": "finance = approver, member\nstaff = member"
            }))
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), 200);

        // A first sign-in creates the account, in Acme, with the mapped roles.
        let ada = json!({ "sub": "idp-ada", "email": "ada@acme.example", "email_verified": true, "groups": ["finance"] });
        let (b, res) = through_provider(&server, &p, "ada@acme.example", ada, None, false).await;
        assert_eq!(
            res.status(),
            303,
            "{}",
            res.text().await.unwrap_or_default()
        );
        assert!(location(&server, &res).ends_with("/account"));
        let account = b.get(server.url("/account")).send().await.expect("account");
        assert_eq!(account.status(), 200, "signed in");
        assert_eq!(
            roles_in(&server, "ada@acme.example", "acme").await,
            Some(vec!["approver".into(), "member".into()])
        );
        // The next sign-in replaces the roles with what the groups say now.
        let ada = json!({ "sub": "idp-ada", "email": "ada@acme.example", "email_verified": true, "groups": ["staff"] });
        let (_, res) = through_provider(&server, &p, "ada@acme.example", ada, None, false).await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            roles_in(&server, "ada@acme.example", "acme").await,
            Some(vec!["member".into()])
        );

        // Refused: another domain, an unverified email, a wrong nonce.
        let refusals = [
            (
                json!({ "sub": "s2", "email": "boss@globex.example", "email_verified": true }),
                None,
                403,
                "not one of this organization",
            ),
            (
                json!({ "sub": "s3", "email": "eve@acme.example", "email_verified": false }),
                None,
                403,
                "not verified",
            ),
            (
                json!({ "sub": "s4", "email": "mal@acme.example" }),
                Some("another-nonce"),
                403,
                "not working right now",
            ),
        ];
        for (claims, nonce, status, says) in refusals {
            let (_, res) =
                through_provider(&server, &p, "x@acme.example", claims, nonce, false).await;
            assert_eq!(res.status(), status);
            let html = res.text().await.expect("html");
            assert!(html.contains(says), "{says}: {html}");
        }
        assert!(server
            .store
            .user_by_email("boss@globex.example")
            .await
            .expect("read")
            .is_none());
        assert!(server
            .store
            .user_by_email("mal@acme.example")
            .await
            .expect("read")
            .is_none());

        // Existing accounts: a project admin is never taken over; the demo user (in Acme and
        // Globex) is linked once no longer a project admin; someone only Globex knows is not.
        let demo = json!({ "sub": "idp-demo", "email": "demo@example.com", "email_verified": true, "groups": [] });
        let (_, res) =
            through_provider(&server, &p, "demo@example.com", demo.clone(), None, true).await;
        assert_eq!(res.status(), 403, "a project admin");
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        let (_, res) = through_provider(&server, &p, "demo@example.com", demo, None, false).await;
        assert_eq!(res.status(), 303, "a member of Acme");
        let globex = server
            .store
            .tenant_by_slug("globex")
            .await
            .expect("read")
            .expect("globex");
        let outsider = mandate_core::model::User {
            id: UserId::from_string("u-outsider"),
            email: "out@example.com".into(),
            display_name: "Outsider".into(),
            must_change_password: false,
            is_project_admin: false,
            disabled: false,
            created_at: 1,
        };
        server
            .store
            .insert_user(&outsider, None)
            .await
            .expect("user");
        server
            .store
            .set_membership(&globex.id, &outsider.id, &[], &[], false, 1)
            .await
            .expect("member");
        let claims =
            json!({ "sub": "idp-out", "email": "out@example.com", "email_verified": true });
        let (_, res) = through_provider(&server, &p, "out@example.com", claims, None, false).await;
        assert_eq!(res.status(), 403);
        assert!(res
            .text()
            .await
            .expect("html")
            .contains("outside this organization"));
        assert_eq!(
            roles_in(&server, "out@example.com", "acme").await,
            None,
            "not added to Acme"
        );

        let signed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE event_type = 'user.signed_in' AND detail LIKE '%\"method\":\"sso\"%'",
        )
        .fetch_one(server.store.pool())
        .await
        .expect("audit");
        assert_eq!(signed, 3, "ada twice, demo once");
        server.stop().await;
    }
}
