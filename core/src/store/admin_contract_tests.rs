//! The console's operations on agents and MCP servers, against SQLite and PostgreSQL.

use std::collections::BTreeMap;

use crate::access::AdminAccess;
use crate::admin::agents::{self, AgentChanges, MachineAgentDraft};
use crate::admin::mcp_servers::draft::{McpServerDraft, ScopeDraft};
use crate::admin::mcp_servers::{self as servers};
use crate::admin::AdminError;
use crate::ids::{TenantId, UserId};
use crate::model::{Agent, AgentKind, TrustLevel};
use crate::store::agent_admin::{AgentFilter, UsedFilter};
use crate::store::Store;
use crate::testing::each_backend;

fn project() -> AdminAccess {
    AdminAccess::Project {
        user: UserId::from_string("admin"),
    }
}

fn tenant_admin() -> AdminAccess {
    AdminAccess::Tenants {
        user: UserId::from_string("t-admin"),
        tenants: vec![TenantId::from_string("acme")],
    }
}

fn notes_draft(slug: &str, resource: &str) -> McpServerDraft {
    McpServerDraft {
        slug: slug.into(),
        name: format!("Server {slug}"),
        resource_url: resource.into(),
        scopes: ["notes.read", "notes.write"]
            .map(|n| ScopeDraft {
                name: n.into(),
                ..ScopeDraft::default()
            })
            .to_vec(),
        ..McpServerDraft::default()
    }
}

async fn migrated(db: &crate::testing::TestDatabase) -> Store {
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test]
async fn servers_are_created_updated_with_their_scopes_and_deleted() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let created = servers::create(
            &store,
            &project(),
            &notes_draft("notes", "https://n.example/mcp"),
            10,
        )
        .await
        .expect("create");
        // Same slug, or the same resource up to a trailing slash: field errors.
        let clash = servers::create(
            &store,
            &project(),
            &notes_draft("notes", "https://n.example/mcp/"),
            11,
        )
        .await;
        let Err(AdminError::Invalid(fields)) = clash else {
            panic!("{:?}: clash should be refused", db.backend)
        };
        assert!(fields.contains_key("slug") && fields.contains_key("resource_url"));

        let mut edit = notes_draft("notes-v2", "https://n.example/v2");
        edit.scopes.remove(0);
        edit.scopes[0].sensitive = true;
        let (before, after) =
            servers::update(&store, &project(), created.server.id.as_str(), &edit, 12)
                .await
                .expect("update");
        assert_eq!(before.scopes.len(), 2);
        assert_eq!(after.server.id, created.server.id);
        assert_eq!(after.server.created_at, 10);
        let stored = servers::get(&store, &project(), "notes-v2")
            .await
            .expect("by slug");
        assert_eq!(stored.scopes.len(), 1);
        assert!(stored.scopes[0].sensitive);

        assert!(matches!(
            servers::list(&store, &tenant_admin()).await,
            Err(AdminError::Forbidden(_))
        ));
        servers::delete(&store, &project(), "notes-v2")
            .await
            .expect("delete");
        assert!(matches!(
            servers::get(&store, &project(), "notes-v2").await,
            Err(AdminError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn machine_agents_get_only_what_they_are_allowed_even_on_later_servers() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let a = servers::create(
            &store,
            &project(),
            &notes_draft("a", "https://a.example"),
            1,
        )
        .await
        .expect("a");
        let draft = MachineAgentDraft {
            name: "Nightly sync".into(),
            tags: vec!["Ops".into()],
            allowances: BTreeMap::from([("a".to_owned(), vec!["notes.read".to_owned()])]),
        };
        let (agent, secret) = agents::create_machine(&store, &project(), &draft, 2)
            .await
            .expect("create");
        assert!(secret.expose().starts_with("mdt_cs_"));
        assert_eq!(agent.tags, ["ops"]);
        assert_eq!(
            store
                .agent_allowance(&agent.id, &a.server.id)
                .await
                .expect("allowance"),
            Some(vec!["notes.read".to_owned()])
        );
        // A server created afterwards allows the machine agent nothing.
        let b = servers::create(
            &store,
            &project(),
            &notes_draft("b", "https://b.example"),
            3,
        )
        .await
        .expect("b");
        assert_eq!(
            store
                .agent_allowance(&agent.id, &b.server.id)
                .await
                .expect("allowance"),
            Some(vec![])
        );
        // Unknown scopes are field errors.
        let bad = MachineAgentDraft {
            allowances: BTreeMap::from([("a".to_owned(), vec!["nope".to_owned()])]),
            ..draft.clone()
        };
        assert!(matches!(
            agents::create_machine(&store, &project(), &bad, 4).await,
            Err(AdminError::Invalid(f)) if f.contains_key("allowances.a")
        ));
        // Rotation replaces the secret hash.
        let old = store
            .agent_secrets(&agent.id)
            .await
            .expect("secrets")
            .client_secret;
        agents::rotate_secret(&store, &project(), agent.id.as_str(), 5)
            .await
            .expect("rotate");
        let new = store
            .agent_secrets(&agent.id)
            .await
            .expect("secrets")
            .client_secret;
        assert_ne!(
            old.map(|h| h.as_str().to_owned()),
            new.map(|h| h.as_str().to_owned())
        );
    }
}

#[tokio::test]
async fn changes_disable_and_delete_an_agent() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        let (agent, _) = agents::create_machine(
            &store,
            &project(),
            &MachineAgentDraft {
                name: "Bot".into(),
                ..MachineAgentDraft::default()
            },
            1,
        )
        .await
        .expect("create");
        let id = agent.id.as_str();
        let changes = AgentChanges {
            trust_level: Some("verified".into()),
            tags: Some(vec!["x".into()]),
            disabled: Some(true),
            ..AgentChanges::default()
        };
        let (before, after) = agents::update(&store, &project(), id, &changes, 2)
            .await
            .expect("update");
        assert_eq!(before.agent.trust_level, TrustLevel::Admin);
        assert_eq!(after.agent.trust_level, TrustLevel::Verified);
        assert!(after.agent.disabled && after.agent.tags == ["x"]);
        let wrong = AgentChanges {
            trust_level: Some("root".into()),
            ..AgentChanges::default()
        };
        assert!(matches!(
            agents::update(&store, &project(), id, &wrong, 3).await,
            Err(AdminError::Invalid(f)) if f.contains_key("trust_level")
        ));
        agents::delete(&store, &project(), id)
            .await
            .expect("delete");
        assert!(store.agent(&agent.id).await.expect("read").is_none());
        assert!(matches!(
            agents::delete(&store, &project(), id).await,
            Err(AdminError::NotFound(_))
        ));
    }
}

