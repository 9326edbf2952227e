//! MCP servers and agents managed as code (`/api/v1/mcp-servers`, `/api/v1/agents`) and on
//! the console (`/admin/mcp-servers`, `/admin/agents`): happy paths, field errors,
//! unauthenticated and forbidden callers, and the effect on the OAuth endpoints.

use mandate_core::audit::query::{newest_first, AuditFilter};
use mandate_core::audit::EventType;
use mandate_core::testing::each_backend;
use serde_json::{json, Value};

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, make_tenant_admin, signed_in};
use crate::oauth_flow::demo_server;
use crate::steps::text;
use crate::support::{client, hidden_field, TestServer};

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client().request(method, server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("api");
    let status = res.status().as_u16();
    let body = if status == 204 {
        Value::Null
    } else {
        res.json().await.expect("json")
    };
    (status, body)
}

/// A full key and a read-only key of the (project admin) demo user.
async fn keys(server: &TestServer, password: &str) -> (reqwest::Client, String, String) {
    make_project_admin(&server.store).await;
    let (b, _) = signed_in(server, password).await;
    let (_, html) = create_key(server, &b, "Config as code", "full").await;
    let full = key_in(&html);
    let (_, html) = create_key(server, &b, "Reader", "read").await;
    (b, full, key_in(&html))
}

fn server_body(slug: &str) -> Value {
    json!({
        "slug": slug,
        "name": "Calendar",
        "resource_url": format!("https://{slug}.example.com/mcp"),
        "scopes": [
            { "name": "calendar.read", "display_name": "Read your calendar",
              "description": "See events." },
            { "name": "calendar.write", "sensitive": true }
        ]
    })
}

async fn token(
    server: &TestServer,
    slug: &str,
    id: &str,
    secret: &str,
    scope: &str,
) -> (u16, Value) {
    let res = client()
        .post(server.url(&format!("/s/{slug}/token")))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .expect("token");
    (res.status().as_u16(), res.json().await.expect("json"))
}

