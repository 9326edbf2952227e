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
