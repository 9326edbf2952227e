//! The end-user journey over real HTTP: second factors (TOTP, recovery codes), step-up with
//! enrolment, remembered consent, policies on the consent page, connected agents, sign-out.

use crate::oauth_flow::{
    authorize_url, claims, demo_server, register_public, REDIRECT, RESOURCE, VERIFIER,
};
use crate::steps::{choose, consent, sign_in, start_journey, text, EMAIL};
use crate::support::{browser, client, hidden_field, location, query_of, TestServer};
use mandate_core::policy::{Allow, Condition, Operator, Policy};
use mandate_core::testing::{each_backend, sqlite};
use serde_json::Value;

/// The base32 key shown on the account page, decoded.
fn secret_from_page(html: &str) -> Vec<u8> {
    let element = html
        .find("data-testid=\"totp-key\"")
        .expect("manual key shown");
    let start = html[element..].find('>').expect("tag end") + element + 1;
    let end = html[start..].find('<').expect("end") + start;
    let key: String = html[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let secret = totp_rs::Secret::try_from_base32(key).expect("base32");
    secret.as_ref().to_vec()
}

fn code(secret: &[u8], steps_ahead: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    mandate_core::identity::totp::code_at(secret, now + 30 * steps_ahead).expect("code")
}

/// Starts and confirms TOTP on the account page of a signed-in browser; returns the secret,
/// the confirmation response's HTML (with the recovery codes).
async fn enrol_totp(
    server: &TestServer,
    b: &reqwest::Client,
    journey: Option<&str>,
) -> (Vec<u8>, String) {
    let account = match journey {
        Some(j) => server.url(&format!("/account?journey={j}")),
        None => server.url("/account"),
    };
    let html = text(b, &account).await;
    let csrf = hidden_field(&html, "csrf");
    let mut form = vec![("csrf", csrf.clone())];
    if let Some(j) = journey {
        form.push(("journey", j.to_owned()));
    }
    let res = b
        .post(server.url("/account/totp/start"))
        .form(&form)
        .send()
        .await
        .expect("start");
    assert_eq!(
        res.status(),
        303,
        "set-up started, back to the account page"
    );
    let html = text(b, &location(server, &res)).await;
    assert!(
        html.contains("<svg role=\"img\" aria-label=\"QR code"),
        "QR code drawn inline"
    );
    let secret = secret_from_page(&html);

    let mut wrong = form.clone();
    wrong.push(("code", "000000".to_owned()));
    let res = b
        .post(server.url("/account/totp/confirm"))
        .form(&wrong)
        .send()
        .await
        .expect("confirm");
    assert_eq!(
        res.status(),
        400,
        "a wrong first code does not turn TOTP on"
    );

    form.push(("code", code(&secret, 0)));
    let res = b
        .post(server.url("/account/totp/confirm"))
        .form(&form)
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    assert!(
        html.contains("data-testid=\"recovery-codes\""),
        "recovery codes shown once"
    );
    (secret, html)
}

fn recovery_codes(html: &str) -> Vec<String> {
    let start = html.find("data-testid=\"recovery-codes\"").expect("codes");
    let list = &html[start..html[start..].find("</ul>").expect("end") + start];
    list.split("<code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").expect("code end")].to_owned())
        .collect()
}

