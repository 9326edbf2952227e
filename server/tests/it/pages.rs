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
