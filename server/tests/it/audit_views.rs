//! The operator's views of the audit trail over real HTTP: who may open the console, the
//! viewer's filters and drawer, exports, a tenant admin's slice, the live tail, and the exact
//! events a whole authorization writes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mandate_core::audit::query::{newest_first, AuditFilter};
use mandate_core::audit::{ActorKind, AuditEvent, AuditLog, EventType, Outcome};
use mandate_core::store::Store;
use mandate_core::testing::each_backend;
use serde_json::Value;

use crate::journey::redeem;
use crate::oauth_flow::{demo_server, register_public};
use crate::steps::{consent, sign_in, start_journey, text, EMAIL};
use crate::support::{browser, client, location, TestServer};

pub async fn make_project_admin(store: &Store) {
    sqlx::query("UPDATE users SET is_project_admin = 1 WHERE email = $1")
        .bind(EMAIL)
        .execute(store.pool())
        .await
        .expect("promote");
}

/// Makes the demo user an admin of `slug` only; returns the tenant's id.
pub async fn make_tenant_admin(store: &Store, slug: &str) -> String {
    let tenant = store
        .tenant_by_slug(slug)
        .await
        .expect("tenant")
        .expect("exists");
    let user = store
        .user_by_email(EMAIL)
        .await
        .expect("user")
        .expect("demo user");
    sqlx::query("UPDATE memberships SET is_tenant_admin = 1 WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.id.as_str())
        .bind(user.id.as_str())
        .execute(store.pool())
        .await
        .expect("promote");
    tenant.id.as_str().to_owned()
}

/// A signed-in browser (outside any authorization); returns it and where sign-in led.
pub async fn signed_in(server: &TestServer, password: &str) -> (reqwest::Client, String) {
    let b = browser();
    let to = sign_in(server, &b, None, password).await;
    (b, to)
}

async fn get(b: &reqwest::Client, url: &str) -> reqwest::Response {
    b.get(url).send().await.expect("get")
}

#[tokio::test]
async fn the_console_is_for_admins_and_admins_land_on_it() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        for path in ["/admin", "/admin/audit", "/admin/audit/export?format=csv"] {
            let res = get(&client(), &server.url(path)).await;
            assert!(res.status().is_redirection(), "{path}: {}", res.status());
            assert!(location(&server, &res).ends_with("/sign-in"), "{path}");
        }
        let (b, to) = signed_in(&server, &password).await;
        assert!(to.ends_with("/account"), "not an admin: {to}");
        for path in [
            "/admin",
            "/admin/audit",
            "/admin/audit/export?format=csv",
            "/admin/audit/live",
        ] {
            let res = get(&b, &server.url(path)).await;
            assert_eq!(res.status(), 403, "{path}");
            let html = res.text().await.expect("html");
            assert!(html.contains("This page is for administrators"), "{path}");
        }

        make_project_admin(&server.store).await;
        let (b, to) = signed_in(&server, &password).await;
        assert!(
            to.ends_with("/admin"),
            "an admin lands on the console: {to}"
        );
        let res = get(&b, &to).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("<h1>Dashboard</h1>"), "{html}");
        assert!(html.contains("Project admin"));
        for chart in ["tokens", "consents", "sign-in-failures", "registrations"] {
            assert!(
                html.contains(&format!("data-chart=\"{chart}\"")),
                "chart {chart}"
            );
        }
        // The sign-ins above are on the failures chart's neighbour: one success, no failure.
        assert!(html.contains("<polyline"), "drawn as SVG on the server");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_viewer_filters_by_agent_pages_and_opens_an_event() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let first = register_public(&server).await;
        let second = register_public(&server).await;
        let (b, _) = signed_in(&server, &password).await;

        let html = text(&b, &server.url(&format!("/admin/audit?agent={first}"))).await;
        assert!(html.contains("data-testid=\"audit-events\""));
        assert!(html.contains(&format!("title=\"Only events of {first}\"")));
        assert!(
            !html.contains(&format!("Only events of {second}")),
            "the other agent is filtered out"
        );

        // Every row links to its event; the drawer shows the full record.
        let all = newest_first(&server.store, &AuditFilter::default(), None, 100)
            .await
            .expect("events");
        let registered = all
            .iter()
            .find(|e| e.agent_id.as_deref() == Some(first.as_str()))
            .expect("registration event");
        let html = text(
            &b,
            &server.url(&format!(
                "/admin/audit?agent={first}&event={}",
                registered.seq
            )),
        )
        .await;
        assert!(html.contains("data-testid=\"event-detail\""));
        assert!(
            html.contains("&quot;kind&quot;: &quot;dcr&quot;")
                || html.contains("\"kind\": \"dcr\"")
        );
        assert!(html.contains("Every event of this agent"));

        // Keyset pages: a page of 50 and a link to the older ones.
        let log = AuditLog::spawn(server.store.clone(), Arc::new(mandate_core::SystemClock));
        for _ in 0..60 {
            log.record(
                AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent)
                    .agent(first.clone()),
            )
            .await
            .expect("record");
        }
        let html = text(&b, &server.url(&format!("/admin/audit?agent={first}"))).await;
        assert_eq!(html.matches("<tr data-seq=").count(), 50);
        let older = html.find("rel=\"next\"").expect("older link");
        let href_start = html[..older].rfind("href=\"").expect("href") + 6;
        let href_end = html[href_start..].find('"').expect("end") + href_start;
        let href = html[href_start..href_end].replace("&amp;", "&");
        let html = text(&b, &server.url(&href)).await;
        assert_eq!(
            html.matches("<tr data-seq=").count(),
            11,
            "60 + 1 registration"
        );
        assert!(!html.contains("rel=\"next\""), "the last page");

        // A filter that cannot be read is said in words, not a 500.
        let res = get(&b, &server.url("/admin/audit?range=custom&from=yesterday")).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("html");
        assert!(html.contains("From is not a date and time"), "{html}");
        server.stop().await;
    }
}

