//! The token vault's storage, against a fresh SQLite file and a fresh PostgreSQL database:
//! providers (slug unique, secret apart), one connection per owner and provider (replaced on
//! reconnect), refreshes that do not resurrect a disconnected row, policies, agents'
//! allowances, and the cascades when a provider or an agent goes.

use std::collections::BTreeMap;

use crate::access::AdminAccess;
use crate::admin::agents::{create_machine, MachineAgentDraft};
use crate::connections::policy::{ConnectionAllow, ConnectionPolicy};
use crate::connections::{ConnectionProvider, Owner, OwnerKind, ProviderKind};
use crate::error::CoreError;
use crate::ids::UserId;
use crate::store::connections::SealedTokens;
use crate::store::Store;
use crate::testing::each_backend;

async fn migrated(db: &crate::testing::TestDatabase) -> Store {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    store
}

fn provider(id: &str, slug: &str) -> ConnectionProvider {
    ConnectionProvider {
        id: id.into(),
        slug: slug.into(),
        name: slug.to_uppercase(),
        kind: ProviderKind::Oauth2,
        authorization_endpoint: "https://p.example/authorize".into(),
        token_endpoint: "https://p.example/token".into(),
        client_id: "c".into(),
        scopes: vec!["repo".into()],
        mcp_server_ids: vec![],
        created_at: 1,
        updated_at: 1,
    }
}

fn tokens<'a>(sealed: &'a [u8], scopes: &'a [String], expires_at: Option<i64>) -> SealedTokens<'a> {
    SealedTokens {
        sealed,
        scopes,
        expires_at,
        refreshable: true,
    }
}

