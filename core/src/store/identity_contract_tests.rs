//! The store's contract for the end-user journey (grants, second factors, policies), on
//! SQLite and PostgreSQL.

use crate::identity::password::PasswordHasherPool;
use crate::identity::recovery;
use crate::model::Grant;
use crate::policy::{Allow, Condition, Operator, Policy};
use crate::seed::{seed_demo, DEMO_AGENT_ID, DEMO_RESOURCE_URL, DEMO_SERVER_SLUG, DEMO_USER_EMAIL};
use crate::store::factors::StoredPasskey;
use crate::store::tokens::TokenFamily;
use crate::store::Store;
use crate::testing::each_backend;

struct Demo {
    store: Store,
    user: String,
    tenant: String,
    server: String,
}

async fn demo(db: &crate::testing::TestDatabase) -> Demo {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    seed_demo(&store, &PasswordHasherPool::new(1), DEMO_RESOURCE_URL, 1)
        .await
        .expect("seed");
    let user = store
        .user_by_email(DEMO_USER_EMAIL)
        .await
        .expect("get")
        .expect("user");
    let tenant = store.memberships_of(&user.id).await.expect("m")[0]
        .1
        .id
        .to_string();
    let server = store
        .mcp_server_by_slug(DEMO_SERVER_SLUG)
        .await
        .expect("get")
        .expect("server")
        .id
        .to_string();
    Demo {
        store,
        user: user.id.to_string(),
        tenant,
        server,
    }
}

fn grant(d: &Demo, scopes: &[&str], remembered: bool, now: i64) -> Grant {
    Grant {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: d.user.clone(),
        agent_id: DEMO_AGENT_ID.into(),
        tenant_id: d.tenant.clone(),
        mcp_server_id: d.server.clone(),
        granted_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        rejected_scopes: vec![],
        remembered,
        created_at: now,
        updated_at: now,
        last_used_at: Some(now),
    }
}

#[tokio::test]
async fn a_new_consent_replaces_the_grant_and_revoking_it_revokes_its_families() {
    for db in each_backend().await {
        let d = demo(&db).await;
        let first = d
            .store
            .record_grant(&grant(&d, &["notes.read"], false, 10))
            .await
            .expect("record");
        let second = d
            .store
            .record_grant(&grant(&d, &["notes.read", "notes.write"], true, 20))
            .await
            .expect("record again");
        assert_eq!(
            first, second,
            "{:?}: one row per user/agent/tenant/server",
            db.backend
        );
        let live = d
            .store
            .active_grant(&d.user, DEMO_AGENT_ID, &d.tenant, &d.server)
            .await
            .expect("get")
            .expect("grant");
        assert_eq!(live.granted_scopes, ["notes.read", "notes.write"]);
        assert!(live.remembered);
        let listed = d.store.grants_of_user(&d.user).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].agent_name, "Demo Agent");

        let family = TokenFamily {
            id: "fam-1".into(),
            agent_id: DEMO_AGENT_ID.into(),
            user_id: Some(d.user.clone()),
            tenant_id: Some(d.tenant.clone()),
            mcp_server_id: d.server.clone(),
            auth_time: Some(1),
            acr: None,
            amr: vec!["pwd".into()],
            created_at: 1,
            expires_at: i64::MAX / 2,
            revoked_at: None,
            claims: Default::default(),
        };
        let code = crate::secret::Secret::generate(crate::secret::SecretKind::AuthorizationCode);
        let record = crate::store::tokens::CodeRecord {
            family_id: family.id.clone(),
            agent_id: family.agent_id.clone(),
            user_id: d.user.clone(),
            tenant_id: Some(d.tenant.clone()),
            mcp_server_id: d.server.clone(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: "x".into(),
            resource: DEMO_RESOURCE_URL.into(),
            scopes: "notes.read".into(),
            auth_time: 1,
            acr: None,
            amr: "[]".into(),
            created_at: 1,
            expires_at: 2,
        };
        d.store
            .insert_code(&family, &code.hash(), &record)
            .await
            .expect("code");

        assert!(d
            .store
            .revoke_grant("someone-else", &first, 30)
            .await
            .expect("r")
            .is_none());
        let revoked = d
            .store
            .revoke_grant(&d.user, &first, 30)
            .await
            .expect("revoke");
        assert!(revoked.is_some());
        assert!(d
            .store
            .revoke_grant(&d.user, &first, 31)
            .await
            .expect("r")
            .is_none());
        let fam = d.store.family("fam-1").await.expect("get").expect("family");
        assert_eq!(fam.revoked_at, Some(30), "{:?}", db.backend);
        assert!(d
            .store
            .active_grant(&d.user, DEMO_AGENT_ID, &d.tenant, &d.server)
            .await
            .expect("get")
            .is_none());
        assert!(d
            .store
            .grants_of_user(&d.user)
            .await
            .expect("list")
            .is_empty());
    }
}

