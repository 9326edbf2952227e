//! Policies over real HTTP: the console form (field errors, what was typed kept), delete with
//! confirmation, the simulator before/after a draft, the consent page following a new policy,
//! and `/api/v1/policies` (list, create, validation, delete, simulate, rights).

use mandate_core::testing::each_backend;
use serde_json::{json, Value};

use crate::audit_views::{make_project_admin, make_tenant_admin, signed_in};
use crate::oauth_flow::{demo_server, register_public};
use crate::steps::{start_journey, text, EMAIL};
use crate::support::{browser, client, hidden_field, TestServer};

async fn server_id(server: &TestServer) -> String {
    server
        .store
        .mcp_server_by_slug("demo-notes")
        .await
        .expect("server")
        .expect("demo-notes")
        .id
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn a_policy_written_on_the_console_shapes_the_simulator_and_the_consent_page() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let sid = server_id(&server).await;
        let agent = register_public(&server).await;
        let (b, _) = signed_in(&server, &password).await;

        let page = text(&b, &server.url("/admin/policies")).await;
        assert!(page.contains("No policies yet"));
        let csrf = hidden_field(&page, "csrf");
        // Wrong fields: each error beside its field, the typed values kept.
        let res = b
            .post(server.url("/admin/policies"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", ""),
                ("description", "kept text"),
                ("c0_key", "user.roles"),
                ("c0_op", "Contains"),
                ("c0_values", ""),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 422);
        let html = res.text().await.expect("html");
        assert!(html.contains("data-field=\"name\""), "{html}");
        assert!(html.contains("data-field=\"conditions[0]\""));
        assert!(html.contains("data-field=\"allows\""));
        assert!(html.contains("value=\"kept text\""), "typed values kept");

        // Readers may only read: a policy allowing notes.read to everyone.
        let allow = format!("{sid}|notes.read");
        let res = b
            .post(server.url("/admin/policies"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Everyone reads"),
                ("description", ""),
                ("allow", allow.as_str()),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 303);
        let page = text(&b, &server.url("/admin/policies")).await;
        assert!(page.contains("Everyone reads"));
        assert!(page.contains("Demo Notes: notes.read"));

        // The simulator: before (the stored policy) and after a draft for writers.
        let sim = text(
            &b,
            &server.url(&format!(
                "/admin/policies/simulate?user={EMAIL}&tenant=acme&agent={agent}&server=demo-notes&scopes=notes.read+notes.write\
                 &preview=on&name=Members+write&c0_key=user.roles&c0_op=Contains&c0_values=member&allow={sid}%7Cnotes.write"
            )),
        )
        .await;
        let effective = |html: &str, id: &str| {
            let at = html
                .find(&format!("data-testid=\"{id}-effective\""))
                .expect(id);
            let end = html[at..].find("</span></p>").expect("end") + at;
            html[at..end].to_owned()
        };
        let before = effective(&sim, "sim-before");
        assert!(
            before.contains("notes.read") && !before.contains("notes.write"),
            "{before}"
        );
        let after = effective(&sim, "sim-after");
        assert!(after.contains("notes.write"), "{after}");
        assert!(sim.contains("Everyone reads"), "matched policies by name");

        // The consent page follows the stored policy at once: notes.write is unavailable.
        let person = browser();
        let (journey, next) = start_journey(
            &server,
            &person,
            &agent,
            "notes.read notes.write",
            &password,
            "&tenant=acme",
        )
        .await;
        assert!(next.contains("/authorize/consent"), "{next}");
        let consent = text(
            &person,
            &server.url(&format!("/authorize/consent?journey={journey}")),
        )
        .await;
        assert!(
            consent.contains("No policy of this hub allows it"),
            "{consent}"
        );

        // Delete needs the confirmation.
        let page = text(&b, &server.url("/admin/policies")).await;
        let id = hidden_field(&page, "policy");
        let res = b
            .post(server.url("/admin/policies/delete"))
            .form(&[("csrf", csrf.as_str()), ("policy", id.as_str())])
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 400);
        let res = b
            .post(server.url("/admin/policies/delete"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("policy", id.as_str()),
                ("confirm", "yes"),
            ])
            .send()
            .await
            .expect("delete");
        assert_eq!(res.status(), 303);
        assert!(text(&b, &server.url("/admin/policies"))
            .await
            .contains("No policies yet"));
        server.stop().await;
    }
}

