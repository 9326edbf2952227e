//! Issuance hooks over real HTTP, against hook servers these tests start: added claims reach
//! the access token (and its refreshes), a hook's deny shows its message and issues nothing,
//! a slow hook times out per its failure policy, hooks only reach allowed addresses, and
//! admins manage them on the console and the REST API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mandate_core::enrich::{verify_signature, FAILED_MESSAGE};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::seed::seed_demo;
use mandate_core::testing::{each_backend, sqlite, TestDatabase};
use serde_json::{json, Value};

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, signed_in};
use crate::journey::redeem;
use crate::oauth_flow::{authorize_url, claims, register_public, RESOURCE};
use crate::steps::{begin, choose, consent, text, walk_journey, EMAIL};
use crate::support::{browser, client, hidden_field, location, query_of, TestServer};

/// One call a hook server received.
#[derive(Clone)]
struct Call {
    hook_id: String,
    signature: String,
    raw: Vec<u8>,
    body: Value,
}

#[derive(Clone)]
struct Hook {
    reply: Value,
    delay: Duration,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Hook {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }
}

async fn answer(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    hook.calls.lock().expect("calls").push(Call {
        hook_id: header("mandate-hook-id"),
        signature: header("mandate-signature"),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    tokio::time::sleep(hook.delay).await;
    (StatusCode::OK, axum::Json(hook.reply.clone())).into_response()
}

/// Starts a hook server on loopback answering `reply` after `delay`; returns it and its URL.
async fn hook_server(reply: Value, delay: Duration) -> (Hook, String) {
    let hook = Hook {
        reply,
        delay,
        calls: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(answer))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hook, url)
}

/// A demo server whose hooks may call loopback (`network`: `MANDATE_INTEGRATIONS_NETWORK`), with
/// the demo user made a project admin; returns it, the password and a signed-in console.
async fn started(db: &TestDatabase, network: &str) -> (TestServer, String, reqwest::Client) {
    let server =
        TestServer::start_with(db, &[("MANDATE_INTEGRATIONS_NETWORK", network.to_owned())]).await;
    let password = seed_demo(&server.store, &PasswordHasherPool::new(1), RESOURCE, 1)
        .await
        .expect("seed")
        .user_password
        .expect("fresh demo user");
    make_project_admin(&server.store).await;
    let (console, _) = signed_in(&server, &password).await;
    (server, password, console)
}

async fn demo_server_id(server: &TestServer) -> String {
    server
        .store
        .mcp_server_by_slug("demo-notes")
        .await
        .expect("read")
        .expect("demo server")
        .id
        .to_string()
}

/// Adds a hook on the server's console page; returns the status and the page.
async fn add_hook(
    server: &TestServer,
    console: &reqwest::Client,
    url: &str,
    timeout_ms: &str,
    on_failure: &str,
) -> (StatusCode, String) {
    let page_url = server.url(&format!(
        "/admin/mcp-servers/{}",
        demo_server_id(server).await
    ));
    let page = text(console, &page_url).await;
    let res = console
        .post(&page_url)
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("intent", "hook_add".to_owned()),
            ("hook_name", "Claims service".to_owned()),
            ("hook_url", url.to_owned()),
            ("hook_timeout_ms", timeout_ms.to_owned()),
            ("hook_on_failure", on_failure.to_owned()),
        ])
        .send()
        .await
        .expect("add hook");
    let status = res.status();
    (status, res.text().await.expect("html"))
}

