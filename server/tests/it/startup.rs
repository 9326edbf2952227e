use crate::support::TestServer;
use mandate_core::bootstrap::FIRST_ADMIN_EMAIL;
use mandate_core::testing::{each_backend, temp_dir};

#[tokio::test]
async fn first_start_migrates_and_seeds_the_first_admin() {
    for db in each_backend().await {
        let server = TestServer::start(&db).await;
        assert!(
            !server.report.applied_migrations.is_empty(),
            "{:?}",
            db.backend
        );
        assert_eq!(
            server.report.applied_migrations.len(),
            server.report.total_migrations
        );
        assert_eq!(
            server.report.first_admin_email.as_deref(),
            Some(FIRST_ADMIN_EMAIL)
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn second_start_on_the_same_database_neither_migrates_nor_reseeds() {
    for db in each_backend().await {
        let data_dir = temp_dir("restart");
        let first = TestServer::start_in(&db, &data_dir).await;
        let installed: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(first.store.pool())
        .await
        .expect("migrations");
        first.stop().await;

        let second = TestServer::start_in(&db, &data_dir).await;
        assert!(
            second.report.applied_migrations.is_empty(),
            "{:?}: no migration re-run",
            db.backend
        );
        assert_eq!(
            second.report.first_admin_email, None,
            "{:?}: no second admin",
            db.backend
        );
        let again: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(second.store.pool())
        .await
        .expect("migrations");
        assert_eq!(installed, again, "migration records untouched");
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(second.store.pool())
            .await
            .expect("count");
        assert_eq!(users, 1);
        second.stop().await;
        let _ = std::fs::remove_dir_all(data_dir);
    }
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    use std::time::Duration;
    let db = mandate_core::testing::sqlite();
    let server = TestServer::start(&db).await;
    // A token request whose body arrives slowly: it is in flight when shutdown begins.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let request = crate::support::client()
        .post(server.url("/s/demo-notes/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send();
    let in_flight = tokio::spawn(request);
    tx.send(Ok(b"grant_type=client_".to_vec()))
        .await
        .expect("first half");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the request in flight"
    );
    tx.send(Ok(b"credentials&client_id=nobody".to_vec()))
        .await
        .expect("second half");
    drop(tx);
    let response = in_flight
        .await
        .expect("task")
        .expect("the request completes");
    assert_eq!(
        response.status(),
        400,
        "answered: there is no MCP server yet"
    );
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops once the request is done")
        .expect("stop task");
}

/// A stream of the channel's items (tokio's receiver as a `futures` stream).
fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