#[tokio::test]
async fn exports_stream_exactly_the_filtered_rows_and_are_audited() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let first = register_public(&server).await;
        let _second = register_public(&server).await;
        let (b, _) = signed_in(&server, &password).await;

        let res = get(
            &b,
            &server.url(&format!("/admin/audit/export?format=csv&agent={first}")),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment; filename=\"mandate-audit-"));
        let body = res.text().await.expect("csv");
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines[0].starts_with("seq,id,occurred_at,event_type"));
        assert_eq!(lines.len(), 2, "one registration of that agent: {body}");
        assert!(lines[1].contains("agent.registered") && lines[1].contains(&first));

        let res = get(
            &b,
            &server.url("/admin/audit/export?format=jsonl&range=all&type=agent.registered"),
        )
        .await;
        assert_eq!(res.headers()["content-type"], "application/jsonl");
        let body = res.text().await.expect("jsonl");
        let events: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e["event_type"] == "agent.registered"));
        assert!(
            events[0]["seq"].as_i64() < events[1]["seq"].as_i64(),
            "oldest first"
        );

        let res = get(&b, &server.url("/admin/audit/export?format=xml")).await;
        assert_eq!(res.status(), 400);

        let exported = newest_first(
            &server.store,
            &AuditFilter {
                event_types: vec![EventType::AuditExported],
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("events");
        assert_eq!(exported.len(), 2, "each export is an event");
        assert_eq!(exported[0].actor_kind, "admin");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_tenant_admin_sees_only_their_tenants_events() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let acme = make_tenant_admin(&server.store, "acme").await;
        let globex = server
            .store
            .tenant_by_slug("globex")
            .await
            .expect("tenant")
            .expect("globex")
            .id
            .as_str()
            .to_owned();
        let log = AuditLog::spawn(server.store.clone(), Arc::new(mandate_core::SystemClock));
        for (tenant, agent) in [(&acme, "agent-in-acme"), (&globex, "agent-in-globex")] {
            log.record(
                AuditEvent::new(EventType::TokenIssued, Outcome::Success, ActorKind::Agent)
                    .agent(agent)
                    .tenant(Some(tenant.clone())),
            )
            .await
            .expect("record");
        }
        let (b, to) = signed_in(&server, &password).await;
        assert!(to.ends_with("/admin"), "{to}");
        let html = text(&b, &server.url("/admin/audit")).await;
        assert!(html.contains("Tenant admin of Acme"));
        assert!(html.contains("agent-in-acme"));
        assert!(!html.contains("agent-in-globex"), "another tenant's event");
        assert!(
            !html.contains("data-type=\"agent.registered\"")
                && !html.contains("data-type=\"user.signed_in\""),
            "project-wide and tenant-less events are not theirs"
        );

        // Guessing the other tenant's id or event number shows nothing.
        let html = text(&b, &server.url(&format!("/admin/audit?tenant={globex}"))).await;
        assert!(html.contains("No events match these filters."));
        let theirs = newest_first(
            &server.store,
            &AuditFilter {
                tenant_id: Some(globex.clone()),
                ..AuditFilter::default()
            },
            None,
            1,
        )
        .await
        .expect("events");
        let html = text(
            &b,
            &server.url(&format!("/admin/audit?event={}", theirs[0].seq)),
        )
        .await;
        assert!(!html.contains("data-testid=\"event-detail\""));
        assert!(!html.contains("Globex</option>"), "not offered as a filter");

        let body = text(
            &b,
            &server.url("/admin/audit/export?format=jsonl&range=all"),
        )
        .await;
        assert_eq!(body.lines().count(), 1, "{body}");
        assert!(body.contains("agent-in-acme"));
        server.stop().await;
    }
}