fn agent(n: usize, kind: AgentKind, at: i64) -> Agent {
    Agent {
        kind,
        trust_level: if kind == AgentKind::Dcr {
            TrustLevel::Dcr
        } else {
            TrustLevel::Admin
        },
        tags: if n.is_multiple_of(2) {
            vec!["even".into()]
        } else {
            vec![]
        },
        created_at: at,
        last_used_at: n.is_multiple_of(3).then_some(at + 5),
        name: format!("Agent {n:03}"),
        ..Agent::sample(&format!("agent-{n:03}"))
    }
}

#[tokio::test]
async fn the_agent_list_filters_and_pages_without_gaps_or_repeats() {
    for db in each_backend().await {
        let store = migrated(&db).await;
        for n in 0..25 {
            let kind = if n < 10 {
                AgentKind::Dcr
            } else {
                AgentKind::Manual
            };
            // Pairs share a creation time: the id breaks ties.
            store
                .insert_agent(&agent(n, kind, (n / 2) as i64), &Default::default())
                .await
                .expect("insert");
        }
        let mut seen = Vec::new();
        let mut filter = AgentFilter::default();
        loop {
            let page = agents::list(&store, &project(), &filter, 7)
                .await
                .expect("page");
            seen.extend(page.agents.iter().map(|a| a.id.to_string()));
            match page.next {
                Some(cursor) => filter.after = agents::parse_cursor(&cursor),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25).map(|n| format!("agent-{n:03}")).collect();
        expected.reverse();
        assert_eq!(
            seen, expected,
            "{:?}: newest first, every agent once",
            db.backend
        );

        let count = |filter: AgentFilter| {
            let store = store.clone();
            async move {
                agents::list(&store, &project(), &filter, 200)
                    .await
                    .expect("list")
                    .agents
                    .len()
            }
        };
        assert_eq!(
            count(AgentFilter {
                kind: Some(AgentKind::Dcr),
                ..Default::default()
            })
            .await,
            10
        );
        assert_eq!(
            count(AgentFilter {
                tag: Some("even".into()),
                ..Default::default()
            })
            .await,
            13
        );
        assert_eq!(
            count(AgentFilter {
                text: Some("AGENT 02".into()),
                ..Default::default()
            })
            .await,
            5
        );
        assert_eq!(
            count(AgentFilter {
                text: Some("%".into()),
                ..Default::default()
            })
            .await,
            0
        );
        assert_eq!(
            count(AgentFilter {
                used: Some(UsedFilter::Never),
                ..Default::default()
            })
            .await,
            16
        );
        assert_eq!(
            count(AgentFilter {
                used: Some(UsedFilter::Since(10)),
                ..Default::default()
            })
            .await,
            5,
            "used at 11, 12, 14, 15 and 17 (n = 12, 15, 18, 21, 24)"
        );
    }
}

#[tokio::test]
async fn a_tenant_admin_reaches_only_their_tenants_people() {
    use crate::admin::{tenants, users};
    use crate::model::{Membership, User};
    use crate::store::tenants::new_tenant;
    for db in each_backend().await {
        let store = migrated(&db).await;
        let acme = new_tenant("acme", "Acme", &[], 1);
        let globex = new_tenant("globex", "Globex", &[], 1);
        store.insert_tenant(&acme).await.expect("acme");
        store.insert_tenant(&globex).await.expect("globex");
        let mut ids = Vec::new();
        for (n, email, homes) in [
            (1, "a@x.example", vec![&acme]),
            (2, "b@x.example", vec![&acme, &globex]),
            (3, "c@x.example", vec![&globex]),
        ] {
            let user = User {
                id: UserId::generate(),
                email: email.into(),
                display_name: email.into(),
                must_change_password: false,
                is_project_admin: false,
                disabled: false,
                created_at: n,
            };
            store.insert_user(&user, None).await.expect("user");
            for t in homes {
                store
                    .add_membership(&Membership {
                        tenant_id: t.id.clone(),
                        user_id: user.id.clone(),
                        roles: vec![],
                        permissions: vec![],
                        is_tenant_admin: false,
                        created_at: n,
                    })
                    .await
                    .expect("member");
            }
            ids.push(user.id);
        }
        let admin = AdminAccess::Tenants {
            user: UserId::from_string("acme-admin"),
            tenants: vec![acme.id.clone()],
        };
        let page = users::list(&store, &admin, "", "", 50).await.expect("list");
        let emails: Vec<&str> = page.users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails, ["b@x.example", "a@x.example"], "{:?}", db.backend);
        assert!(matches!(
            users::get(&store, &admin, "c@x.example").await,
            Err(AdminError::NotFound(_))
        ));
        let b = users::get(&store, &admin, "b@x.example").await.expect("b");
        assert_eq!(b.memberships.len(), 1, "only acme's membership is shown");
        assert!(matches!(
            users::set_disabled(&store, &admin, "b@x.example", true, 5).await,
            Err(AdminError::Forbidden(_))
        ));
        let (before, after) = users::set_disabled(&store, &admin, "a@x.example", true, 5)
            .await
            .expect("a is acme's alone");
        assert!(
            !before.disabled && after.disabled,
            "before / after for the audit trail"
        );
        assert!(matches!(
            tenants::find(&store, &admin, "globex").await,
            Err(AdminError::NotFound(_))
        ));
        assert!(matches!(
            tenants::create(&store, &admin, &tenants::TenantDraft::default(), 5).await,
            Err(AdminError::Forbidden(_))
        ));
        let draft = users::MembershipDraft {
            tenant: "globex".into(),
            ..users::MembershipDraft::default()
        };
        assert!(matches!(
            users::set_membership(&store, &admin, "a@x.example", &draft, 5).await,
            Err(AdminError::Invalid(_))
        ));
        let _ = ids;
    }
}

