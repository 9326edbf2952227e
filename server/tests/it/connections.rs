//! The token vault over real HTTP, against an OAuth provider this test starts: a person
//! connects an account from the account page (authorization code + PKCE at the provider),
//! an MCP server's back end exchanges the person's Mandate token for it (RFC 8693) as far as
//! the connections policies allow, an expired token is refreshed first, a token carrying
//! more than allowed is narrowed, a machine token gets its agent's own key, and disconnecting
//! deletes it. Every vault read, refresh and exchange is audited, never with a token.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::seed::seed_demo;
use mandate_core::testing::{each_backend, TestDatabase};
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, signed_in};
use crate::journey::redeem;
use crate::oauth_flow::{authorize_url, register_public, RESOURCE};
use crate::steps::{text, walk_journey};
use crate::support::{client, hidden_field, location, TestServer};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the provider has issued and been asked.
#[derive(Default)]
struct Ledger {
    /// code → (PKCE challenge, scope)
    codes: HashMap<String, (String, String)>,
    /// The refresh token that is still good.
    refresh: Option<String>,
    issued: u32,
    /// The `scope` of each refresh request ("" when none).
    refreshes: Vec<String>,
    deny: bool,
    /// Lifetime of the access tokens it issues (3600 s unless a test says otherwise).
    expires_in: Option<i64>,
    /// Refuse every refresh (`invalid_grant`), as for a refresh token revoked at the provider.
    refuse_refresh: bool,
    /// Answer the code with a token response that is not one (a number for the token).
    garbage: bool,
}

#[derive(Clone, Default)]
struct Provider(Arc<Mutex<Ledger>>);

impl Provider {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.0.lock().expect("ledger")
    }
}

async fn authorize(
    State(p): State<Provider>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let to = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert_eq!(
        q.get("client_id").map(String::as_str),
        Some("mandate-vault")
    );
    let mut ledger = p.ledger();
    if ledger.deny {
        return Redirect::to(&format!("{to}?error=access_denied&state={state}")).into_response();
    }
    ledger.issued += 1;
    let code = format!("code-{}", ledger.issued);
    ledger.codes.insert(
        code.clone(),
        (
            q.get("code_challenge").cloned().unwrap_or_default(),
            q.get("scope").cloned().unwrap_or_default(),
        ),
    );
    Redirect::to(&format!("{to}?code={code}&state={state}")).into_response()
}

fn tokens(ledger: &mut Ledger, scope: &str, expires_in: i64) -> Value {
    ledger.issued += 1;
    let refresh = format!("prov-rt-{}", ledger.issued);
    ledger.refresh = Some(refresh.clone());
    json!({
        "access_token": format!("prov-at-{}", ledger.issued),
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": scope,
    })
}

async fn token(
    State(p): State<Provider>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let basic = base64::engine::general_purpose::STANDARD.encode("mandate-vault:vault-secret");
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Basic {basic}").as_str());
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let mut ledger = p.ledger();
    let refused = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response()
    };
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some((challenge, scope)) = ledger.codes.remove(&code) else {
                return refused();
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if mandate_core::oauth::pkce::s256(&verifier) != challenge {
                return refused();
            }
            if ledger.garbage {
                return axum::Json(json!({"access_token": 987_654_321, "token_type": "bearer"}))
                    .into_response();
            }
            let expires_in = ledger.expires_in.unwrap_or(3600);
            axum::Json(tokens(&mut ledger, &scope, expires_in)).into_response()
        }
        Some("refresh_token") => {
            if ledger.refuse_refresh {
                ledger.refreshes.push("refused".into());
                return refused();
            }
            if f.get("refresh_token") != ledger.refresh.as_ref() {
                return refused();
            }
            let scope = f.get("scope").cloned().unwrap_or_default();
            ledger.refreshes.push(scope.clone());
            let scope = if scope.is_empty() {
                "read:user repo".to_owned()
            } else {
                scope
            };
            let expires_in = ledger.expires_in.unwrap_or(3600);
            axum::Json(tokens(&mut ledger, &scope, expires_in)).into_response()
        }
        _ => refused(),
    }
}

