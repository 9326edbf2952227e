//! Tenant single sign-on over real HTTP, without a provider (the browser test runs the whole
//! flow against oidc-provider): the admin API's validation and secrecy, one domain per
//! provider, the sign-in form sending an enforced domain to its provider (and saying so when
//! the provider cannot be reached), and authorizations of such people not reusing a Mandate
//! session.

use mandate_core::testing::{each_backend, sqlite};
use serde_json::{json, Value};

use crate::admin_api::{create_key, key_in};
use crate::audit_views::{make_project_admin, signed_in};
use crate::oauth_flow::{authorize_url, demo_server, register_public};
use crate::steps::{post_sign_in, EMAIL};
use crate::support::{browser, client, location, TestServer};

async fn admin_key(server: &TestServer, password: &str) -> String {
    make_project_admin(&server.store).await;
    let (console, _) = signed_in(server, password).await;
    let (_, page) = create_key(server, &console, "SSO", "full").await;
    key_in(&page)
}

async fn put_sso(server: &TestServer, key: &str, tenant: &str, body: Value) -> reqwest::Response {
    client()
        .put(server.url(&format!("/api/v1/tenants/{tenant}/sso")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("put")
}

fn settings(domain: &str) -> Value {
    json!({
        "issuer_url": "https://login.unreachable.invalid",
        "client_id": "mandate",
        "client_secret": "provider-issued-secret-0123",
        "email_domains": domain,
        "enforce": true,
        "role_mapping": "finance = approver"
    })
}

#[tokio::test]
async fn admins_set_a_tenants_provider_over_the_api_and_its_secret_never_comes_back() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let key = admin_key(&server, &password).await;

        let mut missing = settings("acme.example");
        missing["client_secret"] = json!("");
        missing["issuer_url"] = json!("http://login.acme.example");
        let res = put_sso(&server, &key, "acme", missing).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.expect("json");
        assert!(
            body["error"]["fields"]["client_secret"].is_string(),
            "{body}"
        );
        assert!(body["error"]["fields"]["issuer_url"].is_string(), "{body}");

        let res = put_sso(&server, &key, "acme", settings("acme.example")).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["sso"]["email_domains"], json!(["acme.example"]));
        assert_eq!(body["sso"]["role_mapping"]["finance"], json!(["approver"]));
        assert_eq!(body["redirect_uri"], server.url("/sign-in/sso/callback"));
        let read = client()
            .get(server.url("/api/v1/tenants/acme/sso"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        assert!(!read.contains("provider-issued-secret"), "{read}");
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT secret_sealed FROM tenant_sso")
            .fetch_one(server.store.pool())
            .await
            .expect("sealed");
        assert!(!String::from_utf8_lossy(&sealed).contains("provider-issued-secret"));

        // One domain, one provider.
        let res = put_sso(&server, &key, "globex", settings("acme.example")).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.expect("json");
        assert!(
            body["error"]["fields"]["email_domains"].is_string(),
            "{body}"
        );

        // An empty secret on a change keeps the stored one.
        let mut change = settings("acme.example");
        change["client_secret"] = json!("");
        change["enforce"] = json!(false);
        assert_eq!(put_sso(&server, &key, "acme", change).await.status(), 200);

        let path = server.url("/api/v1/tenants/acme/sso");
        let delete = || client().delete(&path).bearer_auth(&key).send();
        assert_eq!(delete().await.expect("delete").status(), 204);
        assert_eq!(delete().await.expect("delete").status(), 404);
        server.stop().await;
    }
}

#[tokio::test]
async fn an_enforced_domain_signs_in_only_through_its_provider() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    let key = admin_key(&server, &password).await;
    // The demo user signed in with a password before SSO: that session is not reused for an
    // authorization once their domain enforces SSO.
    let b = browser();
    let client_id = register_public(&server).await;
    crate::steps::sign_in(&server, &b, None, &password).await;
    assert_eq!(
        put_sso(&server, &key, "acme", settings("example.com"))
            .await
            .status(),
        200,
        "the demo user's own domain"
    );
    let res = b
        .get(authorize_url(&server, &client_id, "notes.read", "s"))
        .send()
        .await
        .expect("authorize");
    let to = location(&server, &res);
    assert!(to.contains("/sign-in?journey="), "signs in again: {to}");

    // The right password does not sign in: the provider must (and here it cannot be reached).
    // Project admins keep their password (break glass), so this one is one no longer.
    sqlx::query("UPDATE users SET is_project_admin = 0")
        .execute(server.store.pool())
        .await
        .expect("demote");
    let b = browser();
    let res = post_sign_in(
        &server,
        &b,
        None,
        &[("email", EMAIL), ("password", &password)],
    )
    .await;
    assert_eq!(res.status(), 502);
    let page = res.text().await.expect("html");
    assert!(
        page.contains("Single sign-on is not working right now"),
        "{page}"
    );
    let account = b.get(server.url("/account")).send().await.expect("account");
    assert!(
        location(&server, &account).ends_with("/sign-in"),
        "not signed in"
    );
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_events WHERE event_type = 'user.sign_in_failed' ORDER BY seq",
    )
    .fetch_all(server.store.pool())
    .await
    .expect("audit");
    assert!(
        reasons
            .iter()
            .any(|d| d.contains("\"method\":\"sso\"") && d.contains("could not be reached")),
        "{reasons:?}"
    );

    // An answer nobody asked for is refused.
    let res = b
        .get(server.url("/sign-in/sso/callback?code=x&state=forged"))
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains("This sign-in has expired"));

    // A project admin of that domain still signs in with their password.
    make_project_admin(&server.store).await;
    let res = post_sign_in(
        &server,
        &b,
        None,
        &[("email", EMAIL), ("password", &password)],
    )
    .await;
    assert_eq!(res.status(), 303, "break glass");
    assert!(!location(&server, &res).contains("/sign-in"));

    // "Continue with single sign-on" for a domain without it says so.
    let b = browser();
    sqlx::query("DELETE FROM tenant_sso")
        .execute(server.store.pool())
        .await
        .expect("remove");
    let res = post_sign_in(&server, &b, None, &[("email", EMAIL), ("sso", "1")]).await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains("No single sign-on is set up for this email"));
    server.stop().await;
}