#[tokio::test]
async fn mcp_servers_are_managed_through_the_api() {
    use reqwest::Method;
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let (_, full, read) = keys(&server, &password).await;

        let (status, body) = call(&server, Method::GET, "/api/v1/mcp-servers", None, None).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (401, json!("unauthorized"))
        );
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&read),
            Some(server_body("calendar")),
        )
        .await;
        assert_eq!(status, 403, "a read-only key cannot create");

        let mut with_nul = server_body("calendar");
        with_nul["name"] = json!("Cal\u{0}endar");
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&full),
            Some(with_nul),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("bad_request")),
            "{}: {body}",
            db.url
        );
        // A `%00` in a path or query failed the lookup on PostgreSQL (500), a path that is not
        // UTF-8 got axum's plain-text 400; both are refused before any handler runs.
        for (method, path) in [
            (Method::GET, "/api/v1/mcp-servers/%00"),
            (Method::DELETE, "/api/v1/mcp-servers/demo%00notes"),
            (Method::GET, "/api/v1/users?q=%00"),
            (Method::GET, "/api/v1/agents?mcp_server=a%00"),
            (Method::GET, "/api/v1/audit/events?agent=%00"),
            (Method::GET, "/api/v1/policies?cursor=%00"),
            (Method::GET, "/api/v1/users/%FF"),
        ] {
            let (status, body) = call(&server, method, path, Some(&read), None).await;
            assert_eq!(
                (status, body["error"]["code"].clone()),
                (400, json!("bad_request")),
                "{}: {path}: {body}",
                db.url
            );
        }
        let (status, _) = call(
            &server,
            Method::GET,
            "/api/v1/mcp-servers/demo-notes",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(status, 200, "the server is still there");

        let mut mistyped = server_body("calendar");
        mistyped["scopes"][1]["sensitive"] = json!("yes");
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&full),
            Some(mistyped),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("scopes[1].sensitive")),
            "the failing field is named: {body}"
        );

        let (status, created) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&full),
            Some(server_body("calendar")),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["links"]["issuer"], server.url("/s/calendar"));
        assert_eq!(created["access_token_ttl_secs"], 600, "defaults filled");
        let id = created["id"].as_str().expect("id").to_owned();

        // The new issuer works at once.
        let meta: Value = client()
            .get(server.url("/.well-known/oauth-authorization-server/s/calendar"))
            .send()
            .await
            .expect("meta")
            .json()
            .await
            .expect("json");
        assert_eq!(
            meta["scopes_supported"],
            json!(["calendar.read", "calendar.write"])
        );

        let mut bad = server_body("Bad Slug");
        bad["resource_url"] = json!("http://calendar.example.com/mcp");
        bad["scopes"][1]["name"] = json!("calendar.read");
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&full),
            Some(bad),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "validation_failed");
        for field in ["slug", "resource_url", "scopes[1].name"] {
            assert!(
                body["error"]["fields"][field].is_string(),
                "{field}: {body}"
            );
        }
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/mcp-servers",
            Some(&full),
            Some(server_body("calendar")),
        )
        .await;
        assert_eq!(status, 400, "slug taken");
        assert!(body["error"]["fields"]["slug"].is_string());

        let mut edit = server_body("calendar");
        edit["name"] = json!("Team calendar");
        edit["scopes"] = json!([{ "name": "calendar.read" }]);
        let (status, updated) = call(
            &server,
            Method::PUT,
            &format!("/api/v1/mcp-servers/{id}"),
            Some(&full),
            Some(edit),
        )
        .await;
        assert_eq!(status, 200, "{updated}");
        let (status, read_back) = call(
            &server,
            Method::GET,
            "/api/v1/mcp-servers/calendar",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(read_back["name"], "Team calendar");
        assert_eq!(read_back["scopes"].as_array().map(Vec::len), Some(1));
        let (_, list) = call(
            &server,
            Method::GET,
            "/api/v1/mcp-servers",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(list["mcp_servers"].as_array().map(Vec::len), Some(2));

        let (status, _) = call(
            &server,
            Method::DELETE,
            &format!("/api/v1/mcp-servers/{id}"),
            Some(&full),
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, body) = call(
            &server,
            Method::GET,
            &format!("/api/v1/mcp-servers/{id}"),
            Some(&full),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (404, json!("not_found"))
        );
        let gone = client()
            .get(server.url("/.well-known/oauth-authorization-server/s/calendar"))
            .send()
            .await
            .expect("meta");
        assert_eq!(
            gone.status(),
            400,
            "the issuer goes with it (unknown issuer)"
        );

        let events = newest_first(
            &server.store,
            &AuditFilter {
                event_types: vec![EventType::AdminChanged],
                ..AuditFilter::default()
            },
            None,
            3,
        )
        .await
        .expect("events");
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e.detail["action"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(
            actions,
            [
                "mcp_server.deleted",
                "mcp_server.updated",
                "mcp_server.created"
            ]
        );
        assert!(events[1].detail["before"]["scopes"].is_array());
        assert!(events[1].detail["after"]["scopes"].is_array());

        // A tenant admin's key is refused.
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        make_tenant_admin(&server.store, "acme").await;
        let (status, _) = call(
            &server,
            Method::GET,
            "/api/v1/mcp-servers",
            Some(&full),
            None,
        )
        .await;
        assert_eq!(status, 403);
        server.stop().await;
    }
}

#[tokio::test]
async fn machine_agents_are_created_rotated_disabled_and_deleted_through_the_api() {
    use reqwest::Method;
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let (_, full, read) = keys(&server, &password).await;

        let draft = json!({
            "name": "Nightly export",
            "tags": ["ops", "Nightly"],
            "allowances": { "demo-notes": ["notes.read"] }
        });
        let (status, created) = call(
            &server,
            Method::POST,
            "/api/v1/agents",
            Some(&full),
            Some(draft),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = created["agent"]["id"].as_str().expect("id").to_owned();
        let secret = created["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        assert_eq!(created["agent"]["tags"], json!(["ops", "nightly"]));

        // client_credentials: the allowed scope, nothing more.
        let (status, body) = token(&server, "demo-notes", &id, &secret, "notes.read").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = token(&server, "demo-notes", &id, &secret, "notes.write").await;
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("invalid_scope"))
        );

        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/agents",
            Some(&full),
            Some(json!({ "name": "", "allowances": { "nope": ["x"] } })),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["error"]["fields"]["name"].is_string());
        assert!(body["error"]["fields"]["allowances.nope"].is_string());

        let (status, rotated) = call(
            &server,
            Method::POST,
            &format!("/api/v1/agents/{id}/secret"),
            Some(&full),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let new_secret = rotated["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        let (status, _) = token(&server, "demo-notes", &id, &secret, "notes.read").await;
        assert_eq!(status, 401, "the old secret stops at once");
        let (status, _) = token(&server, "demo-notes", &id, &new_secret, "notes.read").await;
        assert_eq!(status, 200);

        // Widen to every scope, mark verified, then disable.
        let (status, after) = call(
            &server,
            Method::PATCH,
            &format!("/api/v1/agents/{id}"),
            Some(&full),
            Some(json!({ "trust_level": "verified", "allowances": { "demo-notes": ["*"] } })),
        )
        .await;
        assert_eq!(status, 200, "{after}");
        assert_eq!(after["agent"]["trust_level"], "verified");
        let (status, _) = token(&server, "demo-notes", &id, &new_secret, "notes.write").await;
        assert_eq!(status, 200);
        let (status, body) = call(
            &server,
            Method::PATCH,
            &format!("/api/v1/agents/{id}"),
            Some(&full),
            Some(json!({ "trust_level": "root" })),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["error"]["fields"]["trust_level"].is_string());
        let (status, _) = call(
            &server,
            Method::PATCH,
            &format!("/api/v1/agents/{id}"),
            Some(&full),
            Some(json!({ "disabled": true })),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = token(&server, "demo-notes", &id, &new_secret, "notes.read").await;
        assert_eq!(status, 401, "a disabled agent gets nothing");

        // The list: filters and cursor pages.
        let (status, page) = call(
            &server,
            Method::GET,
            "/api/v1/agents?kind=manual&limit=1",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(page["agents"].as_array().map(Vec::len), Some(1));
        let cursor = page["next_cursor"]
            .as_str()
            .expect("two manual agents")
            .to_owned();
        let (_, next) = call(
            &server,
            Method::GET,
            &format!("/api/v1/agents?kind=manual&limit=1&cursor={cursor}"),
            Some(&read),
            None,
        )
        .await;
        assert_ne!(next["agents"][0]["id"], page["agents"][0]["id"]);
        let (_, tagged) = call(
            &server,
            Method::GET,
            "/api/v1/agents?tag=ops",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(tagged["agents"][0]["id"], id.as_str());
        let (status, body) = call(
            &server,
            Method::GET,
            "/api/v1/agents?kind=robot",
            Some(&read),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!("validation_failed"))
        );

        let (status, detail) = call(
            &server,
            Method::GET,
            &format!("/api/v1/agents/{id}"),
            Some(&read),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert!(detail["agent"]["disabled"].as_bool().unwrap_or(false));
        assert!(
            detail.to_string().find(&new_secret).is_none(),
            "secrets are never read back"
        );

        let (status, _) = call(
            &server,
            Method::DELETE,
            &format!("/api/v1/agents/{id}"),
            Some(&read),
            None,
        )
        .await;
        assert_eq!(status, 403, "a read-only key cannot delete");
        let (status, _) = call(
            &server,
            Method::DELETE,
            &format!("/api/v1/agents/{id}"),
            Some(&full),
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, _) = call(
            &server,
            Method::GET,
            &format!("/api/v1/agents/{id}"),
            Some(&full),
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = call(&server, Method::GET, "/api/v1/agents", None, None).await;
        assert_eq!(status, 401);
        server.stop().await;
    }
}

#[tokio::test]
async fn the_console_creates_a_server_and_a_machine_agent_with_errors_beside_fields() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let (b, _) = signed_in(&server, &password).await;

        let page = text(&b, &server.url("/admin/mcp-servers/new")).await;
        let csrf = hidden_field(&page, "csrf");
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("name", "Tickets".to_owned()),
            ("slug", "Tickets!".to_owned()),
            ("resource_url", "https://tickets.example.com/mcp".to_owned()),
            ("access_token_ttl_secs", "600".to_owned()),
            ("step_up_window_secs", "300".to_owned()),
            ("refresh_token_ttl_secs", "1209600".to_owned()),
            ("refresh_token_max_secs", "7776000".to_owned()),
            ("dcr_unused_expiry_secs", "2592000".to_owned()),
            ("dcr_enabled", "on".to_owned()),
            ("s0_name", "".to_owned()),
            ("s1_name", "tickets read".to_owned()),
        ];
        let res = b
            .post(server.url("/admin/mcp-servers/new"))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 422);
        let html = res.text().await.expect("html");
        assert!(
            html.contains("data-field=\"slug\""),
            "slug error beside the slug"
        );
        assert!(
            html.contains("data-field=\"s1_name\""),
            "scope error on its own row"
        );
        assert!(
            html.contains("value=\"https://tickets.example.com/mcp\""),
            "typed kept"
        );

        form[2].1 = "tickets".into();
        form[11].1 = "tickets.read".into();
        let mut with_nul = form.clone();
        with_nul[1].1 = "Tick\0ets".into();
        let res = b
            .post(server.url("/admin/mcp-servers/new"))
            .form(&with_nul)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "{}: a readable refusal", db.url);
        let html = res.text().await.expect("html");
        assert!(html.contains("must not contain NUL characters"), "{html}");
        // Nothing was written: the same slug is still free below.
        let res = b
            .post(server.url("/admin/mcp-servers/new"))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 303);
        let at = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let page = text(&b, &server.url(&at)).await;
        assert!(page.contains("data-testid=\"server-links\""));
        assert!(page.contains(&server.url("/s/tickets")), "issuer shown");
        assert!(page.contains("tickets.read"));

        let list = text(&b, &server.url("/admin/agents")).await;
        assert!(
            list.contains("data-agent=\"demo-agent\""),
            "the seeded agent is listed"
        );
        let res = b
            .post(server.url("/admin/agents"))
            .form(&[
                ("csrf", csrf.clone()),
                ("name", "Ticket triage".to_owned()),
                ("tags", "support".to_owned()),
                (
                    "allow",
                    format!("{}|tickets.read", at.rsplit('/').next().unwrap_or("")),
                ),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 201);
        let html = res.text().await.expect("html");
        let secret = hidden_marker(&html, "new-client-secret");
        let id = hidden_marker(&html, "new-client-id");
        assert!(secret.starts_with("mdt_cs_"));
        let (status, body) = token(&server, "tickets", &id, &secret, "tickets.read").await;
        assert_eq!(status, 200, "{body}");
        let detail = text(&b, &server.url(&format!("/admin/agents/{id}"))).await;
        assert!(detail.contains("Ticket triage") && !detail.contains(&secret));
        assert!(detail.contains("agent.created") || detail.contains("token.issued"));

        let filtered = text(&b, &server.url("/admin/agents?tag=support")).await;
        assert!(filtered.contains(&id) && !filtered.contains("data-agent=\"demo-agent\""));

        // Disable from its page: its tokens stop.
        let res = b
            .post(server.url(&format!("/admin/agents/{id}/disable")))
            .form(&[("csrf", csrf.clone()), ("disabled", "yes".to_owned())])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 303);
        let (status, _) = token(&server, "tickets", &id, &secret, "tickets.read").await;
        assert_eq!(status, 401);

        // A tenant admin sees the refusal, never the list.
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        make_tenant_admin(&server.store, "acme").await;
        let page = text(&b, &server.url("/admin/agents")).await;
        assert!(page.contains("Only project admins manage agents."));
        assert!(!page.contains("demo-agent"));
        server.stop().await;
    }
}