async fn provider() -> (Provider, String) {
    let p = Provider::default();
    let app = axum::Router::new()
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (p, base)
}

struct World {
    server: TestServer,
    password: String,
    console: reqwest::Client,
    key: String,
    provider: Provider,
}

async fn world(db: &TestDatabase) -> World {
    world_with(db, &[]).await
}

async fn world_with(db: &TestDatabase, extra: &[(&str, String)]) -> World {
    let mut settings = vec![("MANDATE_INTEGRATIONS_NETWORK", "loopback".to_owned())];
    settings.extend(extra.iter().cloned());
    let server = TestServer::start_with(db, &settings).await;
    let password = seed_demo(&server.store, &PasswordHasherPool::new(1), RESOURCE, 1)
        .await
        .expect("seed")
        .user_password
        .expect("fresh demo user");
    make_project_admin(&server.store).await;
    let (console, _) = signed_in(&server, &password).await;
    let (status, page) = create_key(&server, &console, "vault", "full").await;
    assert_eq!(status, 201, "{page}");
    let key = key_in(&page);
    let (provider, base) = provider().await;
    let created = call(
        &server,
        &key,
        reqwest::Method::POST,
        "/api/v1/connection-providers",
        json!({
            "slug": "github", "name": "GitHub", "kind": "oauth2",
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "client_id": "mandate-vault", "client_secret": "vault-secret",
            "scopes": "read:user repo", "mcp_servers": ["demo-notes"],
        }),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert!(
        created.1.get("client_secret").is_none(),
        "the secret is never returned"
    );
    assert_eq!(
        created.1["redirect_uri"],
        server.url("/connections/callback"),
        "the redirect URI to register at the provider"
    );
    World {
        server,
        password,
        console,
        key,
        provider,
    }
}

async fn call(
    server: &TestServer,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let res = client()
        .request(method, server.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("api");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The console client (the demo user) connects GitHub from the account page.
async fn connect(w: &World) -> reqwest::Response {
    let page = text(&w.console, &w.server.url("/account")).await;
    assert!(
        page.contains("Connected accounts") && page.contains("GitHub"),
        "listed"
    );
    let res = w
        .console
        .post(w.server.url("/account/connections/connect"))
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("provider", "github".to_owned()),
        ])
        .send()
        .await
        .expect("connect");
    assert_eq!(res.status(), 303);
    let at_provider = location(&w.server, &res);
    let res = client().get(&at_provider).send().await.expect("provider");
    let back = location(&w.server, &res);
    assert!(
        back.starts_with(&w.server.url("/connections/callback")),
        "{back}"
    );
    w.console.get(&back).send().await.expect("callback")
}

/// A machine agent for the MCP server's back end, allowed to exchange; (client_id, secret).
async fn back_end(w: &World) -> (String, String) {
    let (status, created) = call(
        &w.server,
        &w.key,
        reqwest::Method::POST,
        "/api/v1/agents",
        json!({"name": "Notes back end", "allowances": {"demo-notes": ["*"]}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["agent"]["id"].as_str().expect("id").to_owned();
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let (status, vault) = call(
        &w.server,
        &w.key,
        reqwest::Method::PUT,
        &format!("/api/v1/agents/{id}/connections"),
        json!({"token_exchange": true}),
    )
    .await;
    assert_eq!(status, 200, "{vault}");
    assert_eq!(vault["token_exchange"], true);
    (id, secret)
}

/// The demo user's access token for demo-notes (Acme Corp).
async fn user_token(w: &World) -> String {
    let client_id = register_public(&w.server).await;
    let start = authorize_url(&w.server, &client_id, "notes.read", "s");
    let back = walk_journey(
        &w.server,
        &crate::support::browser(),
        &start,
        &w.password,
        "Acme Corp",
        &["notes.read"],
    )
    .await;
    redeem(&w.server, &client_id, &back).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn exchange(
    w: &World,
    (id, secret): (&str, &str),
    subject: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS),
    ];
    form.extend_from_slice(extra);
    let res = client()
        .post(w.server.url("/s/demo-notes/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("exchange");
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, res.json().await.expect("json"))
}

async fn events(server: &TestServer, event_type: &str) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT outcome, detail FROM audit_events WHERE event_type = $1 ORDER BY seq",
    )
    .bind(event_type)
    .fetch_all(server.store.pool())
    .await
    .expect("audit");
    rows.into_iter()
        .map(|(o, d)| (o, serde_json::from_str(&d).expect("detail")))
        .collect()
}

async fn policy(w: &World, role: &str, scopes: &[&str]) -> String {
    let (status, created) = call(
        &w.server,
        &w.key,
        reqwest::Method::POST,
        "/api/v1/connection-policies",
        json!({
            "name": format!("{role}s use GitHub"),
            "conditions": [{"key": "user.roles", "operator": "Contains", "values": [role]}],
            "allows": [{"provider_id": "github", "scopes": scopes}],
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn connect_exchange_refresh_narrow_and_disconnect() {
    for db in each_backend().await {
        let w = world(&db).await;
        let res = connect(&w).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&w.server, &res), w.server.url("/account"));
        let page = text(&w.console, &w.server.url("/account")).await;
        assert!(
            page.contains("read:user repo"),
            "the account page shows what it holds"
        );

        // Sealed at rest: neither token is readable in the row.
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT tokens_sealed FROM connections")
            .fetch_one(w.server.store.pool())
            .await
            .expect("row");
        let raw = String::from_utf8_lossy(&sealed);
        assert!(!raw.contains("prov-at") && !raw.contains("prov-rt"));

        let (id, secret) = back_end(&w).await;
        let backend = (id.as_str(), secret.as_str());
        let subject = user_token(&w).await;

        // Closed by default: no policy, no token.
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );

        let policy_id = policy(&w, "engineer", &["read:user", "repo"]).await;
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], "prov-at-2");
        assert_eq!(body["issued_token_type"], ACCESS);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "read:user repo");
        assert!(body["expires_in"].as_i64().expect("expires_in") > 3000);
        assert!(
            body.get("refresh_token").is_none(),
            "the refresh token never leaves"
        );

        // Named by resource instead of audience.
        let resource = w.server.url("/connections/github");
        let (status, body) =
            exchange(&w, backend, &subject, &[("resource", resource.as_str())]).await;
        assert_eq!(
            (status, body["access_token"].as_str()),
            (200, Some("prov-at-2"))
        );

        // About to expire: refreshed first (once), and the new token handed out after.
        sqlx::query("UPDATE connections SET expires_at = 1")
            .execute(w.server.store.pool())
            .await
            .expect("expire");
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["access_token"].as_str()),
            (200, Some("prov-at-3")),
            "{body}"
        );
        let (_, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(body["access_token"], "prov-at-3", "no second refresh");
        assert_eq!(w.provider.ledger().refreshes, vec![String::new()]);

        // Asking for less: a narrowed token from the provider; the stored one stays.
        let (status, body) = exchange(
            &w,
            backend,
            &subject,
            &[("audience", "github"), ("scope", "read:user")],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], "prov-at-4");
        assert_eq!(body["scope"], "read:user");
        assert_eq!(
            w.provider.ledger().refreshes.last().map(String::as_str),
            Some("read:user")
        );
        // The provider rotated the refresh token on the narrowing: the vault kept the new one.
        sqlx::query("UPDATE connections SET expires_at = 1")
            .execute(w.server.store.pool())
            .await
            .expect("expire");
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["access_token"].as_str()),
            (200, Some("prov-at-5")),
            "{body}"
        );

        // Refusals, each in RFC 6749 §5.2 form.
        for (extra, code) in [
            (&[("audience", "gitlab")][..], "invalid_target"),
            (
                &[("audience", "github"), ("scope", "admin:org")][..],
                "invalid_scope",
            ),
            (&[][..], "invalid_request"),
            (
                &[("audience", "github"), ("actor_token", "x")][..],
                "invalid_request",
            ),
        ] {
            let (status, body) = exchange(&w, backend, &subject, extra).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some(code)),
                "{extra:?}: {body}"
            );
        }
        let (status, body) = exchange(&w, backend, "not-a-token", &[("audience", "github")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        // Only the policy's scopes: narrowing the policy narrows what leaves.
        let (status, _) = call(
            &w.server,
            &w.key,
            reqwest::Method::PUT,
            &format!("/api/v1/connection-policies/{policy_id}"),
            json!({
                "name": "engineers read GitHub",
                "conditions": [{"key": "user.roles", "operator": "Contains", "values": ["engineer"]}],
                "allows": [{"provider_id": "github", "scopes": ["read:user"]}],
            }),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = exchange(
            &w,
            backend,
            &subject,
            &[("audience", "github"), ("scope", "repo")],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{body}"
        );
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["scope"].as_str()),
            (200, Some("read:user")),
            "{body}"
        );

        // A policy whose conditions do not hold allows nothing.
        let (status, _) = call(
            &w.server,
            &w.key,
            reqwest::Method::PUT,
            &format!("/api/v1/connection-policies/{policy_id}"),
            json!({
                "name": "admins use GitHub",
                "conditions": [{"key": "user.roles", "operator": "Contains", "values": ["admin"]}],
                "allows": [{"provider_id": "github", "scopes": ["read:user", "repo"]}],
            }),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        policy(&w, "engineer", &["read:user", "repo"]).await;

        // Disconnect: the tokens are gone and nothing is handed out any more.
        let page = text(&w.console, &w.server.url("/account")).await;
        let res = w
            .console
            .post(w.server.url("/account/connections/disconnect"))
            .form(&[
                ("csrf", hidden_field(&page, "csrf")),
                ("provider", "github".to_owned()),
            ])
            .send()
            .await
            .expect("disconnect");
        assert_eq!(res.status(), 303);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections")
            .fetch_one(w.server.store.pool())
            .await
            .expect("count");
        assert_eq!(rows, 0);
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "github")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        assert!(body["error_description"]
            .as_str()
            .expect("why")
            .contains("/account"));

        // The trail: every read, refresh and exchange; never a token.
        for (event, at_least) in [
            ("connection.connected", 1),
            ("connection.read", 6),
            ("connection.refreshed", 2),
            ("connection.exchanged", 10),
            ("connection.disconnected", 1),
        ] {
            let found = events(&w.server, event).await;
            assert!(found.len() >= at_least, "{event}: {}", found.len());
        }
        let exchanged = events(&w.server, "connection.exchanged").await;
        assert!(exchanged
            .iter()
            .any(|(o, d)| o == "success" && d["provider"] == "github"));
        assert!(exchanged.iter().any(|(o, _)| o == "failure"));
        let everything: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_events")
            .fetch_all(w.server.store.pool())
            .await
            .expect("audit");
        let everything = everything.join("\n");
        assert!(!everything.contains("prov-at") && !everything.contains("prov-rt"));
        assert!(!everything.contains("vault-secret"));
        w.server.stop().await;
    }
}