#[tokio::test]
async fn policies_page_in_creation_order() {
    use crate::admin::policies;
    use crate::policy::draft::PolicyDraft;
    use crate::policy::Allow;
    for db in each_backend().await {
        let store = migrated(&db).await;
        let server = servers::create(
            &store,
            &project(),
            &notes_draft("n", "https://n.example"),
            1,
        )
        .await
        .expect("server");
        for i in 0..5 {
            let draft = PolicyDraft {
                name: format!("Policy {i}"),
                allows: vec![Allow {
                    mcp_server_id: server.server.id.to_string(),
                    scopes: vec!["notes.read".into()],
                }],
                ..PolicyDraft::default()
            };
            policies::create(&store, &project(), &draft, i)
                .await
                .expect("policy");
        }
        let mut names = Vec::new();
        let mut cursor = String::new();
        loop {
            let (page, next) = policies::list(&store, &project(), &cursor, 2)
                .await
                .expect("page");
            assert!(page.len() <= 2);
            names.extend(page.into_iter().map(|p| p.name));
            match next {
                Some(c) => cursor = c,
                None => break,
            }
        }
        assert_eq!(
            names,
            (0..5).map(|i| format!("Policy {i}")).collect::<Vec<_>>(),
            "{:?}",
            db.backend
        );
        assert!(matches!(
            policies::list(&store, &tenant_admin(), "", 10).await,
            Err(AdminError::Forbidden(_))
        ));
    }
}