/// Reads the SSE stream until a `data:` line contains `needle` or `wait` passes.
async fn stream_until(res: reqwest::Response, needle: &str, wait: Duration) -> Option<String> {
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .ok()??;
        seen.push_str(&String::from_utf8_lossy(&chunk.ok()?));
        if let Some(line) = seen
            .lines()
            .find(|l| l.starts_with("data:") && l.contains(needle))
        {
            return Some(line.to_owned());
        }
    }
}

#[tokio::test]
async fn the_live_tail_streams_new_matching_events_at_once() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let (b, _) = signed_in(&server, &password).await;
        let res = get(
            &b,
            &server.url("/admin/audit/live?range=1h&type=user.signed_in"),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        // Something else happens first (not a sign-in), then a sign-in elsewhere.
        let _agent = register_public(&server).await;
        let started = std::time::Instant::now();
        let (_other, _) = signed_in(&server, &password).await;
        let line = stream_until(res, "user.signed_in", Duration::from_secs(5))
            .await
            .expect("the sign-in arrives on the tail");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let row: Value =
            serde_json::from_str(line.trim_start_matches("data:").trim()).expect("a row as JSON");
        assert_eq!(row["event_type"], "user.signed_in");
        assert_eq!(row["user"]["label"], EMAIL);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_whole_authorization_writes_exactly_the_expected_events() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let b = browser();
        let (journey, _) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read",
            &password,
            "&tenant=acme",
        )
        .await;
        let res = consent(&server, &b, &journey, &["notes.read"], false).await;
        let tokens = redeem(&server, &client_id, &location(&server, &res)).await;
        assert!(tokens["access_token"].is_string());

        let mut events = newest_first(&server.store, &AuditFilter::default(), None, 100)
            .await
            .expect("events");
        events.reverse();
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "agent.registered",
                "authorization.requested",
                "user.signed_in",
                "consent.granted",
                "code.issued",
                "token.issued",
            ],
            "{events:#?}"
        );
        let user = server
            .store
            .user_by_email(EMAIL)
            .await
            .expect("user")
            .expect("demo")
            .id;
        let acme = server
            .store
            .tenant_by_slug("acme")
            .await
            .expect("tenant")
            .expect("acme")
            .id;
        for e in &events {
            assert_eq!(e.agent_id.as_deref(), Some(client_id.as_str()), "{e:?}");
            assert!(e.mcp_server_id.is_some(), "{e:?}");
        }
        let signed_in = &events[2];
        assert_eq!(signed_in.user_id.as_deref(), Some(user.as_str()));
        assert_eq!(signed_in.actor_kind, "user");
        let by_type = |t: &str| events.iter().find(|e| e.event_type == t).expect(t);
        let granted = by_type("consent.granted");
        assert_eq!(granted.actor_kind, "user");
        assert_eq!(granted.user_id.as_deref(), Some(user.as_str()));
        assert_eq!(granted.tenant_id.as_deref(), Some(acme.as_str()));
        assert_eq!(granted.scopes_granted.as_deref(), Some("notes.read"));
        let issued = by_type("token.issued");
        assert_eq!(issued.actor_kind, "agent");
        assert_eq!(issued.user_id.as_deref(), Some(user.as_str()));
        assert_eq!(issued.tenant_id.as_deref(), Some(acme.as_str()));
        assert_eq!(issued.scopes_granted.as_deref(), Some("notes.read"));
        assert!(
            issued.detail["jti"].is_string(),
            "the token appears as its jti"
        );
        let raw = serde_json::to_string(&events.iter().map(|e| e.to_json()).collect::<Vec<_>>())
            .expect("json");
        let access = tokens["access_token"].as_str().expect("token");
        assert!(!raw.contains(access), "never the token itself");
        assert!(!raw.contains(&password), "never a password");
        server.stop().await;
    }
}

