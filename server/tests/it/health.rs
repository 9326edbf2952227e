use crate::support::{client, TestServer};
use mandate_core::testing::each_backend;
use serde_json::Value;

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        let res = client()
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ok");
        server.stop().await;
    }
}

#[tokio::test]
async fn readyz_reports_database_and_migrations() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        let res = client()
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{:?}", db.backend);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], db.backend.name());
        assert_eq!(
            body["migrations"]["applied"],
            body["migrations"]["expected"]
        );
        assert!(body["migrations"]["expected"].as_u64().expect("number") >= 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn readyz_fails_when_migrations_are_missing() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        // Simulate a database that lost its migration record (e.g. restored from an old backup).
        sqlx::query("DELETE FROM _sqlx_migrations")
            .execute(server.store.pool())
            .await
            .expect("delete");
        let res = client()
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 503);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["reason"], "migrations pending");
        server.stop().await;
    }
}