fn hook_key_in(html: &str) -> String {
    let start = html.find("mdt_hk_").expect("the new key is shown");
    let end = html[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .expect("end")
        + start;
    html[start..end].to_owned()
}

/// Details of the audit events of `event_type`, oldest first.
async fn audit_details(server: &TestServer, event_type: &str) -> Vec<(String, Value)> {
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

async fn count(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(server.store.pool())
        .await
        .expect("count")
}

/// Starts an authorization of `scope` and walks it to the consent answer (Acme Corp, every
/// scope kept); returns the consent POST's response.
async fn consent_answer(
    server: &TestServer,
    client_id: &str,
    scope: &str,
    password: &str,
) -> reqwest::Response {
    let b = browser();
    let start = authorize_url(server, client_id, scope, "st-1");
    let (journey, next) = begin(server, &b, &start, password).await;
    assert!(next.contains("/authorize/tenant"), "{next}");
    let next = choose(server, &b, &journey, "Acme Corp").await;
    assert!(next.contains("/authorize/consent"), "{next}");
    let keep: Vec<&str> = scope.split(' ').collect();
    consent(server, &b, &journey, &keep, false).await
}

#[tokio::test]
async fn a_hook_adds_claims_and_removes_scopes_and_its_calls_are_signed() {
    for db in each_backend().await {
        let (server, password, console) = started(&db, "loopback").await;
        let (hook, url) = hook_server(
            json!({
                "claims": { "department": "finance", "cost_center": 42 },
                "remove_scopes": ["notes.share"],
                "ignored": true
            }),
            Duration::ZERO,
        )
        .await;
        let (status, page) = add_hook(&server, &console, &url, "", "deny").await;
        assert_eq!(status, 201, "{page}");
        let key = hook_key_in(&page);
        assert!(page.contains("Claims service"), "listed on the page");

        let client_id = register_public(&server).await;
        let start = authorize_url(&server, &client_id, "notes.read notes.share", "s");
        let back = walk_journey(
            &server,
            &browser(),
            &start,
            &password,
            "Acme Corp",
            &["notes.read", "notes.share"],
        )
        .await;
        let tokens = redeem(&server, &client_id, &back).await;
        let access = claims(tokens["access_token"].as_str().expect("jwt"));
        assert_eq!(access["department"], "finance");
        assert_eq!(access["cost_center"], 42);
        assert_eq!(
            access["scope"], "notes.read",
            "the hook removed notes.share"
        );
        assert_eq!(tokens["scope"], "notes.read");
        assert!(access.get("ignored").is_none());

        // Refreshed tokens of the same authorization carry the same claims.
        let res = client()
            .post(server.url("/s/demo-notes/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("rt"),
                ),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .expect("refresh");
        assert_eq!(res.status(), 200);
        let refreshed: Value = res.json().await.expect("json");
        let access = claims(refreshed["access_token"].as_str().expect("jwt"));
        assert_eq!(access["department"], "finance");

        // One signed call with who, where and what.
        let calls = hook.calls();
        assert_eq!(calls.len(), 1, "called once, at issuance (not at refresh)");
        let call = &calls[0];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64;
        assert!(verify_signature(
            key.as_bytes(),
            &call.signature,
            &call.raw,
            now,
            300
        ));
        assert!(!verify_signature(
            b"another key",
            &call.signature,
            &call.raw,
            now,
            300
        ));
        let body = &call.body;
        assert_eq!(body["type"], "token.issuance");
        assert_eq!(body["hook"]["id"], call.hook_id.as_str());
        assert_eq!(body["user"]["email"], EMAIL);
        assert_eq!(body["tenant"]["name"], "Acme Corp");
        assert!(body["user"]["roles"]
            .as_array()
            .expect("roles")
            .contains(&json!("engineer")));
        assert_eq!(body["agent"]["client_id"], client_id.as_str());
        assert_eq!(body["mcp_server"]["slug"], "demo-notes");
        assert_eq!(body["mcp_server"]["resource"], RESOURCE);
        assert_eq!(body["scopes"], json!(["notes.read", "notes.share"]));

        let events = audit_details(&server, "hook.called").await;
        assert_eq!(events.len(), 1);
        let (outcome, detail) = &events[0];
        assert_eq!(outcome, "success");
        assert_eq!(detail["decision"], "allow");
        assert_eq!(detail["added_claims"], json!(["cost_center", "department"]));
        assert_eq!(detail["removed_scopes"], json!(["notes.share"]));
        let serialized = serde_json::to_string(&events).expect("json");
        assert!(
            !serialized.contains("finance"),
            "claim values stay out of the log"
        );
        assert!(!serialized.contains(&key), "the key stays out of the log");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_hook_that_denies_shows_its_message_and_issues_nothing() {
    let db = sqlite();
    let (server, password, console) = started(&db, "loopback").await;
    let (first, url) = hook_server(
        json!({ "decision": "deny", "message": "Finance agents need an approved ticket." }),
        Duration::ZERO,
    )
    .await;
    let (second, second_url) = hook_server(json!({}), Duration::ZERO).await;
    assert_eq!(add_hook(&server, &console, &url, "", "deny").await.0, 201);
    assert_eq!(
        add_hook(&server, &console, &second_url, "", "deny").await.0,
        201
    );

    let client_id = register_public(&server).await;
    let res = consent_answer(&server, &client_id, "notes.read", &password).await;
    assert_eq!(res.status(), 403);
    let html = res.text().await.expect("html");
    assert!(
        html.contains("Finance agents need an approved ticket."),
        "{html}"
    );
    assert!(html.contains("Access was not granted"));
    // The way back gives the client its answer: access_denied, its state and our issuer.
    let start = html
        .find("data-testid=\"back-to-app\"")
        .expect("a way back");
    let href_at = html[..start].rfind("href=\"").expect("href") + 6;
    let href = html[href_at..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    let q = query_of(&href);
    assert!(href.starts_with(crate::oauth_flow::REDIRECT), "{href}");
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], server.url("/s/demo-notes"));
    assert!(!q.contains_key("code"));

    assert_eq!(first.calls().len(), 1);
    assert!(second.calls().is_empty(), "a deny stops the later hooks");
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM authorization_codes").await,
        0,
        "no code issued"
    );
    let failed = audit_details(&server, "authorization.failed").await;
    let (_, detail) = failed.last().expect("recorded");
    assert_eq!(detail["reason"], "refused by an issuance hook");
    let called = audit_details(&server, "hook.called").await;
    assert_eq!(called.len(), 1);
    assert_eq!(called[0].1["decision"], "deny");
    server.stop().await;
}

#[tokio::test]
async fn a_slow_hook_times_out_per_its_failure_policy() {
    let db = sqlite();
    let (server, password, console) = started(&db, "loopback").await;
    let (_, url) = hook_server(
        json!({ "claims": { "late": true } }),
        Duration::from_millis(1_500),
    )
    .await;

    // `continue`: the authorization goes on without the hook's answer.
    assert_eq!(
        add_hook(&server, &console, &url, "200", "continue").await.0,
        201
    );
    let client_id = register_public(&server).await;
    let res = consent_answer(&server, &client_id, "notes.read", &password).await;
    assert_eq!(res.status(), 303, "a code is issued");
    let back = location(&server, &res);
    let tokens = redeem(&server, &client_id, &back).await;
    let access = claims(tokens["access_token"].as_str().expect("jwt"));
    assert!(access.get("late").is_none());
    let called = audit_details(&server, "hook.called").await;
    assert_eq!(called[0].0, "failure");
    assert_eq!(called[0].1["decision"], "skipped");
    assert_eq!(called[0].1["reason"], "timed out");
    let elapsed = called[0].1["elapsed_ms"].as_u64().expect("elapsed");
    assert!(
        elapsed < 1_500,
        "the timeout cut the call short ({elapsed} ms)"
    );

    // `deny`: nothing is issued and the person is told the check could not be completed.
    sqlx::query("UPDATE issuance_hooks SET on_failure = 'deny'")
        .execute(server.store.pool())
        .await
        .expect("switch");
    let res = consent_answer(&server, &client_id, "notes.read", &password).await;
    assert_eq!(res.status(), 403);
    let html = res.text().await.expect("html");
    assert!(html.contains(FAILED_MESSAGE), "{html}");
    let called = audit_details(&server, "hook.called").await;
    assert_eq!(called[1].1["decision"], "failed");
    server.stop().await;
}

#[tokio::test]
async fn hooks_reach_only_the_addresses_the_deployment_allows() {
    let db = sqlite();
    // The default network policy: public addresses only.
    let (server, password, console) = started(&db, "public").await;
    let (hook, url) = hook_server(json!({}), Duration::ZERO).await;
    assert_eq!(add_hook(&server, &console, &url, "", "deny").await.0, 201);
    let client_id = register_public(&server).await;
    let res = consent_answer(&server, &client_id, "notes.read", &password).await;
    assert_eq!(
        res.status(),
        403,
        "the hook could not be called: fail closed"
    );
    assert!(hook.calls().is_empty(), "loopback was never reached");
    let called = audit_details(&server, "hook.called").await;
    let reason = called[0].1["reason"].as_str().expect("reason");
    assert!(reason.starts_with("unreachable"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn admins_manage_hooks_on_the_console_and_over_the_api() {
    for db in each_backend().await {
        let (server, _, console) = started(&db, "loopback").await;
        // A refused form comes back as typed, its errors beside the hook's fields.
        let (status, html) = add_hook(
            &server,
            &console,
            "http://hooks.example.com/x",
            "50",
            "deny",
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("data-field=\"hook_url\""), "{html}");
        assert!(html.contains("data-field=\"hook_timeout_ms\""));
        assert!(html.contains("http://hooks.example.com/x"), "kept as typed");

        let (_, page) = create_key(&server, &console, "Automation", "full").await;
        let key = key_in(&page);
        let api = |method: reqwest::Method, path: &str| {
            client().request(method, server.url(path)).bearer_auth(&key)
        };
        let res = api(
            reqwest::Method::POST,
            "/api/v1/mcp-servers/demo-notes/hooks",
        )
        .json(
            &json!({ "name": "Enricher", "url": "https://hooks.example.com/issue",
                           "on_failure": "continue", "timeout_ms": 1500 }),
        )
        .send()
        .await
        .expect("create");
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.expect("json");
        let secret = created["secret"].as_str().expect("secret");
        assert!(secret.starts_with("mdt_hk_"));
        let hook_id = created["hook"]["id"].as_str().expect("id").to_owned();
        assert_eq!(created["hook"]["on_failure"], "continue");
        assert_eq!(created["hook"]["position"], 1);

        let listed: Value = api(reqwest::Method::GET, "/api/v1/mcp-servers/demo-notes/hooks")
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        assert_eq!(listed["hooks"][0]["id"], hook_id.as_str());
        assert!(
            !listed.to_string().contains(secret),
            "the key is shown once only"
        );

        let res = api(
            reqwest::Method::POST,
            "/api/v1/mcp-servers/demo-notes/hooks",
        )
        .json(&json!({ "name": "Bad", "url": "https://user:pw@hooks.example.com/" }))
        .send()
        .await
        .expect("create");
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.expect("json");
        assert!(body["error"]["fields"]["url"].is_string(), "{body}");

        let stored: Vec<u8> =
            sqlx::query_scalar("SELECT secret_sealed FROM issuance_hooks WHERE id = $1")
                .bind(&hook_id)
                .fetch_one(server.store.pool())
                .await
                .expect("sealed");
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the key is sealed at rest"
        );

        let path = format!("/api/v1/mcp-servers/demo-notes/hooks/{hook_id}");
        assert_eq!(
            api(reqwest::Method::DELETE, &path)
                .send()
                .await
                .expect("delete")
                .status(),
            204
        );
        assert_eq!(
            api(reqwest::Method::DELETE, &path)
                .send()
                .await
                .expect("delete")
                .status(),
            404
        );
        let changes = audit_details(&server, "admin.changed").await;
        let actions: Vec<&str> = changes
            .iter()
            .filter_map(|(_, d)| d["action"].as_str())
            .collect();
        assert!(
            actions.contains(&"hook.created") && actions.contains(&"hook.deleted"),
            "{actions:?}"
        );
        server.stop().await;
    }
}