#[tokio::test]
async fn providers_connections_policies_and_allowances_round_trip() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        store
            .put_connection_provider(&provider("cp_1", "github"), b"sealed-secret")
            .await
            .expect("put");
        let taken = store
            .put_connection_provider(&provider("cp_2", "github"), b"")
            .await;
        assert!(
            matches!(taken, Err(CoreError::AlreadyExists { .. })),
            "{:?}",
            db.backend
        );
        let (by_slug, secret) = store
            .connection_provider("github")
            .await
            .expect("read")
            .expect("found");
        assert_eq!(by_slug, provider("cp_1", "github"));
        assert_eq!(secret, b"sealed-secret");
        assert!(store
            .connection_provider_by_slug("cp_1")
            .await
            .expect("read")
            .is_none());
        assert!(store
            .connection_provider_by_slug("github")
            .await
            .expect("read")
            .is_some());
        assert!(store
            .connection_provider("cp_1")
            .await
            .expect("read")
            .is_some());

        let ada = Owner::new(OwnerKind::User, "u-ada");
        let scopes = vec!["repo".to_owned()];
        let first = store
            .put_connection("cp_1", &ada, &tokens(b"one", &scopes, Some(10)), 100)
            .await
            .expect("connect");
        assert_eq!((first.expires_at, first.refreshable), (Some(10), true));
        // Connecting again replaces the tokens; the connection keeps its id.
        let again = store
            .put_connection("cp_1", &ada, &tokens(b"two", &scopes, None), 200)
            .await
            .expect("reconnect");
        assert_eq!(again.id, first.id);
        assert_eq!(again.expires_at, None);
        let (_, sealed) = store
            .connection("cp_1", &ada)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(sealed, b"two");
        assert!(store
            .refresh_connection(&first.id, &tokens(b"three", &scopes, Some(99)), 300)
            .await
            .expect("refresh"));
        store.touch_connection(&first.id, 301).await.expect("touch");
        let due = store.connections_due(100, 10).await.expect("due");
        assert_eq!(due.len(), 1, "{:?}: expires at 99, before 100", db.backend);
        assert_eq!(due[0].1, b"three", "with its sealed tokens");
        assert!(store.connections_due(99, 10).await.expect("due").is_empty());
        store.mark_unrefreshable(&first.id).await.expect("mark");
        assert!(store
            .connections_due(100, 10)
            .await
            .expect("due")
            .is_empty());
        let (row, _) = store
            .connection("cp_1", &ada)
            .await
            .expect("read")
            .expect("row");
        assert!(!row.refreshable);
        let (row, sealed) = store
            .connection("cp_1", &ada)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(
            (sealed.as_slice(), row.expires_at, row.last_used_at),
            (&b"three"[..], Some(99), Some(301))
        );
        assert_eq!(store.connections_of(&ada).await.expect("mine").len(), 1);
        assert_eq!(store.connections_to("cp_1").await.expect("to").len(), 1);
        // Another owner of the same kind does not see it.
        let bob = Owner::new(OwnerKind::User, "u-bob");
        assert!(store
            .connection("cp_1", &bob)
            .await
            .expect("read")
            .is_none());

        // Disconnect; a refresh finishing afterwards does not bring it back.
        let gone = store.delete_connection("cp_1", &ada).await.expect("delete");
        assert_eq!(gone.map(|c| c.id), Some(first.id.clone()));
        assert!(!store
            .refresh_connection(&first.id, &tokens(b"late", &scopes, None), 400)
            .await
            .expect("refresh"));
        assert!(store
            .connection("cp_1", &ada)
            .await
            .expect("read")
            .is_none());
        assert!(store
            .delete_connection("cp_1", &ada)
            .await
            .expect("again")
            .is_none());

        let policy = ConnectionPolicy {
            id: "cpol_1".into(),
            name: "devs".into(),
            description: String::new(),
            conditions: vec![],
            allows: vec![ConnectionAllow {
                provider_id: "cp_1".into(),
                scopes: scopes.clone(),
            }],
        };
        store
            .put_connection_policy(&policy, 1)
            .await
            .expect("policy");
        let renamed = ConnectionPolicy {
            name: "developers".into(),
            ..policy.clone()
        };
        store
            .put_connection_policy(&renamed, 2)
            .await
            .expect("update");
        assert_eq!(
            store.connection_policies().await.expect("list"),
            vec![renamed]
        );
        assert!(store
            .delete_connection_policy("cpol_1")
            .await
            .expect("delete"));
        assert!(store.connection_policies().await.expect("list").is_empty());

        // An agent's allowance and its own connection go with the agent; the provider's
        // connections go with the provider.
        let access = AdminAccess::Project {
            user: UserId::from_string("admin"),
        };
        let draft = MachineAgentDraft {
            name: "back end".into(),
            ..MachineAgentDraft::default()
        };
        let (agent, _) = create_machine(&store, &access, &draft, 1)
            .await
            .expect("agent");
        let allowance = BTreeMap::from([("cp_1".to_owned(), scopes.clone())]);
        store
            .replace_agent_connection_allowance(agent.id.as_str(), &allowance)
            .await
            .expect("allowance");
        assert_eq!(
            store
                .agent_connection_allowance(agent.id.as_str())
                .await
                .expect("read"),
            allowance
        );
        let own = Owner::new(OwnerKind::Agent, agent.id.as_str());
        store
            .put_connection("cp_1", &own, &tokens(b"key", &[], None), 5)
            .await
            .expect("agent key");
        assert!(store.delete_agent(&agent.id).await.expect("delete agent"));
        assert!(store
            .connection("cp_1", &own)
            .await
            .expect("read")
            .is_none());
        assert!(store
            .agent_connection_allowance(agent.id.as_str())
            .await
            .expect("read")
            .is_empty());
        store
            .put_connection("cp_1", &ada, &tokens(b"x", &scopes, None), 6)
            .await
            .expect("connect");
        assert!(store
            .delete_connection_provider("cp_1")
            .await
            .expect("delete"));
        assert!(store.connections_to("cp_1").await.expect("to").is_empty());
        assert!(store
            .connection_provider("github")
            .await
            .expect("read")
            .is_none());
    }
}
