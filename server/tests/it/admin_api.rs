//! Admin API keys (created and revoked on the console) and the REST API they open:
//! `/api/v1/audit/events` and `/api/v1/audit/export`, with the JSON error envelope.

use mandate_core::audit::query::{newest_first, AuditFilter};
use mandate_core::audit::EventType;
use mandate_core::testing::each_backend;
use serde_json::Value;

use crate::audit_views::{make_project_admin, make_tenant_admin, signed_in};
use crate::oauth_flow::{demo_server, register_public};
use crate::steps::text;
use crate::support::{client, hidden_field, TestServer};

/// Creates a key on the console; returns the key and the page that showed it.
pub async fn create_key(
    server: &TestServer,
    b: &reqwest::Client,
    name: &str,
    scope: &str,
) -> (reqwest::StatusCode, String) {
    let page = text(b, &server.url("/admin/api-keys")).await;
    let res = b
        .post(server.url("/admin/api-keys"))
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("name", name.to_owned()),
            ("scope", scope.to_owned()),
        ])
        .send()
        .await
        .expect("create");
    let status = res.status();
    (status, res.text().await.expect("html"))
}

pub fn key_in(html: &str) -> String {
    let start = html.find("mdt_ak_").expect("the new key is shown");
    let end = html[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .expect("end")
        + start;
    html[start..end].to_owned()
}

pub async fn api(server: &TestServer, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = client().get(server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("api")
}

#[tokio::test]
async fn a_key_made_on_the_console_reads_the_audit_api_until_revoked() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let agent = register_public(&server).await;
        let (b, _) = signed_in(&server, &password).await;

        let (status, html) = create_key(&server, &b, "SIEM pull", "read").await;
        assert_eq!(status, 201);
        assert!(html.contains("data-testid=\"new-api-key\""));
        let key = key_in(&html);
        let again = text(&b, &server.url("/admin/api-keys")).await;
        assert!(again.contains("SIEM pull"), "listed");
        assert!(!again.contains(&key), "never shown again");

        // No key, a wrong key: 401 in the JSON envelope.
        let res = api(&server, "/api/v1/audit/events", None).await;
        assert_eq!(res.status(), 401);
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer"));
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized");
        let res = api(&server, "/api/v1/audit/events", Some("mdt_ak_nope")).await;
        assert_eq!(res.status(), 401);

        let res = api(
            &server,
            &format!("/api/v1/audit/events?range=all&agent={agent}"),
            Some(&key),
        )
        .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        let events = body["events"].as_array().expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["event_type"], "agent.registered");
        assert_eq!(events[0]["agent_id"], agent.as_str());
        assert!(body["next_cursor"].is_null());

        // Cursor pages over everything, newest first, without overlap.
        let res = api(
            &server,
            "/api/v1/audit/events?range=all&limit=2",
            Some(&key),
        )
        .await;
        let first: Value = res.json().await.expect("json");
        let cursor = first["next_cursor"]
            .as_str()
            .expect("more pages")
            .to_owned();
        let res = api(
            &server,
            &format!("/api/v1/audit/events?range=all&limit=2&cursor={cursor}"),
            Some(&key),
        )
        .await;
        let second: Value = res.json().await.expect("json");
        let last_of_first = first["events"][1]["seq"].as_i64().expect("seq");
        assert!(second["events"][0]["seq"].as_i64().expect("seq") < last_of_first);

        for bad in [
            "/api/v1/audit/events?limit=0",
            "/api/v1/audit/events?type=token.stolen",
            "/api/v1/audit/events?cursor=abc",
            "/api/v1/audit/export?format=xml",
        ] {
            let res = api(&server, bad, Some(&key)).await;
            assert_eq!(res.status(), 400, "{bad}");
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["error"]["code"], "bad_request", "{bad}");
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }

        let res = api(
            &server,
            &format!("/api/v1/audit/export?format=jsonl&range=all&agent={agent}"),
            Some(&key),
        )
        .await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.expect("jsonl");
        assert_eq!(body.lines().count(), 1);

        // Revoking needs the confirmation, then the key stops at once.
        let page = text(&b, &server.url("/admin/api-keys")).await;
        let key_id = hidden_field(&page, "key");
        let res = b
            .post(server.url("/admin/api-keys/revoke"))
            .form(&[
                ("csrf", hidden_field(&page, "csrf")),
                ("key", key_id.clone()),
            ])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 400, "not confirmed");
        let res = b
            .post(server.url("/admin/api-keys/revoke"))
            .form(&[
                ("csrf", hidden_field(&page, "csrf")),
                ("key", key_id),
                ("confirm", "yes".into()),
            ])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 303);
        let res = api(&server, "/api/v1/audit/events", Some(&key)).await;
        assert_eq!(res.status(), 401);

        let changes = newest_first(
            &server.store,
            &AuditFilter {
                event_types: vec![EventType::AdminChanged, EventType::AuditExported],
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("events");
        let actions: Vec<String> = changes
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}",
                    e.event_type,
                    e.actor_kind,
                    e.detail["action"].as_str().unwrap_or("-")
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                "admin.changed admin api_key.revoked",
                "audit.exported api_key -",
                "admin.changed admin api_key.created",
            ]
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn keys_act_with_their_creators_rights_and_die_with_them() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        make_project_admin(&server.store).await;
        let (b, _) = signed_in(&server, &password).await;
        let (status, html) = create_key(&server, &b, "", "read").await;
        assert_eq!(status, 400, "a name is needed");
        assert!(html.contains("Give the key a name"));
        let (_, html) = create_key(&server, &b, "Automation", "full").await;
        let key = key_in(&html);
        assert_eq!(
            api(&server, "/api/v1/mcp-servers", Some(&key))
                .await
                .status(),
            200
        );

        // The creator becomes a tenant admin only: the key now acts as one (project-wide
        // things are refused), and its creator still sees and manages their own keys.
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        make_tenant_admin(&server.store, "acme").await;
        let res = api(&server, "/api/v1/mcp-servers", Some(&key)).await;
        assert_eq!(res.status(), 403);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "forbidden");
        assert_eq!(
            api(&server, "/api/v1/users", Some(&key)).await.status(),
            200,
            "their tenant's people"
        );
        let page = text(&b, &server.url("/admin/api-keys")).await;
        assert!(page.contains("Automation") && page.contains("Create key"));

        // Without any admin rights the key stops, and the console is closed to them.
        sqlx::query("UPDATE memberships SET is_tenant_admin = 0")
            .execute(server.store.pool())
            .await
            .expect("demote");
        let res = api(&server, "/api/v1/users", Some(&key)).await;
        assert_eq!(res.status(), 403);
        let account = text(&b, &server.url("/account")).await;
        let res = b
            .post(server.url("/admin/api-keys"))
            .form(&[
                ("csrf", hidden_field(&account, "csrf")),
                ("name", "sneaky".to_owned()),
                ("scope", "full".to_owned()),
            ])
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 403);
        server.stop().await;
    }
}