async fn verify(
    server: &TestServer,
    b: &reqwest::Client,
    journey: Option<&str>,
    method: &str,
    code: &str,
) -> reqwest::Response {
    let url = match journey {
        Some(j) => server.url(&format!("/sign-in/verify?journey={j}")),
        None => server.url("/sign-in/verify"),
    };
    let html = text(b, &url).await;
    let mut form = vec![
        ("csrf", hidden_field(&html, "csrf")),
        ("method", method.to_owned()),
        ("code", code.to_owned()),
    ];
    if let Some(j) = journey {
        form.push(("journey", j.to_owned()));
    }
    b.post(server.url("/sign-in/verify"))
        .form(&form)
        .send()
        .await
        .expect("verify")
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_asks_for_a_code_that_works_once() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let first = browser();
        assert!(sign_in(&server, &first, None, &password)
            .await
            .ends_with("/account"));
        let stale = browser();
        sign_in(&server, &stale, None, &password).await;
        let (secret, html) = enrol_totp(&server, &first, None).await;
        let codes = recovery_codes(&html);
        assert_eq!(codes.len(), 10);

        // A new session: the password alone is not enough any more.
        let second = browser();
        let next = sign_in(&server, &second, None, &password).await;
        assert!(next.ends_with("/sign-in/verify"), "{next}");
        let res = second
            .get(server.url("/account"))
            .send()
            .await
            .expect("account");
        assert_eq!(res.status(), 302, "not signed in before the second factor");
        let fresh = code(&secret, 1);
        let res = verify(&server, &second, None, "totp", &fresh).await;
        assert_eq!(res.status(), 303);
        assert!(location(&server, &res).ends_with("/account"));
        let account = text(&second, &server.url("/account")).await;
        assert!(account.contains("Signed in as <strong>demo@example.com</strong>"));

        // The same code on another session is refused (RFC 6238 §5.2).
        let third = browser();
        sign_in(&server, &third, None, &password).await;
        let res = verify(&server, &third, None, "totp", &fresh).await;
        assert_eq!(res.status(), 401);
        assert!(res.text().await.expect("html").contains("already used"));

        // A recovery code works once.
        let res = verify(&server, &third, None, "recovery", &codes[0].to_lowercase()).await;
        assert_eq!(res.status(), 303, "{:?}", db.backend);
        let fourth = browser();
        sign_in(&server, &fourth, None, &password).await;
        let res = verify(&server, &fourth, None, "recovery", &codes[0]).await;
        assert_eq!(res.status(), 401, "recovery codes are single-use");

        // Removing the authenticator needs a recent second factor on this session.
        let page = text(&stale, &server.url("/account")).await;
        let remove = |b: &reqwest::Client, csrf: String| {
            b.post(server.url("/account/totp/remove"))
                .form(&[("csrf", csrf)])
                .send()
        };
        let res = remove(&stale, hidden_field(&page, "csrf"))
            .await
            .expect("remove");
        assert_eq!(res.status(), 403, "a session without a fresh second factor");
        let page = text(&first, &server.url("/account")).await;
        let res = remove(&first, hidden_field(&page, "csrf"))
            .await
            .expect("remove");
        assert_eq!(res.status(), 303);
        let page = text(&first, &server.url("/account")).await;
        assert!(page.contains("Set up authenticator app"));
        server.stop().await;
    }
}

