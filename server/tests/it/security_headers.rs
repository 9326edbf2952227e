use crate::audit_views::{make_project_admin, signed_in};
use crate::oauth_flow::demo_server;
use crate::support::{client, TestServer};
use mandate_core::testing::sqlite;

fn assert_common_headers(res: &reqwest::Response, path: &str) {
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no CSP"))
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    assert_eq!(h["x-frame-options"], "DENY", "{path}");
    assert!(h.get("x-request-id").is_some(), "{path}: request id");
    assert!(
        h.get("strict-transport-security").is_none(),
        "{path}: no HSTS on http"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let db = sqlite();
    let server = TestServer::start(&db).await;
    for (path, status) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/", 200),
        ("/no/such/page", 404),
    ] {
        let res = client()
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), status, "{path}");
        assert_common_headers(&res, path);
    }
    server.stop().await;
}

/// The nonce of a page's CSP, after checking that every script of its HTML carries it.
async fn page_nonce(res: reqwest::Response, path: &str) -> String {
    let csp = res
        .headers()
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no CSP"))
        .to_str()
        .expect("ascii")
        .to_owned();
    let html = res.text().await.expect("body");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("{path}: no nonce in the CSP: {csp}"))
        .to_owned();
    assert!(nonce.len() >= 16, "nonce has entropy: {nonce}");
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1, "{path}: the page has its hydration script");
    assert_eq!(
        html.matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
            .count()
            + html.matches(&format!("<script nonce=\"{nonce}\"")).count(),
        scripts,
        "{path}: every script carries the CSP's nonce"
    );
    nonce
}

#[tokio::test]
async fn pages_allow_only_the_scripts_that_carry_this_responses_nonce() {
    let db = sqlite();
    let server = TestServer::start(&db).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = client().get(server.url("/")).send().await.expect("request");
        nonces.push(page_nonce(res, "/").await);
    }
    assert_ne!(nonces[0], nonces[1], "a fresh nonce per response");
    server.stop().await;
}

/// Console pages rendered at once, some of them abandoned by the browser mid-render (a
/// navigation cancels the page's requests), each still answer with the CSP of their own nonce.
#[tokio::test]
async fn console_pages_rendered_together_each_carry_their_own_nonce_csp() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    make_project_admin(&server.store).await;
    let (b, _) = signed_in(&server, &password).await;
    let paths = ["/admin", "/admin/audit", "/admin/agents", "/account", "/"];
    let mut abandoned = Vec::new();
    let mut rendered = Vec::new();
    for round in 0..8 {
        for path in paths {
            let request = b.get(server.url(path)).send();
            if round % 2 == 0 {
                abandoned.push(tokio::spawn(request));
            } else {
                rendered.push(tokio::spawn(async move {
                    page_nonce(request.await.expect("page"), path).await
                }));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        for task in abandoned.drain(..) {
            task.abort();
        }
    }
    let mut nonces = std::collections::HashSet::new();
    for task in rendered {
        assert!(nonces.insert(task.await.expect("render")), "nonces repeat");
    }
    assert_eq!(nonces.len(), 4 * paths.len());
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_generated_or_propagated() {
    let db = sqlite();
    let server = TestServer::start(&db).await;
    let res = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    let generated = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let (prefix, counter) = generated.split_once('-').expect("prefix-counter");
    assert_eq!(prefix.len(), 8, "{generated}");
    assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()), "{generated}");
    assert!(
        counter.len() == 12 && counter.bytes().all(|b| b.is_ascii_digit()),
        "{generated}"
    );
    let again = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_ne!(
        again.headers()["x-request-id"].to_str().expect("ascii"),
        generated,
        "unique per request"
    );
    let res = client()
        .get(server.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    server.stop().await;
}
