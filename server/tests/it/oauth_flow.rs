//! The authorization-code flow over real HTTP: DCR → /authorize → sign-in → tenant →
//! consent (one scope toggled off) → code → token → refresh → introspect → revoke.

use crate::steps::{begin, choose, text, walk_journey};
use crate::support::{browser, client, hidden_field, location, query_of, TestServer};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::oauth::pkce::s256;
use mandate_core::seed::seed_demo;
use mandate_core::testing::{each_backend, sqlite};
use serde_json::{json, Value};
use std::sync::Arc;

pub const VERIFIER: &str = "test-verifier-0123456789-0123456789-0123456789";
pub const REDIRECT: &str = "http://127.0.0.1:8976/callback";
pub const RESOURCE: &str = "http://localhost:4000/mcp";

/// A started server with the demo seeded; returns the demo user's password.
pub async fn demo_server(db: &mandate_core::testing::TestDatabase) -> (TestServer, String) {
    let server = TestServer::start(db).await;
    let seed = seed_demo(&server.store, &PasswordHasherPool::new(1), RESOURCE, 1)
        .await
        .expect("seed");
    (server, seed.user_password.expect("fresh demo user"))
}

/// Registers a public client by DCR and returns its client_id.
pub async fn register_public(server: &TestServer) -> String {
    let res = client()
        .post(server.url("/s/demo-notes/register"))
        .json(&json!({
            "client_name": "Test Agent",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// Registers a confidential client (client_credentials + introspection) and returns (id, secret).
pub async fn register_confidential(server: &TestServer) -> (String, String) {
    let res = client()
        .post(server.url("/s/demo-notes/register"))
        .json(&json!({
            "client_name": "Resource Server",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// POSTs `token` to the demo server's `endpoint` (`introspect`, `revoke`) as the confidential
/// client (`id`, `secret`), which must answer 200: the response.
pub async fn post_token_as(
    server: &TestServer,
    endpoint: &str,
    token: &str,
    id: &str,
    secret: &str,
) -> reqwest::Response {
    let res = client()
        .post(server.url(&format!("/s/demo-notes/{endpoint}")))
        .form(&[
            ("token", token),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect(endpoint);
    assert_eq!(res.status(), 200, "{endpoint}");
    res
}

/// The demo server's introspection of `token` by the confidential client (`id`, `secret`),
/// which must answer 200: its JSON.
pub async fn introspect(server: &TestServer, token: &str, id: &str, secret: &str) -> Value {
    post_token_as(server, "introspect", token, id, secret)
        .await
        .json()
        .await
        .expect("json")
}

pub fn authorize_url(server: &TestServer, client_id: &str, scope: &str, state: &str) -> String {
    let mut url = url::Url::parse(&server.url("/s/demo-notes/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", &s256(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", RESOURCE);
    url.to_string()
}

async fn token(server: &TestServer, form: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(server.url("/s/demo-notes/token"))
        .form(form)
        .send()
        .await
        .expect("token")
}

pub fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json")
}

#[tokio::test]
async fn full_flow_issues_exactly_the_consented_scopes_for_the_chosen_tenant() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let b = browser();
        let start = authorize_url(&server, &client_id, "notes.read notes.share", "st-123");
        let back = walk_journey(&server, &b, &start, &password, "Globex", &["notes.read"]).await;
        assert!(back.starts_with(REDIRECT), "{back}");
        let q = query_of(&back);
        assert_eq!(q["state"], "st-123");
        assert_eq!(
            q["iss"],
            server.url("/s/demo-notes"),
            "RFC 9207: iss is the issuer"
        );
        let code = q["code"].clone();

        let res = token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
                ("resource", RESOURCE),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let t: Value = res.json().await.expect("json");
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["scope"], "notes.read", "notes.share was toggled off");
        let c = claims(t["access_token"].as_str().expect("at"));
        assert_eq!(c["aud"], RESOURCE);
        assert_eq!(c["scope"], "notes.read");
        assert_eq!(c["client_id"], client_id.as_str());
        let globex = server
            .store
            .tenant_by_slug("globex")
            .await
            .expect("get")
            .expect("tenant");
        assert_eq!(c["tenant"], globex.id.as_str(), "the chosen tenant");
        assert_eq!(c["act"]["sub"], client_id.as_str());

        // Refresh rotates.
        let rt = t["refresh_token"].as_str().expect("rt").to_owned();
        let res = token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client_id),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        let t2: Value = res.json().await.expect("json");
        let rt2 = t2["refresh_token"].as_str().expect("rt2").to_owned();
        assert_ne!(rt, rt2);

        // Introspection by a confidential client.
        let (rs_id, rs_secret) = register_confidential(&server).await;
        let introspect = |tok: String| {
            let server = &server;
            let (rs_id, rs_secret) = (rs_id.clone(), rs_secret.clone());
            async move {
                client()
                    .post(server.url("/s/demo-notes/introspect"))
                    .form(&[
                        ("token", tok.as_str()),
                        ("client_id", &rs_id),
                        ("client_secret", &rs_secret),
                    ])
                    .send()
                    .await
                    .expect("introspect")
                    .json::<Value>()
                    .await
                    .expect("json")
            }
        };
        let at2 = t2["access_token"].as_str().expect("at2").to_owned();
        let info = introspect(at2.clone()).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["scope"], "notes.read");
        assert_eq!(info["aud"], RESOURCE);
        assert_eq!(
            introspect("not.a.token".into()).await,
            json!({"active": false})
        );

        // Revoking the refresh token ends the family: refresh fails, access token inactive.
        let res = client()
            .post(server.url("/s/demo-notes/revoke"))
            .form(&[("token", rt2.as_str()), ("client_id", &client_id)])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 200);
        let res = token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt2),
                ("client_id", &client_id),
            ],
        )
        .await;
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "invalid_grant"
        );
        assert_eq!(introspect(at2).await["active"], false);

        // Every step is on the record.
        for event in [
            "agent.registered",
            "authorization.requested",
            "user.signed_in",
            "consent.granted",
            "code.issued",
            "token.issued",
            "token.refreshed",
            "token.introspected",
            "token.revoked",
        ] {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE event_type = $1")
                    .bind(event)
                    .fetch_one(server.store.pool())
                    .await
                    .expect("count");
            assert!(n >= 1, "{event} recorded");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn deny_redirects_access_denied_with_state_and_iss() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let b = browser();
    let start = authorize_url(&server, &client_id, "notes.read", "s1");
    let (journey, next) = begin(&server, &b, &start, &password).await;
    assert!(next.contains("/authorize/tenant"), "{next}");
    let next = choose(&server, &b, &journey, "Acme Corp").await;
    let html = text(&b, &next).await;
    let res = b
        .post(server.url("/authorize/consent"))
        .form(&[
            ("csrf", hidden_field(&html, "csrf")),
            ("journey", journey.clone()),
            ("decision", "deny".into()),
        ])
        .send()
        .await
        .expect("deny");
    let q = query_of(&location(&server, &res));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "s1");
    assert!(q.contains_key("iss"));
    assert!(!q.contains_key("code"));
    // The journey is over: replaying the consent form is refused.
    let res = b
        .post(server.url("/authorize/consent"))
        .form(&[
            ("csrf", hidden_field(&html, "csrf")),
            ("journey", journey),
            ("decision", "allow".into()),
            ("scope", "notes.read".into()),
        ])
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 400);
    server.stop().await;
}

#[tokio::test]
async fn forged_consent_posts_are_refused() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let b = browser();
    let res = b
        .get(authorize_url(&server, &client_id, "notes.read", "s1"))
        .send()
        .await
        .expect("authorize");
    let sign_in = location(&server, &res);
    let journey = query_of(&sign_in)["journey"].clone();
    let html = b
        .get(&sign_in)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let csrf = hidden_field(&html, "csrf");
    // Consent before signing in, before the tenant: refused.
    let res = b
        .post(server.url("/authorize/consent"))
        .form(&[
            ("csrf", csrf.clone()),
            ("journey", journey.clone()),
            ("decision", "allow".into()),
            ("scope", "notes.read".into()),
        ])
        .send()
        .await
        .expect("early");
    assert_eq!(res.status(), 400);
    b.post(server.url("/sign-in"))
        .form(&[
            ("csrf", csrf.clone()),
            ("journey", journey.clone()),
            ("email", "demo@example.com".into()),
            ("password", password),
        ])
        .send()
        .await
        .expect("sign in");
    let cases: [(&str, &str, &str); 3] = [
        ("wrong-csrf", journey.as_str(), "notes.read"),
        (csrf.as_str(), "another-journey", "notes.read"),
        (csrf.as_str(), journey.as_str(), "notes.admin"),
    ];
    for (c, j, scope) in cases {
        let res = b
            .post(server.url("/authorize/consent"))
            .form(&[
                ("csrf", c),
                ("journey", j),
                ("decision", "allow"),
                ("scope", scope),
            ])
            .send()
            .await
            .expect("forged");
        assert_eq!(res.status(), 400, "{c} {j} {scope}");
        assert!(res.headers().get("location").is_none(), "no code is issued");
    }
    let codes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authorization_codes")
        .fetch_one(server.store.pool())
        .await
        .expect("count");
    assert_eq!(codes, 0);
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_gives_a_generic_error_and_no_session() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let b = browser();
    let html = b
        .get(server.url("/sign-in"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    for email in ["demo@example.com", "nobody@example.com"] {
        let res = b
            .post(server.url("/sign-in"))
            .form(&[
                ("csrf", hidden_field(&html, "csrf")),
                ("email", email.into()),
                ("password", "wrong-password-123".into()),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), 401);
        let text = res.text().await.expect("html");
        assert!(
            text.contains("The email or password is not correct."),
            "same message for {email}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_redemptions_of_one_code_over_http_yield_one_token() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let back = walk_journey(
            &server,
            &browser(),
            &authorize_url(&server, &client_id, "notes.read", "s"),
            &password,
            "Acme Corp",
            &["notes.read"],
        )
        .await;
        let code = query_of(&back)["code"].clone();
        let server = Arc::new(server);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (server, code, client_id) = (server.clone(), code.clone(), client_id.clone());
            tasks.push(tokio::spawn(async move {
                token(
                    &server,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", VERIFIER),
                        ("client_id", &client_id),
                    ],
                )
                .await
                .status()
                .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("task"));
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 400).count(),
            19,
            "{statuses:?}"
        );
        if let Ok(server) = Arc::try_unwrap(server) {
            server.stop().await;
        }
    }
}

#[tokio::test]
async fn twenty_concurrent_refreshes_of_one_token_over_http_yield_one_token() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let back = walk_journey(
            &server,
            &browser(),
            &authorize_url(&server, &client_id, "notes.read", "s"),
            &password,
            "Acme Corp",
            &["notes.read"],
        )
        .await;
        let code = query_of(&back)["code"].clone();
        let t: Value = token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
        )
        .await
        .json()
        .await
        .expect("json");
        let rt = t["refresh_token"].as_str().expect("rt").to_owned();
        let server = Arc::new(server);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (server, rt, client_id) = (server.clone(), rt.clone(), client_id.clone());
            tasks.push(tokio::spawn(async move {
                token(
                    &server,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("client_id", &client_id),
                    ],
                )
                .await
                .status()
                .as_u16()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.expect("task") == 200 {
                ok += 1;
            }
        }
        assert_eq!(ok, 1);
        if let Ok(server) = Arc::try_unwrap(server) {
            server.stop().await;
        }
    }
}
