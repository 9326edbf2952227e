//! What a person does in the browser during an authorization, one step each, for the tests
//! that walk the journey over HTTP.

use crate::oauth_flow::authorize_url;
use crate::support::{hidden_field, location, query_of, radio_value, TestServer};

pub const EMAIL: &str = "demo@example.com";

pub async fn text(b: &reqwest::Client, url: &str) -> String {
    b.get(url)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html")
}

/// Signs in on `/sign-in` (optionally within `journey`); returns the redirect.
pub async fn sign_in(
    server: &TestServer,
    b: &reqwest::Client,
    journey: Option<&str>,
    password: &str,
) -> String {
    let mut fields = vec![("email", EMAIL), ("password", password)];
    fields.extend(journey.map(|j| ("journey", j)));
    let res = post_sign_in(server, b, journey, &fields).await;
    assert_eq!(res.status(), 303, "password accepted");
    location(server, &res)
}

/// Sends the sign-in form of `/sign-in` (within `journey`) with `fields` and the page's CSRF
/// token; returns the answer.
pub async fn post_sign_in(
    server: &TestServer,
    b: &reqwest::Client,
    journey: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let url = match journey {
        Some(j) => server.url(&format!("/sign-in?journey={j}")),
        None => server.url("/sign-in"),
    };
    let html = text(b, &url).await;
    let mut form = vec![("csrf".to_owned(), hidden_field(&html, "csrf"))];
    form.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    b.post(server.url("/sign-in"))
        .form(&form)
        .send()
        .await
        .expect("sign in")
}

/// Follows `start` (an authorize URL) and, when it leads to sign-in, signs in; returns the
/// journey id and where the journey went next.
pub async fn begin(
    server: &TestServer,
    b: &reqwest::Client,
    start: &str,
    password: &str,
) -> (String, String) {
    let res = b.get(start).send().await.expect("authorize");
    let to = location(server, &res);
    if !to.contains("/sign-in?journey=") {
        let journey = query_of(&to).get("journey").cloned().unwrap_or_default();
        return (journey, to);
    }
    let journey = query_of(&to)["journey"].clone();
    let next = sign_in(server, b, Some(&journey), password).await;
    (journey, next)
}

/// Starts an authorization of `scope` (plus `extra` query parameters) and signs in; returns
/// the journey id and where the journey went next.
pub async fn start_journey(
    server: &TestServer,
    b: &reqwest::Client,
    client_id: &str,
    scope: &str,
    password: &str,
    extra: &str,
) -> (String, String) {
    let start = format!("{}{extra}", authorize_url(server, client_id, scope, "st"));
    begin(server, b, &start, password).await
}

pub async fn choose(
    server: &TestServer,
    b: &reqwest::Client,
    journey: &str,
    tenant: &str,
) -> String {
    let html = text(
        b,
        &server.url(&format!("/authorize/tenant?journey={journey}")),
    )
    .await;
    let res = b
        .post(server.url("/authorize/tenant"))
        .form(&[
            ("csrf", hidden_field(&html, "csrf")),
            ("journey", journey.to_owned()),
            ("tenant", radio_value(&html, tenant)),
        ])
        .send()
        .await
        .expect("choose");
    location(server, &res)
}

/// Answers the consent page with "Allow" and the scopes in `keep`.
pub async fn consent(
    server: &TestServer,
    b: &reqwest::Client,
    journey: &str,
    keep: &[&str],
    remember: bool,
) -> reqwest::Response {
    let html = text(
        b,
        &server.url(&format!("/authorize/consent?journey={journey}")),
    )
    .await;
    assert!(
        html.contains("<h1>Allow "),
        "the consent page names the agent"
    );
    let mut form = vec![
        ("csrf".to_owned(), hidden_field(&html, "csrf")),
        ("journey".to_owned(), journey.to_owned()),
        ("decision".to_owned(), "allow".to_owned()),
    ];
    if remember {
        form.push(("remember".to_owned(), "1".to_owned()));
    }
    form.extend(keep.iter().map(|s| ("scope".to_owned(), (*s).to_owned())));
    b.post(server.url("/authorize/consent"))
        .form(&form)
        .send()
        .await
        .expect("consent")
}

/// Walks the journey as a person would; `tenant_name` picks the organization, `keep` the
/// scopes left toggled on. Returns the final redirect to the client.
pub async fn walk_journey(
    server: &TestServer,
    browser: &reqwest::Client,
    start: &str,
    password: &str,
    tenant_name: &str,
    keep: &[&str],
) -> String {
    let res = browser.get(start).send().await.expect("authorize");
    assert_eq!(res.status(), 303, "authorize redirects to sign-in");
    let to = location(server, &res);
    assert!(to.contains("/sign-in?journey="), "{to}");
    let journey = query_of(&to)["journey"].clone();
    let next = sign_in(server, browser, Some(&journey), password).await;
    assert!(
        next.contains("/authorize/tenant"),
        "two tenants: choose one ({next})"
    );
    let next = choose(server, browser, &journey, tenant_name).await;
    assert!(next.contains("/authorize/consent"), "{next}");
    let res = consent(server, browser, &journey, keep, false).await;
    assert_eq!(res.status(), 303);
    location(server, &res)
}
