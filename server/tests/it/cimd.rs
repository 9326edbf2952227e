//! Client ID Metadata Documents served over local TLS (a CA made by the test), trusted only
//! through the test-only settings.

use crate::oauth_flow::{authorize_url, demo_server, REDIRECT, VERIFIER};
use crate::steps::walk_journey;
use crate::support::{browser, client, query_of, TestServer};
use mandate_core::identity::password::PasswordHasherPool;
use mandate_core::seed::seed_demo;
use mandate_core::testing::{sqlite, temp_dir};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// An https server on localhost answering every request with `body`; returns (base URL, CA PEM).
async fn document_server(
    body_for: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (String, String) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Mandate test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("cert");
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("tls config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().expect("addr").port()
    );
    let body_for = Arc::new(body_for);
    let base_for_task = base.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body_for, base) =
                (acceptor.clone(), body_for.clone(), base_for_task.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let body = body_for(&format!("{base}{path}"));
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (base, ca.pem())
}

fn document(client_id: &str) -> String {
    json!({
        "client_id": client_id,
        "client_name": "Metadata Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "token_endpoint_auth_methods_supported": ["none"],
        "application_type": "native"
    })
    .to_string()
}

#[tokio::test]
async fn a_metadata_document_client_completes_the_flow() {
    let (base, ca_pem) = document_server(document).await;
    let dir = temp_dir("cimd");
    std::fs::write(dir.join("ca.pem"), ca_pem).expect("ca file");
    let db = sqlite();
    let server = TestServer::start_with(
        &db,
        &[
            ("MANDATE_CIMD_ALLOW_LOOPBACK", "true".into()),
            (
                "MANDATE_CIMD_EXTRA_CA_FILE",
                dir.join("ca.pem").display().to_string(),
            ),
        ],
    )
    .await;
    let password = seed_demo(
        &server.store,
        &PasswordHasherPool::new(1),
        "http://localhost:4000/mcp",
        1,
    )
    .await
    .expect("seed")
    .user_password
    .expect("password");
    let client_id = format!("{base}/oauth/client.json");
    let back = walk_journey(
        &server,
        &browser(),
        &authorize_url(&server, &client_id, "notes.read", "c1"),
        &password,
        "Acme Corp",
        &["notes.read"],
    )
    .await;
    let code = query_of(&back)["code"].clone();
    let res = client()
        .post(server.url("/s/demo-notes/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.expect("json");
    assert!(
        t["refresh_token"].is_string(),
        "jwt-bearer was ignored, refresh kept"
    );
    let agent = server
        .store
        .agent(&mandate_core::ids::AgentId::from_string(&client_id))
        .await
        .expect("get")
        .expect("agent");
    assert_eq!(agent.trust_level, mandate_core::model::TrustLevel::Cimd);
    assert_eq!(agent.name, "Metadata Agent");
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn loopback_documents_are_refused_by_default() {
    let (base, _) = document_server(document).await;
    let db = sqlite();
    let (server, _) = demo_server(&db).await;
    let client_id = format!("{base}/oauth/client.json");
    let res = browser()
        .get(authorize_url(&server, &client_id, "notes.read", "c"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 400, "an error page, not a redirect");
    assert!(res.headers().get("location").is_none());
    let html = res.text().await.expect("html");
    assert!(
        html.contains("not a public address") || html.contains("could not be used"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_document_naming_another_client_id_is_refused() {
    let (base, ca_pem) =
        document_server(|_| document("https://evil.example.com/client.json")).await;
    let dir = temp_dir("cimd");
    std::fs::write(dir.join("ca.pem"), ca_pem).expect("ca file");
    let db = sqlite();
    let server = TestServer::start_with(
        &db,
        &[
            ("MANDATE_CIMD_ALLOW_LOOPBACK", "1".into()),
            (
                "MANDATE_CIMD_EXTRA_CA_FILE",
                dir.join("ca.pem").display().to_string(),
            ),
        ],
    )
    .await;
    seed_demo(
        &server.store,
        &PasswordHasherPool::new(1),
        "http://localhost:4000/mcp",
        1,
    )
    .await
    .expect("seed");
    let res = browser()
        .get(authorize_url(
            &server,
            &format!("{base}/client.json"),
            "notes.read",
            "c",
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .expect("html")
        .contains("must equal the URL"));
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
