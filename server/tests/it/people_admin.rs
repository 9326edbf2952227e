//! Tenants and people through the admin API, the password link a person follows, disabling
//! (the person's session ends at their next request, their refresh tokens stop), and
//! tenant-level consent honoured by the authorization journey.

use mandate_core::testing::each_backend;
use serde_json::{json, Value};

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, signed_in};
use crate::oauth_flow::{authorize_url, demo_server};
use crate::steps::{start_journey, text};
use crate::support::{browser, client, hidden_field, location, radio_value, TestServer};

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client().request(method, server.url(path)).bearer_auth(key);
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

async fn full_key(server: &TestServer, password: &str) -> String {
    make_project_admin(&server.store).await;
    let (b, _) = signed_in(server, password).await;
    let (_, html) = create_key(server, &b, "People", "full").await;
    key_in(&html)
}

/// Follows a password link: sets `password`; returns the final status.
async fn set_password(
    server: &TestServer,
    url: &str,
    password: &str,
    confirm: &str,
) -> (u16, String) {
    let b = browser();
    let path = url
        .split_once("/set-password")
        .map(|(_, rest)| format!("/set-password{rest}"))
        .expect("path");
    let page = text(&b, &server.url(&path)).await;
    let token = hidden_field(&page, "token");
    let res = b
        .post(server.url("/set-password"))
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("token", token),
            ("password", password.to_owned()),
            ("confirm", confirm.to_owned()),
        ])
        .send()
        .await
        .expect("post");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

async fn sign_in_as(server: &TestServer, email: &str, password: &str) -> (reqwest::Client, u16) {
    let b = browser();
    let page = text(&b, &server.url("/sign-in")).await;
    let res = b
        .post(server.url("/sign-in"))
        .form(&[
            ("csrf", hidden_field(&page, "csrf")),
            ("email", email.to_owned()),
            ("password", password.to_owned()),
        ])
        .send()
        .await
        .expect("sign in");
    let status = res.status().as_u16();
    (b, status)
}

