//! The store's contract, run against a fresh SQLite file and a fresh PostgreSQL database.

use crate::bootstrap::{check_master_key, ensure_first_admin, FIRST_ADMIN_EMAIL};
use crate::crypto::MasterKey;
use crate::error::CoreError;
use crate::identity::password::PasswordHasherPool;
use crate::ids::{AgentId, UserId};
use crate::model::{Membership, User};
use crate::seed::{seed_demo, DEMO_AGENT_ID, DEMO_RESOURCE_URL, DEMO_SERVER_SLUG, DEMO_USER_EMAIL};
use crate::store::tenants::new_tenant;
use crate::store::Store;
use crate::testing::each_backend;

async fn migrated(db: &crate::testing::TestDatabase) -> Store {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test]
async fn migrations_apply_once_and_report_readiness() {
    for db in each_backend().await {
        let store = db.store().await;
        let before = store.readiness().await.expect("readiness");
        assert!(
            !before.is_ready(),
            "{:?}: empty database is not ready",
            db.backend
        );

        let first = store.migrate().await.expect("first migrate");
        assert!(!first.applied.is_empty());
        assert_eq!(first.applied.len(), first.total);
        let second = store.migrate().await.expect("second migrate");
        assert!(
            second.applied.is_empty(),
            "{:?}: nothing to re-run",
            db.backend
        );

        let after = store.readiness().await.expect("readiness");
        assert!(after.is_ready());
        assert_eq!(after.applied, first.total);
    }
}

#[tokio::test]
async fn tenants_and_memberships_round_trip() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let a = new_tenant("zeta", "Zeta", &["zeta.example"], 1);
        let b = new_tenant("alpha", "Alpha", &[], 2);
        store.insert_tenant(&a).await.expect("insert a");
        store.insert_tenant(&b).await.expect("insert b");
        assert!(matches!(
            store
                .insert_tenant(&new_tenant("zeta", "Other", &[], 3))
                .await,
            Err(CoreError::AlreadyExists { .. })
        ));
        assert_eq!(
            store.tenant_by_slug("zeta").await.expect("get"),
            Some(a.clone())
        );
        assert_eq!(store.tenant_by_slug("nope").await.expect("get"), None);

        let user = sample_user("m@example.com");
        store.insert_user(&user, None).await.expect("user");
        for (tenant, admin) in [(&a, true), (&b, false)] {
            let m = Membership {
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                roles: vec!["engineer".into()],
                permissions: vec!["notes:all".into()],
                is_tenant_admin: admin,
                created_at: 5,
            };
            store.add_membership(&m).await.expect("membership");
            store
                .add_membership(&m)
                .await
                .expect("adding twice is a no-op");
        }
        let memberships = store.memberships_of(&user.id).await.expect("list");
        let names: Vec<_> = memberships.iter().map(|(_, t)| t.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "Zeta"], "ordered by tenant name");
        assert!(memberships[1].0.is_tenant_admin);
        assert_eq!(memberships[1].0.roles, ["engineer"]);
        assert_eq!(store.count_tenants().await.expect("count"), 2);
    }
}

#[tokio::test]
async fn users_are_unique_by_email_and_keep_flags() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let mut user = sample_user("ada@example.com");
        user.is_project_admin = true;
        user.must_change_password = true;
        store
            .insert_user(&user, Some("$argon2id$x"))
            .await
            .expect("insert");
        assert!(matches!(
            store
                .insert_user(&sample_user("ada@example.com"), None)
                .await,
            Err(CoreError::AlreadyExists { .. })
        ));
        assert_eq!(
            store.user_by_email("ada@example.com").await.expect("get"),
            Some(user.clone())
        );
        assert_eq!(
            store
                .password_hash_of(&user.id)
                .await
                .expect("hash")
                .as_deref(),
            Some("$argon2id$x")
        );
        assert_eq!(store.count_project_admins().await.expect("count"), 1);

        store
            .set_password(&user.id, "$argon2id$y", 2)
            .await
            .expect("set");
        let changed = store
            .user_by_id(&user.id)
            .await
            .expect("get")
            .expect("user");
        assert!(!changed.must_change_password, "cleared by a new password");
        assert_eq!(
            store
                .password_hash_of(&user.id)
                .await
                .expect("hash")
                .as_deref(),
            Some("$argon2id$y")
        );
    }
}

#[tokio::test]
async fn agent_allowances_default_to_everything_and_can_be_narrowed() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let hasher = PasswordHasherPool::new(1);
        seed_demo(&store, &hasher, DEMO_RESOURCE_URL, 1)
            .await
            .expect("seed");
        let server = store
            .mcp_server_by_slug(DEMO_SERVER_SLUG)
            .await
            .expect("get")
            .expect("server");
        let agent = AgentId::from_string(DEMO_AGENT_ID);
        assert_eq!(
            store
                .agent_allowance(&agent, &server.id)
                .await
                .expect("get"),
            None,
            "no row: every scope"
        );
        store
            .set_agent_allowance(&agent, &server.id, &["notes.read".into()])
            .await
            .expect("narrow");
        store
            .set_agent_allowance(
                &agent,
                &server.id,
                &["notes.read".into(), "notes.share".into()],
            )
            .await
            .expect("replace");
        assert_eq!(
            store
                .agent_allowance(&agent, &server.id)
                .await
                .expect("get"),
            Some(vec!["notes.read".to_owned(), "notes.share".to_owned()])
        );
    }
}