#[tokio::test]
async fn totp_steps_are_used_once_and_enrolment_keeps_a_confirmed_secret() {
    for db in each_backend().await {
        let d = demo(&db).await;
        assert!(d
            .store
            .start_totp_enrolment(&d.user, b"sealed-1", 1)
            .await
            .expect("start"));
        assert!(d
            .store
            .start_totp_enrolment(&d.user, b"sealed-2", 2)
            .await
            .expect("restart"));
        let pending = d
            .store
            .totp_credential(&d.user)
            .await
            .expect("get")
            .expect("cred");
        assert_eq!(pending.secret_sealed, b"sealed-2");
        assert_eq!(pending.confirmed_at, None);

        assert!(d.store.use_totp_step(&d.user, 100, 5).await.expect("use"));
        assert!(!d
            .store
            .use_totp_step(&d.user, 100, 6)
            .await
            .expect("replay"));
        assert!(!d.store.use_totp_step(&d.user, 99, 6).await.expect("older"));
        assert!(d.store.use_totp_step(&d.user, 101, 7).await.expect("next"));
        let confirmed = d
            .store
            .totp_credential(&d.user)
            .await
            .expect("get")
            .expect("cred");
        assert_eq!(confirmed.confirmed_at, Some(5));
        assert_eq!(confirmed.last_step, 101);
        assert!(!d
            .store
            .start_totp_enrolment(&d.user, b"sealed-3", 8)
            .await
            .expect("refused"));

        d.store.delete_totp(&d.user).await.expect("delete");
        assert!(d
            .store
            .totp_credential(&d.user)
            .await
            .expect("get")
            .is_none());
    }
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_replaced_as_a_set() {
    for db in each_backend().await {
        let d = demo(&db).await;
        let (codes, hashes) = recovery::generate();
        d.store
            .replace_recovery_codes(&d.user, &hashes, 1)
            .await
            .expect("store");
        assert_eq!(d.store.recovery_codes_left(&d.user).await.expect("n"), 10);
        let typed = recovery::hash(&codes[0].to_lowercase());
        assert!(d
            .store
            .use_recovery_code(&d.user, &typed, 2)
            .await
            .expect("use"));
        assert!(!d
            .store
            .use_recovery_code(&d.user, &typed, 3)
            .await
            .expect("again"));
        assert_eq!(d.store.recovery_codes_left(&d.user).await.expect("n"), 9);

        let (_, fresh) = recovery::generate();
        d.store
            .replace_recovery_codes(&d.user, &fresh, 4)
            .await
            .expect("replace");
        let old = recovery::hash(&codes[1]);
        assert!(!d
            .store
            .use_recovery_code(&d.user, &old, 5)
            .await
            .expect("old set"));
        assert_eq!(d.store.recovery_codes_left(&d.user).await.expect("n"), 10);
    }
}

#[tokio::test]
async fn passkeys_round_trip_and_belong_to_one_user() {
    for db in each_backend().await {
        let d = demo(&db).await;
        let key = StoredPasskey {
            credential_id: "cred-1".into(),
            user_id: d.user.clone(),
            name: "Laptop".into(),
            credential: "{}".into(),
            created_at: 1,
            last_used_at: None,
        };
        d.store.insert_passkey(&key).await.expect("insert");
        assert!(matches!(
            d.store.insert_passkey(&key).await,
            Err(crate::CoreError::AlreadyExists { .. })
        ));
        d.store
            .update_passkey_use("cred-1", "{\"n\":1}", 9)
            .await
            .expect("use");
        let stored = d.store.passkey("cred-1").await.expect("get").expect("key");
        assert_eq!(stored.credential, "{\"n\":1}");
        assert_eq!(stored.last_used_at, Some(9));
        assert_eq!(d.store.passkeys_of(&d.user).await.expect("list").len(), 1);
        assert!(!d
            .store
            .delete_passkey("someone-else", "cred-1")
            .await
            .expect("d"));
        assert!(d.store.delete_passkey(&d.user, "cred-1").await.expect("d"));
        assert!(d.store.passkeys_of(&d.user).await.expect("list").is_empty());
    }
}

#[tokio::test]
async fn policies_round_trip_as_json() {
    for db in each_backend().await {
        let d = demo(&db).await;
        let policy = Policy {
            id: "p1".into(),
            name: "Engineers read".into(),
            description: String::new(),
            conditions: vec![Condition {
                key: "user.roles".into(),
                operator: Operator::Contains,
                values: vec!["engineer".into()],
            }],
            allows: vec![Allow {
                mcp_server_id: d.server.clone(),
                scopes: vec!["notes.read".into()],
            }],
        };
        d.store.insert_policy(&policy, 1).await.expect("insert");
        assert_eq!(d.store.policies().await.expect("list"), [policy]);
    }
}

#[tokio::test]
async fn hooks_keep_their_order_and_sealed_key_and_families_keep_their_claims() {
    use crate::enrich::FailurePolicy;
    use crate::store::hooks::IssuanceHook;
    for db in each_backend().await {
        let d = demo(&db).await;
        let hook = |id: &str, enabled: bool| IssuanceHook {
            id: id.into(),
            mcp_server_id: d.server.clone(),
            position: 0,
            name: format!("hook {id}"),
            url: "https://hooks.example/x".into(),
            secret_hint: "abcd".into(),
            timeout_ms: 2_000,
            on_failure: FailurePolicy::Continue,
            enabled,
            created_at: 1,
        };
        let first = d
            .store
            .insert_hook(&hook("h1", true), None, b"sealed-1")
            .await
            .expect("h1");
        let second = d
            .store
            .insert_hook(&hook("h2", false), None, b"sealed-2")
            .await
            .expect("h2");
        let early = d
            .store
            .insert_hook(&hook("h0", true), Some(0), b"sealed-0")
            .await
            .expect("h0");
        assert_eq!((first.position, second.position, early.position), (1, 2, 0));
        let listed: Vec<String> = d
            .store
            .hooks_of(&d.server)
            .await
            .expect("list")
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(listed, vec!["h0", "h1", "h2"]);
        let callable = d.store.hooks_to_call(&d.server).await.expect("callable");
        assert_eq!(callable.len(), 2, "a disabled hook is not called");
        assert_eq!(callable[1].secret_sealed, b"sealed-1");
        assert_eq!(callable[1].hook.on_failure, FailurePolicy::Continue);
        assert!(d
            .store
            .delete_hook("another-server", "h1")
            .await
            .expect("delete")
            .is_none());
        assert_eq!(
            d.store
                .delete_hook(&d.server, "h1")
                .await
                .expect("delete")
                .map(|h| h.id),
            Some("h1".into())
        );

        let mut claims = serde_json::Map::new();
        claims.insert("department".into(), serde_json::json!("finance"));
        let family = TokenFamily {
            id: format!("fam-claims-{}", db.url.len()),
            agent_id: DEMO_AGENT_ID.into(),
            user_id: Some(d.user.clone()),
            tenant_id: Some(d.tenant.clone()),
            mcp_server_id: d.server.clone(),
            auth_time: Some(1),
            acr: None,
            amr: vec![],
            created_at: 1,
            expires_at: i64::MAX / 2,
            revoked_at: None,
            claims: claims.clone(),
        };
        let record = crate::store::tokens::CodeRecord {
            family_id: family.id.clone(),
            agent_id: family.agent_id.clone(),
            user_id: d.user.clone(),
            tenant_id: Some(d.tenant.clone()),
            mcp_server_id: d.server.clone(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: "c".into(),
            resource: DEMO_RESOURCE_URL.into(),
            scopes: "notes.read".into(),
            auth_time: 1,
            acr: None,
            amr: "[]".into(),
            created_at: 1,
            expires_at: i64::MAX / 2,
        };
        let hash =
            crate::secret::Secret::generate(crate::secret::SecretKind::AuthorizationCode).hash();
        d.store
            .insert_code(&family, &hash, &record)
            .await
            .expect("code");
        let read = d
            .store
            .family(&family.id)
            .await
            .expect("read")
            .expect("family");
        assert_eq!(read.claims, claims);
    }
}

#[tokio::test]
async fn tenant_sso_settings_and_linked_identities_round_trip() {
    use crate::tenancy::SsoSettings;
    for db in each_backend().await {
        let d = demo(&db).await;
        let settings = SsoSettings {
            tenant_id: d.tenant.clone(),
            issuer_url: "https://login.acme.example".into(),
            client_id: "mandate".into(),
            scopes: vec!["openid".into(), "groups".into()],
            email_domains: vec!["acme.example".into()],
            enforce: true,
            groups_claim: "groups".into(),
            role_mapping: [("finance".to_owned(), vec!["approver".to_owned()])].into(),
            updated_at: 5,
        };
        d.store.put_sso(&settings, b"sealed").await.expect("put");
        let (read, sealed) = d
            .store
            .sso_of(&d.tenant)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            (read, sealed.as_slice()),
            (settings.clone(), b"sealed".as_slice())
        );
        let changed = SsoSettings {
            enforce: false,
            updated_at: 6,
            ..settings.clone()
        };
        d.store
            .put_sso(&changed, b"sealed-2")
            .await
            .expect("replace");
        assert_eq!(d.store.all_sso().await.expect("all"), vec![changed]);

        assert_eq!(
            d.store
                .sso_identity_user("https://login.acme.example", "s1")
                .await
                .expect("none"),
            None
        );
        for now in [10, 20] {
            d.store
                .link_sso_identity("https://login.acme.example", "s1", &d.user, &d.tenant, now)
                .await
                .expect("link");
        }
        assert_eq!(
            d.store
                .sso_identity_user("https://login.acme.example", "s1")
                .await
                .expect("linked"),
            Some(d.user.clone())
        );
        assert!(d.store.delete_sso(&d.tenant).await.expect("delete"));
        assert!(!d.store.delete_sso(&d.tenant).await.expect("again"));
        assert!(d.store.sso_of(&d.tenant).await.expect("read").is_none());
    }
}