/// A webhook receiver: answers 503 to its first delivery, then 200; keeps what it accepted.
async fn webhook() -> (String, Arc<tokio::sync::Mutex<Vec<(String, Vec<u8>)>>>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let received = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let signature = headers
                    .get("mandate-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                store.lock().await.push((signature, body.to_vec()));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, received)
}

#[tokio::test]
async fn events_are_forwarded_to_a_signed_webhook_and_retried_until_accepted() {
    for db in each_backend().await {
        let (url, received) = webhook().await;
        let server = TestServer::start_with(
            &db,
            &[
                ("MANDATE_AUDIT_FORWARD", url),
                ("MANDATE_AUDIT_FORWARD_SECRET", "siem-secret".to_owned()),
            ],
        )
        .await;
        mandate_core::seed::seed_demo(
            &server.store,
            &mandate_core::identity::password::PasswordHasherPool::new(1),
            crate::oauth_flow::RESOURCE,
            1,
        )
        .await
        .expect("seed");
        let agent = register_public(&server).await;
        // The first delivery is refused; the retry (after a second) is accepted.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let (signature, body) = loop {
            if let Some(found) = received
                .lock()
                .await
                .iter()
                .find(|(_, body)| String::from_utf8_lossy(body).contains(&agent))
            {
                break found.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "never delivered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64;
        assert!(
            mandate_core::enrich::verify_signature(b"siem-secret", &signature, &body, now, 300),
            "signed over the timestamp and the body: {signature}"
        );
        assert!(!mandate_core::enrich::verify_signature(
            b"another-secret",
            &signature,
            &body,
            now,
            300
        ));
        let payload: Value = serde_json::from_slice(&body).expect("json");
        let events = payload["events"].as_array().expect("events");
        let registered = events
            .iter()
            .find(|e| e["agent_id"] == agent.as_str())
            .expect("the registration");
        assert_eq!(registered["event_type"], "agent.registered");
        assert_eq!(registered["source"], "mandate.audit");
        server.stop().await;
    }
}

/// The newest event, which must be of `kind`.
async fn newest(store: &Store, kind: &str) -> mandate_core::audit::query::StoredEvent {
    let e = newest_first(store, &AuditFilter::default(), None, 1)
        .await
        .expect("events")
        .remove(0);
    assert_eq!(e.event_type, kind, "{e:#?}");
    e
}

#[tokio::test]
async fn refresh_reuse_revocation_introspection_and_machine_tokens_write_their_events() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let b = browser();
        let (journey, _) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read",
            &password,
            "&tenant=acme",
        )
        .await;
        let res = consent(&server, &b, &journey, &["notes.read"], false).await;
        let tokens = redeem(&server, &client_id, &location(&server, &res)).await;
        let first_refresh = tokens["refresh_token"].as_str().expect("rt").to_owned();
        let user = newest(&server.store, "token.issued").await.user_id;
        let token = |form: Vec<(&'static str, String)>| {
            let url = server.url("/s/demo-notes/token");
            async move { client().post(url).form(&form).send().await.expect("token") }
        };
        let refresh = |rt: String| {
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", rt),
                ("client_id", client_id.clone()),
            ]
        };

        let res = token(refresh(first_refresh.clone())).await;
        assert_eq!(res.status(), 200);
        let rotated: Value = res.json().await.expect("json");
        let e = newest(&server.store, "token.refreshed").await;
        assert_eq!(e.actor_kind, "agent");
        assert_eq!(e.agent_id.as_deref(), Some(client_id.as_str()));
        assert_eq!(e.user_id, user);
        assert_eq!(e.scopes_granted.as_deref(), Some("notes.read"));
        assert!(e.detail["jti"].is_string());

        // The rotated-away token again at once: a client's concurrent retry, refused and
        // recorded, the family kept. After the grace period: reuse, the family revoked.
        let res = token(refresh(first_refresh.clone())).await;
        assert_eq!(res.status(), 400);
        let e = newest(&server.store, "token.failed").await;
        assert_eq!(
            e.detail["reason"],
            "the refresh token has already been used"
        );
        // The grace period is 2 s (`REUSE_GRACE_MS` in core's refresh grant).
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let res = token(refresh(first_refresh)).await;
        assert_eq!(res.status(), 400);
        let last_two = newest_first(&server.store, &AuditFilter::default(), None, 2)
            .await
            .expect("events");
        let kinds: Vec<&str> = last_two.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, ["token.failed", "token.refresh_reuse_detected"]);
        assert!(last_two
            .iter()
            .all(|e| e.agent_id.as_deref() == Some(client_id.as_str()) && e.outcome == "failure"));
        assert_eq!(last_two[0].detail["error"], "invalid_grant");

        // Revocation (RFC 7009) of the newest refresh token.
        let res = client()
            .post(server.url("/s/demo-notes/revoke"))
            .form(&[
                ("token", rotated["refresh_token"].as_str().expect("rt")),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 200);
        let e = newest(&server.store, "token.revoked").await;
        assert_eq!(e.agent_id.as_deref(), Some(client_id.as_str()));

        // A machine (client_credentials) token, then introspection of the user's token.
        let (machine, secret) = crate::oauth_flow::register_confidential(&server).await;
        let res = token(vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", machine.clone()),
            ("client_secret", secret.clone()),
            ("scope", "notes.read".to_owned()),
        ])
        .await;
        assert_eq!(res.status(), 200);
        let e = newest(&server.store, "token.issued").await;
        assert_eq!(e.actor_kind, "agent");
        assert_eq!(e.agent_id.as_deref(), Some(machine.as_str()));
        assert_eq!(e.user_id, None, "no person behind a machine token");
        assert_eq!(e.scopes_granted.as_deref(), Some("notes.read"));

        let at = tokens["access_token"].as_str().expect("at");
        crate::oauth_flow::introspect(&server, at, &machine, &secret).await;
        // An introspection's event is queued without holding up the answer: it lands shortly.
        let mut introspected = None;
        for _ in 0..100 {
            let e = newest_first(&server.store, &AuditFilter::default(), None, 1)
                .await
                .expect("events")
                .remove(0);
            if e.event_type == "token.introspected" {
                introspected = Some(e);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let e = introspected.expect("the introspection's event is written");
        assert_eq!(e.agent_id.as_deref(), Some(machine.as_str()), "{e:#?}");
        server.stop().await;
    }
}