#[tokio::test]
async fn deployment_values_keep_the_first_writer() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        assert_eq!(store.deployment_value("k").await.expect("get"), None);
        assert_eq!(
            store
                .deployment_value_or_insert("k", "one")
                .await
                .expect("set"),
            "one"
        );
        assert_eq!(
            store
                .deployment_value_or_insert("k", "two")
                .await
                .expect("set"),
            "one"
        );
    }
}

#[tokio::test]
async fn master_key_check_refuses_another_key() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let key = MasterKey::generate();
        check_master_key(&store, &key)
            .await
            .expect("first start stores the check");
        check_master_key(&store, &key)
            .await
            .expect("same key passes");
        assert!(matches!(
            check_master_key(&store, &MasterKey::generate()).await,
            Err(CoreError::MasterKeyMismatch)
        ));
    }
}

#[tokio::test]
async fn first_admin_is_created_once() {
    let hasher = PasswordHasherPool::new(2);
    for db in each_backend().await {
        let store = migrated(&db).await;
        let admin = ensure_first_admin(&store, &hasher, 10)
            .await
            .expect("seed")
            .expect("created");
        assert_eq!(admin.user.email, FIRST_ADMIN_EMAIL);
        assert!(admin.user.is_project_admin && admin.user.must_change_password);
        let hash = store
            .password_hash_of(&admin.user.id)
            .await
            .expect("hash")
            .expect("set");
        assert!(hasher.verify(admin.one_time_password.clone(), hash).await);
        assert!(ensure_first_admin(&store, &hasher, 11)
            .await
            .expect("again")
            .is_none());
        assert_eq!(store.count_users().await.expect("count"), 1);
    }
}

#[tokio::test]
async fn first_admin_is_created_beside_other_users_but_never_twice() {
    let hasher = PasswordHasherPool::new(2);
    for db in each_backend().await {
        let store = migrated(&db).await;
        store
            .insert_user(&sample_user("someone@example.com"), None)
            .await
            .expect("user");
        let admin = ensure_first_admin(&store, &hasher, 10).await.expect("seed");
        assert!(
            admin.is_some(),
            "users without an admin still get the first admin"
        );
        // Even with the admin gone (e.g. demoted), a restart does not mint another one.
        sqlx::query("UPDATE users SET is_project_admin = 0")
            .execute(store.pool())
            .await
            .expect("demote");
        assert!(ensure_first_admin(&store, &hasher, 11)
            .await
            .expect("again")
            .is_none());
    }
}

#[tokio::test]
async fn demo_seed_is_complete_and_idempotent() {
    let hasher = PasswordHasherPool::new(2);
    for db in each_backend().await {
        let store = migrated(&db).await;
        let first = seed_demo(&store, &hasher, DEMO_RESOURCE_URL, 100)
            .await
            .expect("seed");
        assert_eq!(first.tenants_created, ["acme", "globex"]);
        assert!(first.user_password.is_some() && first.server_created && first.agent_created);

        let again = seed_demo(&store, &hasher, DEMO_RESOURCE_URL, 200)
            .await
            .expect("reseed");
        assert!(again.tenants_created.is_empty() && again.user_password.is_none());
        assert!(!again.server_created && !again.agent_created);

        let user = store
            .user_by_email(DEMO_USER_EMAIL)
            .await
            .expect("get")
            .expect("user");
        assert_eq!(store.memberships_of(&user.id).await.expect("list").len(), 2);
        let server = store
            .mcp_server_by_slug(DEMO_SERVER_SLUG)
            .await
            .expect("get")
            .expect("server");
        assert_eq!(server.resource_url, DEMO_RESOURCE_URL);
        let scopes = store.scopes_of(&server.id).await.expect("scopes");
        let names: Vec<_> = scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["notes.read", "notes.write", "notes.share"]);
        let sensitive: Vec<_> = scopes
            .iter()
            .filter(|s| s.sensitive)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(sensitive, ["notes.write"]);
        let agent = store
            .agent(&AgentId::from_string(DEMO_AGENT_ID))
            .await
            .expect("get")
            .expect("agent");
        assert_eq!(agent.token_endpoint_auth_method, "none");
        assert_eq!(store.list_mcp_servers().await.expect("list").len(), 1);
        assert_eq!(store.count_agents().await.expect("count"), 1);
    }
}

fn sample_user(email: &str) -> User {
    User {
        id: UserId::generate(),
        email: email.into(),
        display_name: "Sample".into(),
        must_change_password: false,
        is_project_admin: false,
        disabled: false,
        created_at: 1,
    }
}