#[tokio::test]
async fn only_an_admin_made_back_end_exchanges_and_machines_use_their_own_allowance() {
    for db in each_backend().await {
        let w = world(&db).await;
        let subject = user_token(&w).await;
        // A self-registered client cannot even ask.
        let public = register_public(&w.server).await;
        let res = client()
            .post(w.server.url("/s/demo-notes/token"))
            .form(&[
                ("grant_type", EXCHANGE),
                ("client_id", public.as_str()),
                ("subject_token", subject.as_str()),
                ("subject_token_type", ACCESS),
                ("audience", "github"),
            ])
            .send()
            .await
            .expect("exchange");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "unauthorized_client", "{body}");
        // Nor may an admin switch it on for one.
        let (status, body) = call(
            &w.server,
            &w.key,
            reqwest::Method::PUT,
            &format!("/api/v1/agents/{public}/connections"),
            json!({"token_exchange": true}),
        )
        .await;
        assert_eq!(status, 400, "{body}");

        // A machine agent exchanging its own client_credentials token gets its own key, and
        // only with its own allowance.
        let (status, weather) = call(
            &w.server,
            &w.key,
            reqwest::Method::POST,
            "/api/v1/connection-providers",
            json!({"slug": "weather", "name": "Weather API", "kind": "api_key"}),
        )
        .await;
        assert_eq!(status, 201, "{weather}");
        let (id, secret) = back_end(&w).await;
        let (status, body) = call(
            &w.server,
            &w.key,
            reqwest::Method::PUT,
            &format!("/api/v1/connection-providers/weather/connections/agent/{id}"),
            json!({"api_key": "wx-key-123"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let res = client()
            .post(w.server.url("/s/demo-notes/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "notes.read"),
            ])
            .send()
            .await
            .expect("cc");
        let machine: Value = res.json().await.expect("json");
        let machine = machine["access_token"].as_str().expect("token").to_owned();
        let backend = (id.as_str(), secret.as_str());
        let (status, body) = exchange(&w, backend, &machine, &[("audience", "weather")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        // The agent's console page sets the same (its form: a line per provider).
        let page_url = w.server.url(&format!("/admin/agents/{id}"));
        let page = text(&w.console, &page_url).await;
        assert!(
            page.contains("Token vault"),
            "the agent page has the vault form"
        );
        let res = w
            .console
            .post(format!("{page_url}/connections"))
            .form(&[
                ("csrf", hidden_field(&page, "csrf")),
                ("token_exchange", "yes".to_owned()),
                ("allowance", "weather =\n".to_owned()),
            ])
            .send()
            .await
            .expect("vault form");
        assert_eq!(res.status(), 303);
        let (status, body) = call(
            &w.server,
            &w.key,
            reqwest::Method::GET,
            &format!("/api/v1/agents/{id}/connections"),
            Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_exchange"], true);
        assert!(
            body["allowance"].as_object().expect("allowance").len() == 1,
            "{body}"
        );
        // An unknown provider on the form is refused beside it.
        let res = w
            .console
            .post(format!("{page_url}/connections"))
            .form(&[
                ("csrf", hidden_field(&page, "csrf")),
                ("token_exchange", "yes".to_owned()),
                ("allowance", "jira = read".to_owned()),
            ])
            .send()
            .await
            .expect("vault form");
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .expect("html")
            .contains("No connection provider is this."));
        let (status, body) = exchange(&w, backend, &machine, &[("audience", "weather")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["access_token"], "wx-key-123");
        assert_eq!(body["token_type"], "N_A");
        // A person's token does not reach the agent's key, and the person has none.
        let (status, body) = exchange(&w, backend, &subject, &[("audience", "weather")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{body}"
        );
        w.server.stop().await;
    }
}

#[tokio::test]
async fn a_declined_connection_is_a_readable_page_and_an_audit_event() {
    for db in each_backend().await {
        let w = world(&db).await;
        w.provider.ledger().deny = true;
        let res = connect(&w).await;
        assert_eq!(res.status(), 403);
        let page = res.text().await.expect("html");
        assert!(page.contains("did not allow"), "{page}");
        let failed = events(&w.server, "connection.connected").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "failure");
        // A provider answering nonsense: a readable page, and its answer stays out of the trail.
        {
            let mut ledger = w.provider.ledger();
            ledger.deny = false;
            ledger.garbage = true;
        }
        let res = connect(&w).await;
        assert_eq!(res.status(), 502);
        let failed = events(&w.server, "connection.connected").await;
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[1].0, "failure");
        let trail = serde_json::to_string(&failed).expect("json");
        assert!(!trail.contains("987654321"), "{trail}");
        assert_eq!(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM connections")
                .fetch_one(w.server.store.pool())
                .await
                .expect("count"),
            0
        );
        // A callback with no connection started is refused, not a crash.
        let res = w
            .console
            .get(w.server.url("/connections/callback?code=x&state=y"))
            .send()
            .await
            .expect("callback");
        assert_eq!(res.status(), 400);
        w.server.stop().await;
    }
}

/// Waits up to 10 s for `done`.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    done()
}

#[tokio::test]
async fn connections_are_refreshed_on_a_schedule_until_the_provider_refuses() {
    for db in each_backend().await {
        let w = world_with(&db, &[("MANDATE_VAULT_REFRESH_SECS", "1".to_owned())]).await;
        // A row whose tokens do not open (sealed under another key), due first: it must not
        // hold up the others.
        let provider_id: String =
            sqlx::query_scalar("SELECT id FROM connection_providers WHERE slug = 'github'")
                .fetch_one(w.server.store.pool())
                .await
                .expect("provider");
        sqlx::query(
            "INSERT INTO connections (id, provider_id, owner_kind, owner_id, tokens_sealed,
                scopes, expires_at, refreshable, created_at, updated_at)
             VALUES ('broken', $1, 'user', 'u-ghost', $2, '[]', 1, 1, 1, 1)",
        )
        .bind(&provider_id)
        .bind(vec![2u8, 0, 1, 7, 7, 7])
        .execute(w.server.store.pool())
        .await
        .expect("broken row");
        // Tokens that live 30 s: due before the next round (1 s) plus the minute's margin.
        w.provider.ledger().expires_in = Some(30);
        let res = connect(&w).await;
        assert_eq!(res.status(), 303);
        let provider = w.provider.clone();
        assert!(
            eventually(|| !provider.ledger().refreshes.is_empty()).await,
            "{:?}: refreshed without anyone asking",
            db.backend
        );
        // Once refreshed it expires in 30 s again: refreshed again on later rounds, each time
        // with the rotated refresh token (the provider refuses a stale one).
        assert!(eventually(|| provider.ledger().refreshes.len() >= 2).await);
        let broken: i64 =
            sqlx::query_scalar("SELECT refreshable FROM connections WHERE id = 'broken'")
                .fetch_one(w.server.store.pool())
                .await
                .expect("broken row");
        assert_eq!(broken, 0, "set aside after one failed read");
        let reads = events(&w.server, "connection.read").await;
        let failed_reads = reads
            .iter()
            .filter(|(o, d)| o == "failure" && d["connection"] == "broken")
            .count();
        assert_eq!(failed_reads, 1, "recorded once, not every round");
        let refreshed = events(&w.server, "connection.refreshed").await;
        assert!(refreshed
            .iter()
            .all(|(o, d)| o == "success" && d["provider"] == "github"));
        let actors: Vec<String> = sqlx::query_scalar(
            "SELECT actor_kind FROM audit_events WHERE event_type = 'connection.refreshed'",
        )
        .fetch_all(w.server.store.pool())
        .await
        .expect("actors");
        assert!(actors.iter().all(|a| a == "system"), "{actors:?}");

        // The provider now refuses: one failed attempt, recorded, and no more.
        provider.ledger().refuse_refresh = true;
        assert!(
            eventually(|| provider.ledger().refreshes.last().map(String::as_str) == Some("refused"))
                .await
        );
        let attempts = provider.ledger().refreshes.len();
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(
            provider.ledger().refreshes.len(),
            attempts,
            "a dead refresh token is not retried"
        );
        let failed = events(&w.server, "connection.refreshed").await;
        let (outcome, detail) = failed.last().expect("failure");
        assert_eq!(outcome, "failure");
        assert!(
            detail["reason"]
                .as_str()
                .expect("reason")
                .contains("invalid_grant"),
            "{detail}"
        );
        let refreshable: i64 =
            sqlx::query_scalar("SELECT refreshable FROM connections WHERE id <> 'broken'")
                .fetch_one(w.server.store.pool())
                .await
                .expect("row");
        assert_eq!(refreshable, 0);
        w.server.stop().await;
    }
}
