//! Discovery, /authorize refusals, token-endpoint errors, registration and its management,
//! CORS, and key rotation — each against a real server.

use crate::oauth_flow::{authorize_url, demo_server, register_public, RESOURCE, VERIFIER};
use crate::support::{browser, client, query_of, TestServer};
use mandate_core::crypto::MasterKey;
use mandate_core::oauth::keyring;
use mandate_core::testing::{each_backend, sqlite, temp_dir};
use serde_json::{json, Value};

#[tokio::test]
async fn every_metadata_variant_serves_the_same_document_with_the_exact_issuer() {
    for db in each_backend().await {
        let (server, _) = demo_server(&db).await;
        let issuer = server.url("/s/demo-notes");
        let mut docs = Vec::new();
        for path in [
            "/.well-known/oauth-authorization-server/s/demo-notes",
            "/s/demo-notes/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration/s/demo-notes",
            "/s/demo-notes/.well-known/openid-configuration",
        ] {
            let res = client().get(server.url(path)).send().await.expect("get");
            assert_eq!(res.status(), 200, "{path}");
            docs.push(res.json::<Value>().await.expect("json"));
        }
        assert!(docs.windows(2).all(|w| w[0] == w[1]));
        let m = &docs[0];
        assert_eq!(m["issuer"], issuer.as_str(), "byte-identical issuer");
        assert_eq!(m["authorization_endpoint"], format!("{issuer}/authorize"));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            m["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_basic", "client_secret_post"])
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["client_id_metadata_document_supported"], true);
        assert_eq!(
            m["scopes_supported"],
            json!(["notes.read", "notes.write", "notes.share"])
        );

        let jwks: Value = client()
            .get(m["jwks_uri"].as_str().expect("jwks"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert!(key.get("d").is_none(), "no private part");

        let prm: Value = client()
            .get(server.url("/.well-known/oauth-protected-resource/s/demo-notes"))
            .send()
            .await
            .expect("prm")
            .json()
            .await
            .expect("json");
        assert_eq!(prm["resource"], RESOURCE);
        assert_eq!(prm["authorization_servers"], json!([issuer]));

        let res = client()
            .get(server.url("/.well-known/oauth-authorization-server/s/nope"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "invalid_request"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn cors_is_on_the_api_endpoints_and_never_on_pages() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    for path in [
        "/.well-known/oauth-authorization-server/s/demo-notes",
        "/s/demo-notes/jwks.json",
    ] {
        let res = client()
            .get(server.url(path))
            .header("origin", "http://inspector.local")
            .send()
            .await
            .expect("get");
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
    }
    for path in [
        "/s/demo-notes/token",
        "/s/demo-notes/register",
        "/s/demo-notes/revoke",
    ] {
        let res = client()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", "http://inspector.local")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .expect("preflight");
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
    }
    for path in ["/sign-in", "/"] {
        let res = client()
            .get(server.url(path))
            .header("origin", "http://inspector.local")
            .send()
            .await
            .expect("get");
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn authorize_renders_a_page_for_unknown_clients_and_bad_redirects_and_never_redirects() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let good = authorize_url(&server, &client_id, "notes.read", "s");
    let cases = [
        good.replace(&client_id, "no-such-client"),
        good.replace("8976%2Fcallback", "8976%2Fevil"),
        good.replace("127.0.0.1%3A8976", "evil.example.com"),
        format!("{good}&state=second"),
    ];
    for url in cases {
        let res = browser().get(&url).send().await.expect("authorize");
        assert_eq!(res.status(), 400, "{url}");
        assert!(
            res.headers().get("location").is_none(),
            "{url} must not redirect"
        );
        assert!(res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html"));
    }
    server.stop().await;
}

#[tokio::test]
async fn unreadable_requests_get_the_protocol_s_error_on_every_backend() {
    // A `%00` reaches the lookups and the audit event of a refused request; PostgreSQL's text
    // can neither store nor look one up, which once made these answers 500s there.
    for db in each_backend().await {
        let (server, _) = demo_server(&db).await;
        let client_id = register_public(&server).await;
        let url = authorize_url(&server, &client_id, "notes.read", "s")
            .replace("scope=notes.read", "scope=notes.read%00x");
        let res = browser().get(&url).send().await.expect("authorize");
        assert_eq!(res.status(), 400, "{}: a readable page", db.url);
        assert!(res.headers().get("location").is_none());

        for (path, body) in [
            (
                "/s/demo-notes/token",
                "grant_type=client_credentials&client_id=a%00b",
            ),
            ("/s/demo-notes/revoke", "token=a%00b"),
            ("/s/demo-notes/introspect", "token=a%00b"),
        ] {
            let res = client()
                .post(server.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("post");
            assert_eq!(res.status(), 400, "{}: {path}", db.url);
            let error: Value = res.json().await.expect("RFC 6749 §5.2 JSON");
            assert_eq!(error["error"], "invalid_request", "{path}");
        }
        let res = client()
            .post(server.url("/s/demo-notes/token"))
            .basic_auth("a\0b", Some("secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 401, "{}: an unknown client", db.url);

        let res = client()
            .get(server.url("/s/demo%00notes/jwks.json"))
            .send()
            .await
            .expect("jwks");
        assert_eq!(res.status(), 400, "{}: a NUL in the URL", db.url);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let error: Value = res.json().await.expect("json");
        assert_eq!(error["error"], "invalid_request");
        assert!(error["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("NUL")));
        for path in ["/s/%FF/jwks.json", "/s/demo-notes/register/%C3"] {
            let res = client().get(server.url(path)).send().await.expect("get");
            assert_eq!(res.status(), 400, "{}: {path}", db.url);
            let error: Value = res.json().await.expect("RFC 6749 §5.2 JSON");
            assert_eq!(error["error"], "invalid_request", "{path}");
        }
        // A browser gets a page, with the headers every response carries.
        for path in [
            "/admin/agents/%00",
            "/s/demo-notes/authorize?client_id=%00",
            "/sign-in?journey=%00",
        ] {
            let res = browser()
                .get(server.url(path))
                .header("accept", "text/html,application/xhtml+xml")
                .send()
                .await
                .expect("page");
            assert_eq!(res.status(), 400, "{}: {path}", db.url);
            assert!(res.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/html")));
            assert!(res.headers().contains_key("x-request-id"));
            assert_eq!(res.headers()["x-frame-options"], "DENY");
            assert!(res.text().await.expect("html").contains("NUL character"));
        }

        let res = client()
            .post(server.url("/s/demo-notes/register"))
            .json(&json!({
                "client_name": "Evil\u{0}Agent",
                "redirect_uris": ["http://127.0.0.1:8976/callback"],
                "token_endpoint_auth_method": "none"
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 400, "{}", db.url);
        let error: Value = res.json().await.expect("json");
        assert_eq!(error["error"], "invalid_client_metadata");
        server.stop().await;
    }
}

#[tokio::test]
async fn authorize_redirects_other_errors_with_state_and_iss() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let good = authorize_url(&server, &client_id, "notes.read", "st");
    let cases = [
        (
            good.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            good.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            good.replace("scope=notes.read", "scope=notes.read+notes.admin"),
            "invalid_scope",
        ),
        (
            good.replace("localhost%3A4000", "evil.example.com"),
            "invalid_target",
        ),
    ];
    for (url, error) in cases {
        let res = browser().get(&url).send().await.expect("authorize");
        assert_eq!(res.status(), 303, "{url}");
        let loc = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(loc.starts_with("http://127.0.0.1:8976/callback?"), "{loc}");
        let q = query_of(&loc);
        assert_eq!(q["error"], error, "{url}");
        assert_eq!(q["state"], "st");
        assert_eq!(q["iss"], server.url("/s/demo-notes"));
    }
    let failures: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event_type = 'authorization.failed'",
    )
    .fetch_one(server.store.pool())
    .await
    .expect("count");
    assert_eq!(failures, 5, "each refusal is audited");
    server.stop().await;
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_6749_json_and_never_cached() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let client_id = register_public(&server).await;
    let post = |form: Vec<(&'static str, String)>| {
        let server = &server;
        async move {
            client()
                .post(server.url("/s/demo-notes/token"))
                .form(&form)
                .send()
                .await
                .expect("token")
        }
    };
    type Case = (Vec<(&'static str, String)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("grant_type", "password".into()),
                ("client_id", client_id.clone()),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "authorization_code".into()),
                ("client_id", client_id.clone()),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code".into()),
                ("code", "mdt_ac_x".into()),
                ("code_verifier", VERIFIER.into()),
                ("client_id", client_id.clone()),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code".into()),
                ("code", "x".into()),
                ("client_id", "nobody".into()),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.clone()),
            ],
            400,
            "unauthorized_client",
        ),
        (
            vec![
                ("grant_type", "refresh_token".into()),
                ("grant_type", "refresh_token".into()),
                ("client_id", client_id.clone()),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (form, status, error) in cases {
        let res = post(form.clone()).await;
        assert_eq!(res.status().as_u16(), status, "{form:?}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        if status == 401 {
            assert!(res.headers().get("www-authenticate").is_some());
        }
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], error, "{form:?}");
        assert!(body["error_description"].is_string());
    }
    // Parameters not sent as a form (RFC 6749 §3.2) are a malformed request in §5.2's JSON on
    // every endpoint that takes a form, not axum's plain-text 415.
    for path in [
        "/s/demo-notes/token",
        "/s/demo-notes/revoke",
        "/s/demo-notes/introspect",
    ] {
        for (content_type, body) in [
            (
                Some("application/json"),
                r#"{"grant_type":"client_credentials"}"#,
            ),
            (None, ""),
        ] {
            let mut request = client().post(server.url(path)).body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let res = request.send().await.expect("post");
            assert_eq!(res.status(), 400, "{path} {content_type:?}");
            assert_eq!(res.headers()["cache-control"], "no-store");
            let error: Value = res.json().await.expect("RFC 6749 §5.2 JSON");
            assert_eq!(error["error"], "invalid_request", "{path} {content_type:?}");
            assert!(error["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("x-www-form-urlencoded")));
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn client_credentials_with_basic_auth_gives_a_machine_token() {
    for db in each_backend().await {
        let (server, _) = demo_server(&db).await;
        let (id, secret) = crate::oauth_flow::register_confidential(&server).await;
        let res = client()
            .post(server.url("/s/demo-notes/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "notes.read"),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 200);
        let t: Value = res.json().await.expect("json");
        assert!(t.get("refresh_token").is_none());
        let res = client()
            .post(server.url("/s/demo-notes/token"))
            .basic_auth(&id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 401);
        server.stop().await;
    }
}

#[tokio::test]
async fn registration_validates_metadata_and_supports_rfc_7592_management() {
    for db in each_backend().await {
        let (server, _) = demo_server(&db).await;
        let register = |body: Value| {
            let server = &server;
            async move {
                client()
                    .post(server.url("/s/demo-notes/register"))
                    .json(&body)
                    .send()
                    .await
                    .expect("register")
            }
        };
        for (body, error) in [
            (
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["https://app.example.com/cb#frag"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["https://*.example.com/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": "https://app.example.com/cb"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": ["x"]}),
                "invalid_client_metadata",
            ),
        ] {
            let res = register(body.clone()).await;
            assert_eq!(res.status(), 400, "{body}");
            assert_eq!(
                res.json::<Value>().await.expect("json")["error"],
                error,
                "{body}"
            );
        }
        let huge = json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "x".repeat(20_000)});
        assert_eq!(register(huge).await.status(), 400);

        let res = register(json!({
            "client_name": "Web Agent",
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "application_type": "web",
            "unknown_field": true
        }))
        .await;
        assert_eq!(res.status(), 201);
        let reg: Value = res.json().await.expect("json");
        assert!(reg["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("mdt_cs_")));
        assert!(reg.get("unknown_field").is_none());
        let uri = reg["registration_client_uri"]
            .as_str()
            .expect("uri")
            .to_owned();
        let rat = reg["registration_access_token"]
            .as_str()
            .expect("rat")
            .to_owned();

        let read: Value = client()
            .get(&uri)
            .bearer_auth(&rat)
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("json");
        assert_eq!(read["client_name"], "Web Agent");
        assert!(
            read.get("client_secret").is_none(),
            "the secret is shown once"
        );
        assert_eq!(
            client()
                .get(&uri)
                .bearer_auth("mdt_rat_wrong")
                .send()
                .await
                .expect("read")
                .status(),
            401
        );

        let mut update = read.clone();
        update["redirect_uris"] = json!(["https://app.example.com/cb2"]);
        let res = client()
            .put(&uri)
            .bearer_auth(&rat)
            .json(&update)
            .send()
            .await
            .expect("update");
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.json::<Value>().await.expect("json")["redirect_uris"],
            json!(["https://app.example.com/cb2"])
        );

        assert_eq!(
            client()
                .delete(&uri)
                .bearer_auth(&rat)
                .send()
                .await
                .expect("delete")
                .status(),
            204
        );
        assert_eq!(
            client()
                .get(&uri)
                .bearer_auth(&rat)
                .send()
                .await
                .expect("read")
                .status(),
            401
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let mut statuses = Vec::new();
    for _ in 0..22 {
        let res = client()
            .post(server.url("/s/demo-notes/register"))
            .json(&json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .expect("register");
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn key_rotation_keeps_earlier_tokens_valid() {
    for db in each_backend().await {
        let data_dir = temp_dir("rotate");
        // One public URL across both starts: the issuer must not change with the port.
        let fixed = [("MANDATE_PUBLIC_URL", "http://mandate.test".to_owned())];
        let server = TestServer::start_configured(&db, &data_dir, &fixed).await;
        mandate_core::seed::seed_demo(
            &server.store,
            &mandate_core::identity::password::PasswordHasherPool::new(1),
            RESOURCE,
            1,
        )
        .await
        .expect("seed");
        let (id, secret) = crate::oauth_flow::register_confidential(&server).await;
        let cc = |server: &TestServer| {
            let url = server.url("/s/demo-notes/token");
            let (id, secret) = (id.clone(), secret.clone());
            async move {
                client()
                    .post(url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", &id),
                        ("client_secret", &secret),
                    ])
                    .send()
                    .await
                    .expect("token")
                    .json::<Value>()
                    .await
                    .expect("json")["access_token"]
                    .as_str()
                    .expect("at")
                    .to_owned()
            }
        };
        let old = cc(&server).await;
        server.stop().await;

        let store = db.store().await;
        let key = std::fs::read_to_string(data_dir.join("master.key")).expect("key");
        keyring::rotate(&store, &MasterKey::from_base64(&key).expect("key"), 2)
            .await
            .expect("rotate");
        store.close().await;

        let server = TestServer::start_configured(&db, &data_dir, &fixed).await;
        let jwks: Value = client()
            .get(server.url("/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        assert_eq!(
            jwks["keys"].as_array().expect("keys").len(),
            2,
            "active + retired"
        );
        let new = cc(&server).await;
        let kid = |t: &str| {
            jsonwebtoken::decode_header(t)
                .expect("header")
                .kid
                .expect("kid")
        };
        assert_ne!(kid(&old), kid(&new), "new tokens use the new key");
        let info: Value = client()
            .post(server.url("/s/demo-notes/introspect"))
            .form(&[
                ("token", old.as_str()),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("json");
        assert_eq!(
            info["active"], true,
            "a token from the retired key still verifies"
        );
        server.stop().await;
        let _ = std::fs::remove_dir_all(data_dir);
    }
}