pub async fn redeem(server: &TestServer, client_id: &str, back: &str) -> Value {
    let q = query_of(back);
    let res = client()
        .post(server.url("/s/demo-notes/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// The public client `client_id`'s `refresh_token` is refused as `invalid_grant`.
pub async fn assert_refresh_refused(server: &TestServer, client_id: &str, refresh_token: &str) {
    let res = client()
        .post(server.url("/s/demo-notes/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_sensitive_scope_leads_to_enrolment_then_consent_and_the_token_says_aal2() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let b = browser();
        let (journey, next) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read notes.write",
            &password,
            "",
        )
        .await;
        assert!(next.contains("/authorize/tenant"), "{next}");
        let next = choose(&server, &b, &journey, "Acme Corp").await;
        assert!(
            next.contains("/account?journey="),
            "no second factor yet: enrol one ({next})"
        );

        let (_, html) = enrol_totp(&server, &b, Some(&journey)).await;
        assert!(html.contains("Continue to the application"));
        let res = b
            .post(server.url("/account/continue"))
            .form(&[
                ("csrf", hidden_field(&html, "csrf")),
                ("journey", journey.clone()),
            ])
            .send()
            .await
            .expect("continue");
        let next = location(&server, &res);
        assert!(next.contains("/authorize/consent"), "{next}");
        let res = consent(&server, &b, &journey, &["notes.read", "notes.write"], false).await;
        let back = location(&server, &res);
        assert!(back.starts_with(REDIRECT), "{back}");
        let tokens = redeem(&server, &client_id, &back).await;
        let c = claims(tokens["access_token"].as_str().expect("jwt"));
        assert_eq!(c["scope"], "notes.read notes.write");
        assert_eq!(c["acr"], "aal2");
        let amr: Vec<&str> = c["amr"]
            .as_array()
            .expect("amr")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(amr, ["pwd", "otp", "mfa"]);
        assert!(c["auth_time"].as_i64().is_some());
        server.stop().await;
    }
}

#[tokio::test]
async fn a_user_with_a_second_factor_steps_up_for_a_sensitive_scope() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let setup = browser();
    sign_in(&server, &setup, None, &password).await;
    let (secret, _) = enrol_totp(&server, &setup, None).await;

    // Signed in earlier with password + TOTP, long enough ago? The window is 5 minutes, so
    // a fresh sign-in counts; a session without a second factor must step up.
    let b = browser();
    let (journey, next) = start_journey(
        &server,
        &b,
        &client_id,
        "notes.write",
        &password,
        "&tenant=acme",
    )
    .await;
    assert!(
        next.contains("/sign-in/verify"),
        "second factor at sign-in: {next}"
    );
    let res = verify(&server, &b, Some(&journey), "totp", &code(&secret, 1)).await;
    let next = location(&server, &res);
    assert!(
        next.contains("/authorize/consent"),
        "tenant hinted, MFA fresh: {next}"
    );
    let res = consent(&server, &b, &journey, &["notes.write"], false).await;
    let back = location(&server, &res);
    let c = claims(
        redeem(&server, &client_id, &back).await["access_token"]
            .as_str()
            .expect("jwt"),
    );
    assert_eq!(c["acr"], "aal2");
    assert_eq!(c["tenant"].as_str().map(str::len), Some(36));
    server.stop().await;
}

#[tokio::test]
async fn a_remembered_consent_skips_the_screen_and_new_scopes_are_marked_new() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let b = browser();
        let (journey, next) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read",
            &password,
            "&tenant=globex",
        )
        .await;
        assert!(next.contains("/authorize/consent"), "{next}");
        let res = consent(&server, &b, &journey, &["notes.read"], true).await;
        assert!(location(&server, &res).starts_with(REDIRECT));

        // Same or fewer scopes: straight back to the client with a code.
        let res = b
            .get(format!(
                "{}&tenant=globex",
                authorize_url(&server, &client_id, "notes.read", "again")
            ))
            .send()
            .await
            .expect("authorize");
        let back = location(&server, &res);
        assert!(
            back.starts_with(REDIRECT) && back.contains("code="),
            "{back}"
        );
        assert_eq!(query_of(&back)["state"], "again");

        // More scopes: the screen again, the new one marked.
        let res = b
            .get(format!(
                "{}&tenant=globex",
                authorize_url(&server, &client_id, "notes.read notes.share", "more")
            ))
            .send()
            .await
            .expect("authorize");
        let next = location(&server, &res);
        assert!(next.contains("/authorize/consent"), "{next}");
        let html = text(&b, &next).await;
        let share = html.find("<code>notes.share</code>").expect("share row");
        let read = html.find("<code>notes.read</code>").expect("read row");
        assert!(html[share..]
            .split("</li>")
            .next()
            .unwrap_or_default()
            .contains("badge new"));
        assert!(!html[read..]
            .split("</li>")
            .next()
            .unwrap_or_default()
            .contains("badge new"));
        server.stop().await;
    }
}