/// The `token.introspected` events on record, oldest first: (caller, jti, active,
/// unrecorded_repeats).
async fn introspection_events(store: &Store) -> Vec<(String, Value, Value, Value)> {
    let filter = AuditFilter {
        event_types: vec![EventType::TokenIntrospected],
        ..AuditFilter::default()
    };
    let mut events = newest_first(store, &filter, None, 100)
        .await
        .expect("events");
    events.reverse();
    events
        .into_iter()
        .map(|e| {
            (
                e.agent_id.unwrap_or_default(),
                e.detail["jti"].clone(),
                e.detail["active"].clone(),
                e.detail["unrecorded_repeats"].clone(),
            )
        })
        .collect()
}

/// A server with the demo seeded and `MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS` set to `secs`.
async fn demo_with_introspection_window(
    db: &mandate_core::testing::TestDatabase,
    secs: &str,
) -> TestServer {
    use mandate_core::identity::password::PasswordHasherPool;
    let server = TestServer::start_with(
        db,
        &[("MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS", secs.into())],
    )
    .await;
    mandate_core::seed::seed_demo(
        &server.store,
        &PasswordHasherPool::new(1),
        crate::oauth_flow::RESOURCE,
        1,
    )
    .await
    .expect("seed");
    server
}

/// A client_credentials token of the confidential client (`id`, `secret`) and its jti.
async fn machine_token(server: &TestServer, id: &str, secret: &str) -> (String, String) {
    let res = client()
        .post(server.url("/s/demo-notes/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "notes.read"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let jti = newest(&server.store, "token.issued").await.detail["jti"]
        .as_str()
        .expect("jti")
        .to_owned();
    (token, jti)
}

/// Revokes `token` as its client; the revocation's event is waited for, so every introspection
/// event queued before it is on record when this returns.
async fn revoke_as(server: &TestServer, token: &str, id: &str, secret: &str) {
    crate::oauth_flow::post_token_as(server, "revoke", token, id, secret).await;
}

#[tokio::test]
async fn repeated_introspections_of_a_live_token_are_counted_within_the_window_and_refusals_always_recorded(
) {
    use crate::oauth_flow::{introspect, register_confidential};
    for db in each_backend().await {
        let server = demo_with_introspection_window(&db, "2").await;
        let (rs, rs_secret) = register_confidential(&server).await;
        let (other, other_secret) = register_confidential(&server).await;
        let (token, jti) = machine_token(&server, &rs, &rs_secret).await;
        let (spare, _) = machine_token(&server, &rs, &rs_secret).await;

        for _ in 0..3 {
            assert_eq!(
                introspect(&server, &token, &rs, &rs_secret).await["active"],
                true
            );
        }
        assert_eq!(
            introspect(&server, &token, &other, &other_secret).await["active"],
            true
        );
        for _ in 0..2 {
            assert_eq!(
                introspect(&server, "not.a.token", &rs, &rs_secret).await["active"],
                false
            );
        }
        revoke_as(&server, &spare, &rs, &rs_secret).await;
        let live = |caller: &str, repeats: u64| {
            (
                caller.to_owned(),
                Value::from(jti.as_str()),
                Value::Bool(true),
                Value::from(repeats),
            )
        };
        let refused = (rs.clone(), Value::Null, Value::Bool(false), Value::Null);
        let expected = vec![
            live(&rs, 0),
            live(&other, 0),
            refused.clone(),
            refused.clone(),
        ];
        assert_eq!(introspection_events(&server.store).await, expected);

        // After the window, the next answer is recorded with the count of those skipped.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert_eq!(
            introspect(&server, &token, &rs, &rs_secret).await["active"],
            true
        );
        // Revoked: the answer changes, and a refusal is recorded whatever the window.
        revoke_as(&server, &token, &rs, &rs_secret).await;
        assert_eq!(
            introspect(&server, &token, &rs, &rs_secret).await["active"],
            false
        );
        revoke_as(&server, &spare, &rs, &rs_secret).await;
        let mut expected = expected;
        expected.extend([live(&rs, 2), refused]);
        assert_eq!(introspection_events(&server.store).await, expected);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_window_of_zero_records_every_introspection() {
    use crate::oauth_flow::{introspect, register_confidential};
    for db in each_backend().await {
        let server = demo_with_introspection_window(&db, "0").await;
        let (rs, rs_secret) = register_confidential(&server).await;
        let (token, jti) = machine_token(&server, &rs, &rs_secret).await;
        for _ in 0..3 {
            assert_eq!(
                introspect(&server, &token, &rs, &rs_secret).await["active"],
                true
            );
        }
        revoke_as(&server, &token, &rs, &rs_secret).await;
        let every = (
            rs.clone(),
            Value::from(jti),
            Value::Bool(true),
            Value::from(0),
        );
        assert_eq!(introspection_events(&server.store).await, vec![every; 3]);
        server.stop().await;
    }
}
