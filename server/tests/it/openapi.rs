//! The admin API's OpenAPI document lists every route of `/api/v1` with its methods, every
//! operation it lists exists and wants a key, and every schema it references is defined.
//! (`end2end/tests/openapi.spec.ts` validates it with an independent OpenAPI 3.1 validator.)

use serde_json::Value;

use crate::oauth_flow::demo_server;
use crate::support::client;

/// Every route of the admin API (method, path): a route added without documenting it, or
/// documented without existing, fails here.
const ROUTES: [(&str, &str); 50] = [
    ("get", "/api/v1/mcp-servers"),
    ("post", "/api/v1/mcp-servers"),
    ("get", "/api/v1/mcp-servers/{id}"),
    ("put", "/api/v1/mcp-servers/{id}"),
    ("delete", "/api/v1/mcp-servers/{id}"),
    ("get", "/api/v1/mcp-servers/{id}/hooks"),
    ("post", "/api/v1/mcp-servers/{id}/hooks"),
    ("delete", "/api/v1/mcp-servers/{id}/hooks/{hook}"),
    ("get", "/api/v1/tenants/{id}/sso"),
    ("put", "/api/v1/tenants/{id}/sso"),
    ("delete", "/api/v1/tenants/{id}/sso"),
    ("get", "/api/v1/agents"),
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents/{id}"),
    ("patch", "/api/v1/agents/{id}"),
    ("delete", "/api/v1/agents/{id}"),
    ("post", "/api/v1/agents/{id}/secret"),
    ("get", "/api/v1/policies"),
    ("post", "/api/v1/policies"),
    ("delete", "/api/v1/policies/{id}"),
    ("post", "/api/v1/policies/simulate"),
    ("get", "/api/v1/audit/events"),
    ("get", "/api/v1/audit/export"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{id}"),
    ("put", "/api/v1/tenants/{id}"),
    ("get", "/api/v1/tenants/{id}/approvals"),
    ("put", "/api/v1/tenants/{id}/approvals"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("post", "/api/v1/users/{id}/password-link"),
    ("post", "/api/v1/users/{id}/reset-mfa"),
    ("put", "/api/v1/users/{id}/memberships"),
    ("delete", "/api/v1/users/{id}/memberships/{tenant}"),
    ("get", "/api/v1/connection-providers"),
    ("post", "/api/v1/connection-providers"),
    ("get", "/api/v1/connection-providers/{id}"),
    ("put", "/api/v1/connection-providers/{id}"),
    ("delete", "/api/v1/connection-providers/{id}"),
    (
        "put",
        "/api/v1/connection-providers/{id}/connections/{owner_kind}/{owner_id}",
    ),
    (
        "delete",
        "/api/v1/connection-providers/{id}/connections/{owner_kind}/{owner_id}",
    ),
    ("get", "/api/v1/connection-policies"),
    ("post", "/api/v1/connection-policies"),
    ("put", "/api/v1/connection-policies/{id}"),
    ("delete", "/api/v1/connection-policies/{id}"),
    ("get", "/api/v1/agents/{id}/connections"),
    ("put", "/api/v1/agents/{id}/connections"),
];

#[tokio::test]
async fn the_document_lists_every_route_and_each_wants_a_key() {
    let db = mandate_core::testing::sqlite();
    let (server, _) = demo_server(&db).await;
    let res = client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("document");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_api_key"]["scheme"],
        "bearer"
    );

    let mut listed = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            listed.push((method.clone(), path.clone()));
            assert!(
                operation["security"].is_array(),
                "{method} {path} names its security"
            );
            assert!(
                operation["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
            // Any request can be refused as unreadable (a URL carrying a NUL; a body that is
            // not JSON, has a wrong type or a NUL).
            assert!(
                operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/ErrorEnvelope")),
                "{method} {path} documents 400"
            );
        }
    }
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);

    // Every documented operation exists (no 404 / 405) and refuses a call without a key.
    for (method, path) in ROUTES {
        let url = server.url(
            &path
                .replace("{id}", "some-id")
                .replace("{tenant}", "acme")
                .replace("{hook}", "some-hook"),
        );
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let res = client()
            .request(method.clone(), url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("call");
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    // Referenced schemas are all defined.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "schema {name} is defined"
        );
    }
    server.stop().await;
}