/// A key made on the console by a signed-in project admin.
async fn key(server: &TestServer, b: &reqwest::Client, scope: &str) -> String {
    let page = text(b, &server.url("/admin/api-keys")).await;
    let html = b
        .post(server.url("/admin/api-keys"))
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("name", format!("{scope} key")),
            ("scope", scope.to_owned()),
        ])
        .send()
        .await
        .expect("create")
        .text()
        .await
        .expect("html");
    let start = html.find("mdt_ak_").expect("key");
    let end = html[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .expect("end")
        + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn the_policies_api_lists_creates_validates_simulates_and_deletes() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let sid = server_id(&server).await;
        let agent = register_public(&server).await;
        let (b, _) = signed_in(&server, &password).await;
        let full = key(&server, &b, "full").await;
        let read = key(&server, &b, "read").await;
        let api = |method: reqwest::Method, path: &str, key: Option<&str>| {
            let mut r = client().request(method, server.url(path));
            if let Some(k) = key {
                r = r.bearer_auth(k);
            }
            r
        };
        use reqwest::Method;

        let res = api(Method::GET, "/api/v1/policies", None)
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 401, "unauthenticated");
        let body = json!({
            "name": "Writers write",
            "conditions": [{ "key": "user.roles", "operator": "Contains", "values": ["writer"] }],
            "allows": [{ "mcp_server_id": sid, "scopes": ["notes.write"] }]
        });
        let res = api(Method::POST, "/api/v1/policies", Some(&read))
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 403, "a read-only key cannot create");

        let res = api(Method::POST, "/api/v1/policies", Some(&full))
            .json(&json!({ "name": "", "allows": [{ "mcp_server_id": sid, "scopes": ["notes.nope"] }] }))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["code"], "validation_failed");
        assert!(err["error"]["fields"]["name"].is_string());
        assert!(err["error"]["fields"]["allows[0]"]
            .as_str()
            .expect("msg")
            .contains("notes.nope"));
        let res = api(Method::POST, "/api/v1/policies", Some(&full))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["code"], "bad_request");

        let res = api(Method::POST, "/api/v1/policies", Some(&full))
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.expect("json");
        let id = created["id"].as_str().expect("id").to_owned();

        let res = api(Method::GET, "/api/v1/policies", Some(&read))
            .send()
            .await
            .expect("list");
        let list: Value = res.json().await.expect("json");
        assert_eq!(list["policies"][0]["name"], "Writers write");

        let res = api(Method::POST, "/api/v1/policies/simulate", Some(&read))
            .json(&json!({
                "user": EMAIL, "tenant": "acme", "agent": agent, "mcp_server": "demo-notes",
                "scopes": "notes.read notes.write",
                "draft": { "name": "Readers", "allows": [{ "mcp_server_id": sid, "scopes": ["notes.read"] }] }
            }))
            .send()
            .await
            .expect("simulate");
        assert_eq!(res.status(), 200);
        let sim: Value = res.json().await.expect("json");
        assert_eq!(sim["before"]["effective"], json!([]), "{sim}");
        assert_eq!(
            sim["before"]["denied"],
            json!(["notes.read", "notes.write"])
        );
        assert_eq!(sim["after"]["effective"], json!(["notes.read"]));
        let res = api(Method::POST, "/api/v1/policies/simulate", Some(&read))
            .json(
                &json!({ "user": "nobody@example.com", "tenant": "acme", "agent": agent,
                           "mcp_server": "demo-notes", "scopes": "notes.read" }),
            )
            .send()
            .await
            .expect("simulate");
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.expect("json");
        assert!(err["error"]["fields"]["user"].is_string());

        let res = api(
            Method::DELETE,
            &format!("/api/v1/policies/{id}"),
            Some(&full),
        )
        .send()
        .await
        .expect("delete");
        assert_eq!(res.status(), 204);
        // Both changes are events by the API key, with the policy after / before.
        let changes = mandate_core::audit::query::newest_first(
            &server.store,
            &mandate_core::audit::query::AuditFilter {
                event_types: vec![mandate_core::audit::EventType::AdminChanged],
                ..Default::default()
            },
            None,
            2,
        )
        .await
        .expect("events");
        assert_eq!(changes[0].detail["action"], "policy.deleted");
        assert_eq!(changes[0].detail["before"]["name"], "Writers write");
        assert_eq!(changes[0].actor_kind, "api_key");
        assert_eq!(changes[0].policies.as_deref(), Some(id.as_str()));
        assert_eq!(changes[1].detail["action"], "policy.created");
        assert_eq!(
            changes[1].detail["after"]["allows"][0]["scopes"],
            json!(["notes.write"])
        );
        let res = api(
            Method::DELETE,
            &format!("/api/v1/policies/{id}"),
            Some(&full),
        )
        .send()
        .await
        .expect("delete");
        assert_eq!(res.status(), 404);
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["code"], "not_found");

        // A tenant admin's console cannot touch policies.
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        make_tenant_admin(&server.store, "acme").await;
        let page = text(&b, &server.url("/admin/policies")).await;
        assert!(page.contains("Only project admins manage policies."));
        let account = text(&b, &server.url("/account")).await;
        let res = b
            .post(server.url("/admin/policies"))
            .form(&[
                ("csrf", hidden_field(&account, "csrf")),
                ("name", "sneaky".to_owned()),
                ("allow", format!("{sid}|notes.read")),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403);
        server.stop().await;
    }
}