#[tokio::test]
async fn tenants_and_people_are_managed_through_the_api() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let key = full_key(&server, &password).await;

        let (status, tenant) = call(&server, "POST", "/api/v1/tenants", &key,
            Some(json!({ "slug": "initech", "name": "Initech", "email_domains": ["Initech.Example"] }))).await;
        assert_eq!(status, 201, "{tenant}");
        assert_eq!(tenant["email_domains"], json!(["initech.example"]));
        let (status, body) = call(
            &server,
            "POST",
            "/api/v1/tenants",
            &key,
            Some(json!({ "slug": "Bad Slug", "name": "", "logo_url": "ftp://logo.example/a.png" })),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["error"]["fields"]["slug"].is_string()
                && body["error"]["fields"]["name"].is_string()
        );
        let (status, renamed) = call(
            &server,
            "PUT",
            "/api/v1/tenants/initech",
            &key,
            Some(json!({ "name": "Initech Corp", "email_domains": [] })),
        )
        .await;
        assert_eq!(
            (status, renamed["name"].clone()),
            (200, json!("Initech Corp"))
        );

        // Invite: a link to choose a password, once.
        let (status, link) = call(&server, "POST", "/api/v1/users", &key,
            Some(json!({ "email": "Peter@Initech.example", "tenant": "initech", "roles": ["engineer"] }))).await;
        assert_eq!(status, 201, "{link}");
        let url = link["url"].as_str().expect("url").to_owned();
        assert!(url.contains("/set-password?token=mdt_pl_"));
        let (status, body) = call(
            &server,
            "POST",
            "/api/v1/users",
            &key,
            Some(json!({ "email": "peter@initech.example", "tenant": "initech" })),
        )
        .await;
        assert_eq!(status, 400, "the email is taken: {body}");
        let (status, html) = set_password(
            &server,
            &url,
            "a fine long password",
            "another one entirely",
        )
        .await;
        assert_eq!(status, 400);
        assert!(html.contains("not the same"));
        let (status, _) = set_password(
            &server,
            &url,
            "a fine long password",
            "a fine long password",
        )
        .await;
        assert_eq!(status, 303);
        let b = browser();
        let path = url
            .split_once("/set-password")
            .map(|(_, r)| format!("/set-password{r}"))
            .expect("path");
        let res = b.get(server.url(&path)).send().await.expect("get");
        assert_eq!(res.status(), 400, "the link works once");

        let (b, status) =
            sign_in_as(&server, "peter@initech.example", "a fine long password").await;
        assert_eq!(status, 303, "the new password signs in");
        let res = b.get(server.url("/account")).send().await.expect("account");
        assert_eq!(res.status(), 200);

        let (status, person) = call(
            &server,
            "GET",
            "/api/v1/users/peter@initech.example",
            &key,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(person["memberships"][0]["roles"], json!(["engineer"]));
        let id = person["user"]["id"].as_str().expect("id").to_owned();

        // Memberships: add to acme as a reader, then take them out again.
        let (status, person) = call(
            &server,
            "PUT",
            &format!("/api/v1/users/{id}/memberships"),
            &key,
            Some(json!({ "tenant": "acme", "roles": ["reader"], "is_tenant_admin": true })),
        )
        .await;
        assert_eq!(status, 200, "{person}");
        assert_eq!(person["memberships"].as_array().map(Vec::len), Some(2));
        let (status, _) = call(
            &server,
            "PUT",
            &format!("/api/v1/users/{id}/memberships"),
            &key,
            Some(json!({ "tenant": "acme", "roles": ["has space"] })),
        )
        .await;
        assert_eq!(status, 400);
        let (status, _) = call(
            &server,
            "DELETE",
            &format!("/api/v1/users/{id}/memberships/acme"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, _) = call(
            &server,
            "DELETE",
            &format!("/api/v1/users/{id}/memberships/acme"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 404);

        // Disabling ends the session at its next request.
        let (status, person) = call(
            &server,
            "PATCH",
            &format!("/api/v1/users/{id}"),
            &key,
            Some(json!({ "disabled": true })),
        )
        .await;
        assert_eq!(
            (status, person["user"]["disabled"].clone()),
            (200, json!(true))
        );
        let res = b.get(server.url("/account")).send().await.expect("account");
        assert!(
            res.status().is_redirection(),
            "signed out: {}",
            res.status()
        );
        assert!(location(&server, &res).contains("/sign-in"));
        let (_, status) =
            sign_in_as(&server, "peter@initech.example", "a fine long password").await;
        assert_ne!(status, 303, "a disabled account cannot sign in");
        let (status, _) = call(
            &server,
            "PATCH",
            &format!("/api/v1/users/{id}"),
            &key,
            Some(json!({ "disabled": false })),
        )
        .await;
        assert_eq!(status, 200);
        let (_, status) =
            sign_in_as(&server, "peter@initech.example", "a fine long password").await;
        assert_eq!(status, 303, "enabled again");

        let (status, _) = call(
            &server,
            "POST",
            &format!("/api/v1/users/{id}/reset-mfa"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, fresh) = call(
            &server,
            "POST",
            &format!("/api/v1/users/{id}/password-link"),
            &key,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_ne!(fresh["url"], json!(url));
        let (status, _) = call(
            &server,
            "GET",
            "/api/v1/users/nobody@nowhere.example",
            &key,
            None,
        )
        .await;
        assert_eq!(status, 404);
        let (status, page) = call(
            &server,
            "GET",
            "/api/v1/users?q=initech&limit=1",
            &key,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(page["users"][0]["email"], "peter@initech.example");
        server.stop().await;
    }
}

#[tokio::test]
async fn disabling_a_person_revokes_their_refresh_tokens() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let key = full_key(&server, &password).await;
        let (agent, tokens) = tokens_in_acme(&server, &password).await;

        let (status, _) = call(
            &server,
            "PATCH",
            "/api/v1/users/demo@example.com",
            &key,
            Some(json!({ "disabled": true })),
        )
        .await;
        // The key's creator is the demo user: disabling yourself is refused.
        assert_eq!(status, 403);
        // Another project admin disables the demo user.
        let user = server
            .store
            .user_by_email("demo@example.com")
            .await
            .expect("read")
            .expect("user");
        mandate_core::admin::users::set_disabled(
            &server.store,
            &mandate_core::access::AdminAccess::Project {
                user: mandate_core::ids::UserId::from_string("other"),
            },
            user.id.as_str(),
            true,
            mandate_core::clock::Clock::now_ms(&mandate_core::clock::SystemClock),
        )
        .await
        .expect("disable");
        let refresh = tokens["refresh_token"].as_str().expect("rt");
        crate::journey::assert_refresh_refused(&server, &agent, refresh).await;
        server.stop().await;
    }
}

/// Taking the person out of the tenant an agent acts in for them revokes what the agent holds
/// there at once: its refresh token is refused and its access token reads as inactive.
#[tokio::test]
async fn removing_a_person_from_a_tenant_revokes_the_tokens_held_for_them_there() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let key = full_key(&server, &password).await;
        let (agent, tokens) = tokens_in_acme(&server, &password).await;
        let (machine, secret) = crate::oauth_flow::register_confidential(&server).await;
        let at = tokens["access_token"].as_str().expect("at");
        let active = || async {
            crate::oauth_flow::introspect(&server, at, &machine, &secret).await["active"].clone()
        };
        assert_eq!(active().await, json!(true));

        let (status, _) = call(
            &server,
            "DELETE",
            "/api/v1/users/demo@example.com/memberships/acme",
            &key,
            None,
        )
        .await;
        assert_eq!(status, 204);
        assert_eq!(active().await, json!(false), "the access token is revoked");
        let refresh = tokens["refresh_token"].as_str().expect("rt");
        crate::journey::assert_refresh_refused(&server, &agent, refresh).await;
        server.stop().await;
    }
}