#[tokio::test]
async fn policies_show_scopes_as_unavailable_and_refuse_forged_approvals() {
    for db in each_backend().await {
        let (server, password) = demo_server(&db).await;
        let demo = server
            .store
            .mcp_server_by_slug("demo-notes")
            .await
            .expect("get")
            .expect("server");
        let allow = |scopes: &[&str]| {
            vec![Allow {
                mcp_server_id: demo.id.to_string(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            }]
        };
        server
            .store
            .insert_policy(
                &Policy {
                    id: "everyone-reads".into(),
                    name: "Everyone reads".into(),
                    description: String::new(),
                    conditions: vec![],
                    allows: allow(&["notes.read"]),
                },
                1,
            )
            .await
            .expect("policy");
        server
            .store
            .insert_policy(
                &Policy {
                    id: "engineers-share".into(),
                    name: "Engineers share".into(),
                    description: String::new(),
                    conditions: vec![Condition {
                        key: "user.roles".into(),
                        operator: Operator::Contains,
                        values: vec!["engineer".into()],
                    }],
                    allows: allow(&["notes.share"]),
                },
                2,
            )
            .await
            .expect("policy");
        let client_id = register_public(&server).await;
        let b = browser();
        // Globex: the demo user is a viewer there, so sharing is not allowed.
        let (journey, next) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read notes.share",
            &password,
            "&tenant=globex",
        )
        .await;
        assert!(next.contains("/authorize/consent"), "{next}");
        let html = text(&b, &next).await;
        let share = &html[html.find("<code>notes.share</code>").expect("row")..];
        let row = share.split("</li>").next().unwrap_or_default();
        assert!(
            row.contains("unavailable") && row.contains("No policy"),
            "{row}"
        );
        let res = consent(&server, &b, &journey, &["notes.read", "notes.share"], false).await;
        assert_eq!(res.status(), 400, "a denied scope cannot be approved");
        let res = consent(&server, &b, &journey, &["notes.read"], false).await;
        let back = location(&server, &res);
        let c = claims(
            redeem(&server, &client_id, &back).await["access_token"]
                .as_str()
                .expect("jwt"),
        );
        assert_eq!(c["scope"], "notes.read");
        let policies: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT policies FROM audit_events WHERE event_type = 'policy.evaluated'",
        )
        .fetch_all(server.store.pool())
        .await
        .expect("audit");
        assert_eq!(policies, [Some("everyone-reads".to_owned())]);

        // Acme: an engineer may share.
        let b = browser();
        let (_, next) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read notes.share",
            &password,
            "&tenant=acme",
        )
        .await;
        let html = text(&b, &next).await;
        assert!(
            !html.contains("class=\"scope unavailable\""),
            "{:?}",
            db.backend
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn revoking_a_connected_agent_stops_its_refresh_token_at_once() {
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
        let res = consent(&server, &b, &journey, &["notes.read"], true).await;
        let tokens = redeem(&server, &client_id, &location(&server, &res)).await;
        let refresh = tokens["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned();

        let html = text(&b, &server.url("/account")).await;
        assert!(html.contains("data-testid=\"connected-agents\""));
        assert!(
            html.contains("<strong>Test Agent</strong> on Demo Notes in Acme"),
            "{html}"
        );
        let res = b
            .post(server.url("/account/agents/revoke"))
            .form(&[
                ("csrf", hidden_field(&html, "csrf")),
                ("grant", hidden_field(&html, "grant")),
            ])
            .send()
            .await
            .expect("revoke");
        assert_eq!(res.status(), 303);
        let html = text(&b, &server.url("/account")).await;
        assert!(html.contains("No agent can act for you yet."));

        assert_refresh_refused(&server, &client_id, &refresh).await;

        // The consent screen is back: the remembered grant went with the revocation.
        let (_, next) = start_journey(
            &server,
            &b,
            &client_id,
            "notes.read",
            &password,
            "&tenant=acme",
        )
        .await;
        assert!(next.contains("/authorize/consent"), "{next}");
        server.stop().await;
    }
}

#[tokio::test]
async fn sign_out_needs_the_csrf_token_and_ends_the_session() {
    let db = sqlite();
    let (server, password) = demo_server(&db).await;
    let b = browser();
    sign_in(&server, &b, None, &password).await;
    let html = text(&b, &server.url("/account")).await;
    let res = b
        .post(server.url("/sign-out"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(
        b.get(server.url("/account"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    let res = b
        .post(server.url("/sign-out"))
        .form(&[("csrf", hidden_field(&html, "csrf"))])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(
        b.get(server.url("/account"))
            .send()
            .await
            .expect("get")
            .status(),
        302,
        "signed out: the account page sends the person to sign in"
    );
    server.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_on_one_account_are_throttled_with_a_wait_time() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let b = browser();
    let html = text(&b, &server.url("/sign-in")).await;
    let csrf = hidden_field(&html, "csrf");
    let mut last = None;
    for _ in 0..11 {
        let res = b
            .post(server.url("/sign-in"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", EMAIL),
                ("password", "wrong"),
            ])
            .send()
            .await
            .expect("post");
        last = Some((res.status(), res.text().await.expect("html")));
    }
    let (status, html) = last.expect("responses");
    assert_eq!(status, 429);
    assert!(html.contains("Try again in"), "{html}");
    server.stop().await;
}

/// A one-time password (the first admin's, `admin create`'s) gets the person no further than
/// choosing their own; afterwards only the new one works.
#[tokio::test]
async fn a_one_time_password_must_be_replaced_before_the_sign_in_completes() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        let admin = mandate_core::bootstrap::create_admin(
            &server.store,
            &mandate_core::identity::password::PasswordHasherPool::new(1),
            "owner@example.com",
            1,
        )
        .await
        .expect("admin");
        let b = browser();
        let sign_in_with = |password: String| {
            let (b, server) = (&b, &server);
            async move {
                let html = text(b, &server.url("/sign-in")).await;
                b.post(server.url("/sign-in"))
                    .form(&[
                        ("csrf", hidden_field(&html, "csrf")),
                        ("email", "owner@example.com".to_owned()),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .expect("sign in")
            }
        };
        let res = sign_in_with(admin.one_time_password.clone()).await;
        assert_eq!(res.status(), 303, "{:?}", db.backend);
        assert!(location(&server, &res).ends_with("/sign-in/new-password"));
        let res = b.get(server.url("/account")).send().await.expect("account");
        assert_eq!(res.status(), 302, "not signed in yet");

        let page = text(&b, &server.url("/sign-in/new-password")).await;
        assert!(page.contains("Choose a password"), "{page}");
        let post = |password: &str, confirm: &str| {
            let form = [
                ("csrf", hidden_field(&page, "csrf")),
                ("password", password.to_owned()),
                ("confirm", confirm.to_owned()),
            ];
            b.post(server.url("/sign-in/new-password"))
                .form(&form)
                .send()
        };
        let res = post("short", "short").await.expect("post");
        assert_eq!(res.status(), 400);
        assert!(res
            .text()
            .await
            .expect("html")
            .contains("at least 12 characters"));
        let res = post("a long new password", "a different one!!")
            .await
            .expect("post");
        assert_eq!(res.status(), 400);
        assert!(res.text().await.expect("html").contains("not the same"));
        let res = post(&admin.one_time_password, &admin.one_time_password)
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "the one-time password cannot be kept");
        let res = post("a long new password", "a long new password")
            .await
            .expect("post");
        assert_eq!(res.status(), 303);
        assert!(
            location(&server, &res).ends_with("/admin"),
            "an admin lands on the console"
        );
        let account = text(&b, &server.url("/account")).await;
        assert!(account.contains("owner@example.com"));

        // Afterwards: the new password signs in directly, the one-time one no longer does.
        let b2 = browser();
        let html = text(&b2, &server.url("/sign-in")).await;
        let res = b2
            .post(server.url("/sign-in"))
            .form(&[
                ("csrf", hidden_field(&html, "csrf")),
                ("email", "owner@example.com".to_owned()),
                ("password", "a long new password".to_owned()),
            ])
            .send()
            .await
            .expect("sign in");
        assert!(location(&server, &res).ends_with("/admin"));
        let res = sign_in_with(admin.one_time_password.clone()).await;
        assert_eq!(res.status(), 401);
        server.stop().await;
    }
}