/// The text inside the element with `data-testid="{testid}"`.
fn hidden_marker(html: &str, testid: &str) -> String {
    let marker = format!("data-testid=\"{testid}\"");
    let start = html.find(&marker).expect("marker") + marker.len();
    let open = html[start..].find('>').expect("tag end") + start + 1;
    let close = html[open..].find('<').expect("text end") + open;
    html[open..close].trim().to_owned()
}

#[tokio::test]
async fn a_server_function_called_with_a_nul_is_refused_on_every_backend() {
    // The console's screens are server functions the hydrated app calls with `POST /api/{name}`;
    // a `%00` in their arguments reached PostgreSQL's text and answered 500 there.
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let (b, _, _) = keys(&server, &password).await;
        let call = |body: &'static str| {
            b.post(server.url("/api/agents_screen"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        let res = call("query[fields][q]=demo").await.expect("call");
        assert_eq!(res.status(), 200, "{}", db.url);
        assert!(res.text().await.expect("body").contains("demo-agent"));
        for body in [
            "query[fields][q]=%00",
            "query[fields][mcp_server]=demo%00notes",
        ] {
            let res = call(body).await.expect("call");
            assert_eq!(res.status(), 400, "{}: {body}", db.url);
            let error: Value = res.json().await.expect("json");
            assert!(
                error["error_description"]
                    .as_str()
                    .is_some_and(|d| d.contains("NUL")),
                "{error}"
            );
        }
        server.stop().await;
    }
}