/// A public agent's tokens from the demo person's authorization in Acme Corp.
async fn tokens_in_acme(server: &TestServer, password: &str) -> (String, Value) {
    let agent = crate::oauth_flow::register_public(server).await;
    let b = browser();
    let start = authorize_url(server, &agent, "notes.read", "st");
    let back =
        crate::steps::walk_journey(server, &b, &start, password, "Acme Corp", &["notes.read"])
            .await;
    let tokens = crate::journey::redeem(server, &agent, &back).await;
    (agent, tokens)
}

/// Sets the demo server's tenant-consent mode through the API.
async fn set_mode(server: &TestServer, key: &str, mode: &str) {
    let (_, mut current) = call(server, "GET", "/api/v1/mcp-servers/demo-notes", key, None).await;
    current["tenant_consent"] = json!(mode);
    let (status, body) = call(
        server,
        "PUT",
        "/api/v1/mcp-servers/demo-notes",
        key,
        Some(current),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn decide(server: &TestServer, key: &str, agent: &str, decision: &str, scopes: &[&str]) {
    let (status, body) = call(server, "PUT", "/api/v1/tenants/acme/approvals", key,
        Some(json!({ "agent": agent, "mcp_server": "demo-notes", "decision": decision, "scopes": scopes }))).await;
    assert_eq!(status, 200, "{body}");
}

/// Starts an authorization for the demo user and picks acme; returns the browser, the
/// journey and the answer to picking the tenant (a redirect, or the refusal page).
async fn in_acme(
    server: &TestServer,
    agent: &str,
    password: &str,
) -> (reqwest::Client, String, reqwest::Response) {
    let b = browser();
    let (journey, next) =
        start_journey(server, &b, agent, "notes.read notes.write", password, "").await;
    assert!(next.contains("/authorize/tenant"), "two tenants: {next}");
    let html = text(
        &b,
        &server.url(&format!("/authorize/tenant?journey={journey}")),
    )
    .await;
    let res = b
        .post(server.url("/authorize/tenant"))
        .form(&[
            ("csrf", hidden_field(&html, "csrf")),
            ("journey", journey.clone()),
            ("tenant", radio_value(&html, "Acme Corp")),
        ])
        .send()
        .await
        .expect("choose");
    (b, journey, res)
}

#[tokio::test]
async fn the_journey_honours_tenant_level_consent() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let key = full_key(&server, &password).await;
        let agent = crate::oauth_flow::register_public(&server).await;

        // Required, and nothing approved yet: the person sees why, no consent is offered.
        set_mode(&server, &key, "required").await;
        let (_, _, res) = in_acme(&server, &agent, &password).await;
        assert_eq!(res.status(), 403);
        assert!(res
            .text()
            .await
            .unwrap_or_default()
            .contains("not approved this application"));

        // Approved for notes.read: consent offers it, notes.write is unavailable.
        decide(&server, &key, &agent, "approved", &["notes.read"]).await;
        let (b, journey, res) = in_acme(&server, &agent, &password).await;
        let next = location(&server, &res);
        assert!(next.contains("/authorize/consent"), "{next}");
        let page = text(
            &b,
            &server.url(&format!("/authorize/consent?journey={journey}")),
        )
        .await;
        assert!(page.contains("Your organization has not approved this for this application."));

        // Replaces: no consent page; the code comes back with the approved scope only.
        set_mode(&server, &key, "replaces").await;
        let (_, _, res) = in_acme(&server, &agent, &password).await;
        let next = location(&server, &res);
        assert!(
            next.starts_with(crate::oauth_flow::REDIRECT),
            "straight back: {next}"
        );
        let tokens = crate::journey::redeem(&server, &agent, &next).await;
        assert_eq!(tokens["scope"], "notes.read");

        // A block holds whatever the mode.
        set_mode(&server, &key, "off").await;
        decide(&server, &key, &agent, "blocked", &[]).await;
        let (_, _, res) = in_acme(&server, &agent, &password).await;
        assert_eq!(res.status(), 403);
        assert!(res
            .text()
            .await
            .unwrap_or_default()
            .contains("blocked this application"));
        let (status, list) =
            call(&server, "GET", "/api/v1/tenants/acme/approvals", &key, None).await;
        assert_eq!(
            (status, list[0]["decision"].clone()),
            (200, json!("blocked"))
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_tenant_admin_runs_their_tenant_from_the_console() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        // The demo user administers acme only.
        crate::audit_views::make_tenant_admin(&server.store, "acme").await;
        let (b, _) = signed_in(&server, &password).await;

        let page = text(&b, &server.url("/admin/tenants")).await;
        assert!(
            page.contains("Acme Corp") && !page.contains("Globex"),
            "only their tenant"
        );
        assert!(
            !page.contains("New tenant"),
            "tenant admins do not create tenants"
        );
        let res = b
            .get(server.url("/admin/tenants/globex"))
            .send()
            .await
            .expect("get");
        assert_eq!(
            res.status(),
            404,
            "another tenant is not found, never shown"
        );

        // Invite into acme: the link is shown once; globex is refused beside the field.
        let page = text(&b, &server.url("/admin/users")).await;
        let csrf = hidden_field(&page, "csrf");
        let res = b
            .post(server.url("/admin/users"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "eve@globex.example"),
                ("tenant", "globex"),
            ])
            .send()
            .await
            .expect("invite");
        assert_eq!(res.status(), 422);
        assert!(res
            .text()
            .await
            .unwrap_or_default()
            .contains("data-field=\"tenant\""));
        let res = b
            .post(server.url("/admin/users"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "ann@acme.example"),
                ("tenant", "acme"),
                ("roles", "writer, reviewer"),
            ])
            .send()
            .await
            .expect("invite");
        assert_eq!(res.status(), 201);
        let html = res.text().await.unwrap_or_default();
        assert!(
            html.contains("data-testid=\"password-link\"")
                && html.contains("/set-password?token=mdt_pl_")
        );
        let people = text(&b, &server.url("/admin/users?q=ann")).await;
        assert!(people.contains("ann@acme.example"));
        let ann = server
            .store
            .user_by_email("ann@acme.example")
            .await
            .expect("read")
            .expect("ann");
        let person = text(&b, &server.url(&format!("/admin/users/{}", ann.id))).await;
        assert!(person.contains("writer, reviewer"), "roles shown");

        // Disable from the console.
        let res = b
            .post(server.url(&format!("/admin/users/{}/disable", ann.id)))
            .form(&[("csrf", csrf.as_str()), ("disabled", "yes")])
            .send()
            .await
            .expect("disable");
        assert_eq!(res.status(), 303);
        let ann = server
            .store
            .user_by_email("ann@acme.example")
            .await
            .expect("read")
            .expect("ann");
        assert!(ann.disabled);

        // Approve the demo agent for acme on the demo server.
        let res = b
            .post(server.url("/admin/tenants/acme/approvals"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("agent", "demo-agent"),
                ("mcp_server", "demo-notes"),
                ("decision", "approved"),
                ("scopes", "notes.read"),
            ])
            .send()
            .await
            .expect("decide");
        assert_eq!(res.status(), 303);
        let tenant = text(&b, &server.url("/admin/tenants/acme")).await;
        assert!(tenant.contains("demo-agent") && tenant.contains("approved"));
        let res = b
            .post(server.url("/admin/tenants/globex/approvals"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("agent", "demo-agent"),
                ("mcp_server", "demo-notes"),
                ("decision", "blocked"),
            ])
            .send()
            .await
            .expect("decide");
        assert_eq!(res.status(), 404, "not their tenant");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_tenant_admins_key_reaches_only_their_tenant() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        // globex-only person, and the demo user (in acme and globex) administers acme only.
        let key = {
            crate::audit_views::make_tenant_admin(&server.store, "acme").await;
            let (b, _) = signed_in(&server, &password).await;
            let (status, html) = create_key(&server, &b, "Acme automation", "full").await;
            assert_eq!(status, 201, "tenant admins make keys for their own rights");
            key_in(&html)
        };
        let globex = server
            .store
            .tenant_by_slug("globex")
            .await
            .expect("read")
            .expect("globex");
        let outsider = mandate_core::model::User {
            id: mandate_core::ids::UserId::generate(),
            email: "gus@globex.example".into(),
            display_name: "Gus".into(),
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

        let (status, page) = call(&server, "GET", "/api/v1/users", &key, None).await;
        assert_eq!(status, 200);
        let emails: Vec<&str> = page["users"]
            .as_array()
            .expect("users")
            .iter()
            .filter_map(|u| u["email"].as_str())
            .collect();
        assert!(emails.contains(&"demo@example.com") && !emails.contains(&"gus@globex.example"));
        for (method, path, body) in [
            ("GET", "/api/v1/users/gus@globex.example".to_owned(), None),
            (
                "PATCH",
                "/api/v1/users/gus@globex.example".to_owned(),
                Some(json!({ "disabled": true })),
            ),
            ("GET", "/api/v1/tenants/globex".to_owned(), None),
            (
                "PUT",
                "/api/v1/tenants/globex".to_owned(),
                Some(json!({ "name": "Mine now" })),
            ),
            ("GET", "/api/v1/tenants/globex/approvals".to_owned(), None),
            (
                "PUT",
                "/api/v1/tenants/globex/approvals".to_owned(),
                Some(
                    json!({ "agent": "demo-agent", "mcp_server": "demo-notes", "decision": "blocked" }),
                ),
            ),
        ] {
            let (status, body) = call(&server, method, &path, &key, body).await;
            assert_eq!(
                status, 404,
                "{method} {path}: another tenant is not found: {body}"
            );
        }
        // Inviting into another tenant is a field error; the demo user belongs elsewhere too.
        let (status, body) = call(
            &server,
            "POST",
            "/api/v1/users",
            &key,
            Some(json!({ "email": "new@globex.example", "tenant": "globex" })),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["error"]["fields"]["tenant"].is_string());
        let (status, _) = call(
            &server,
            "PATCH",
            "/api/v1/users/demo@example.com",
            &key,
            Some(json!({ "disabled": true })),
        )
        .await;
        assert_eq!(status, 403);
        // Project-wide things are refused.
        for (method, path) in [
            ("GET", "/api/v1/mcp-servers"),
            ("GET", "/api/v1/agents"),
            ("GET", "/api/v1/policies"),
            ("POST", "/api/v1/tenants"),
        ] {
            let body = (method == "POST").then(|| json!({ "slug": "x", "name": "X" }));
            let (status, body) = call(&server, method, path, &key, body).await;
            assert_eq!(status, 403, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
        // Their own tenant works.
        let (status, _) = call(&server, "GET", "/api/v1/tenants/acme/approvals", &key, None).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &server,
            "PUT",
            "/api/v1/tenants/acme",
            &key,
            Some(json!({ "name": "Acme Corporation" })),
        )
        .await;
        assert_eq!(status, 200);
        server.stop().await;
    }
}
