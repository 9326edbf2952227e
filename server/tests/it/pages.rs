use crate::support::{client, TestServer};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::seed::seed_demo;
use mandate_core::testing::each_backend;

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_the_directory() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        seed_demo(
            &server.store,
            &PasswordHasherPool::new(1),
            "http://localhost:4000/mcp",
            1,
        )
        .await
        .expect("seed");
        let res = client().get(server.url("/")).send().await.expect("request");
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html"));
        let html = res.text().await.expect("body");
        assert!(html.contains("<h1>Mandate</h1>"));
        assert!(
            html.contains("Demo Notes"),
            "the seeded MCP server is listed"
        );
        assert!(html.contains("/s/demo-notes"), "with its issuer");
        assert!(html.contains("notes.write"), "and its scopes");
        assert!(html.contains("/pkg/mandate.js"), "and the hydration script");
        server.stop().await;
    }
}

#[tokio::test]
async fn unknown_pages_render_a_readable_404() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        let res = client()
            .get(server.url("/nowhere"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 404);
        let html = res.text().await.expect("body");
        assert!(html.contains("This page does not exist"));
        server.stop().await;
    }
}

/// The end-user pages are the Leptos app's routes: rendered complete on the server (they work
/// without JavaScript), hydrated in the browser, never cached.
#[tokio::test]
async fn journey_and_account_pages_are_hydrated_leptos_pages_that_are_never_cached() {
    let db = mandate_core::testing::sqlite();
    let server = TestServer::start(&db).await;
    let b = crate::support::browser();
    for path in ["/sign-in", "/sign-in?journey=abc"] {
        let res = b.get(server.url(path)).send().await.expect("request");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.contains("'nonce-"), "{path}: the page CSP: {csp}");
        let html = res.text().await.expect("body");
        assert!(html.contains("/pkg/mandate.js"), "{path}: hydration script");
        assert!(html.contains("<title>Sign in · Mandate</title>"), "{path}");
        assert!(
            html.contains("name=\"password\""),
            "{path}: the form is in the HTML"
        );
    }
    let html = crate::steps::text(&b, &server.url("/sign-in?journey=abc")).await;
    assert!(
        html.contains("action=\"/sign-in?journey=abc\""),
        "the form posts back with its journey"
    );
    // Signed out, the account and second-factor pages send the person to sign in (a plain
    // 302 on a page load, before any HTML).
    for (path, to) in [
        ("/account", "/sign-in"),
        ("/account?journey=j1", "/sign-in?journey=j1"),
        ("/sign-in/verify?journey=j1", "/sign-in?journey=j1"),
    ] {
        let res = b.get(server.url(path)).send().await.expect("request");
        assert_eq!(res.status(), 302, "{path}");
        assert_eq!(res.headers()["location"], to, "{path}");
    }
    // A consent page for a journey this session does not hold: a readable error page.
    let res = b
        .get(server.url("/authorize/consent?journey=forged"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("body");
    assert!(html.contains("This request cannot continue"));
    assert!(html.contains("not the one in progress"));
    server.stop().await;
}

/// A form's answer (a wrong password) renders the same Leptos page at the same address, with
/// the error, the email typed and the journey kept, and the answer's status.
#[tokio::test]
async fn a_wrong_password_renders_the_sign_in_page_again_with_the_error() {
    let db = mandate_core::testing::sqlite();
    let (server, _) = crate::oauth_flow::demo_server(&db).await;
    let b = crate::support::browser();
    let html = crate::steps::text(&b, &server.url("/sign-in?journey=j1")).await;
    let csrf = crate::support::hidden_field(&html, "csrf");
    let res = b
        .post(server.url("/sign-in?journey=j1"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("journey", "j1"),
            ("email", "demo@example.com"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 401);
    let html = res.text().await.expect("body");
    assert!(html.contains("The email or password is not correct."));
    assert!(
        html.contains("value=\"demo@example.com\""),
        "the email is kept"
    );
    assert!(
        html.contains("name=\"journey\" value=\"j1\""),
        "and the journey"
    );
    assert!(html.contains("/pkg/mandate.js"), "the answer hydrates too");
    server.stop().await;
}

/// A journey page opened while the journey waits on another (a bookmark, the back button)
/// sends the person to the step that is actually next.
#[tokio::test]
async fn a_journey_page_out_of_step_redirects_to_the_step_that_is_next() {
    let db = mandate_core::testing::sqlite();
    let (server, password) = crate::oauth_flow::demo_server(&db).await;
    let client_id = crate::oauth_flow::register_public(&server).await;
    let b = crate::support::browser();
    let (journey, next) = crate::steps::start_journey(
        &server,
        &b,
        &client_id,
        "notes.read",
        &password,
        "&tenant=acme",
    )
    .await;
    assert!(next.contains("/authorize/consent"), "{next}");
    let res = b
        .get(server.url(&format!("/authorize/tenant?journey={journey}")))
        .send()
        .await
        .expect("tenant page");
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"],
        format!("/authorize/consent?journey={journey}").as_str()
    );
    let res = b
        .get(server.url(&format!("/authorize/consent?journey={journey}")))
        .send()
        .await
        .expect("consent page");
    assert_eq!(res.status(), 200, "the step that is next shows");
    server.stop().await;
}

/// A form posted with fields missing (not something the pages send) gets a readable page.
#[tokio::test]
async fn an_unreadable_form_post_gets_a_readable_error_page() {
    let db = mandate_core::testing::sqlite();
    let server = TestServer::start(&db).await;
    let b = crate::support::browser();
    for path in [
        "/sign-in",
        "/sign-in/verify",
        "/sign-in/new-password",
        "/authorize/tenant",
        "/account/totp/start",
    ] {
        let res = b
            .post(server.url(path))
            .form(&[("unexpected", "x")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html"));
        let html = res.text().await.expect("body");
        assert!(html.contains("This form cannot be read"), "{path}: {html}");
    }
    server.stop().await;
}

/// Starting another server in the same process never stalls the pages a running server is
/// rendering (the Leptos route walk once parked every resource load process-wide while it ran).
#[tokio::test]
async fn pages_keep_rendering_while_other_servers_start() {
    let db = mandate_core::testing::sqlite();
    let server = TestServer::start(&db).await;
    let starting = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for _ in 0..8 {
                let db = mandate_core::testing::sqlite();
                TestServer::start(&db).await.stop().await;
            }
        });
    });
    let b = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client");
    let mut rendered = 0;
    while !starting.is_finished() || rendered < 20 {
        let res = b
            .get(server.url("/sign-in"))
            .send()
            .await
            .expect("the page answers while another server starts");
        assert_eq!(res.status(), 200);
        assert!(res
            .text()
            .await
            .expect("body")
            .contains("name=\"password\""));
        rendered += 1;
    }
    starting.join().expect("the other servers started");
    server.stop().await;
}
