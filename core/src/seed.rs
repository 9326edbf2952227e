//! `mandate seed demo`: two tenants, a user in both, the "demo-notes" MCP server with its
//! scopes, and a public agent. Idempotent: what exists is left as it is.

use crate::clock::UnixMillis;
use crate::crypto::random_token;
use crate::error::{CoreError, CoreResult};
use crate::identity::password::PasswordHasherPool;
use crate::ids::{AgentId, UserId};
use crate::model::{Agent, AgentKind, ClientType, McpServer, Membership, Scope, TrustLevel, User};
use crate::store::tenants::new_tenant;
use crate::store::Store;

pub const DEMO_SERVER_SLUG: &str = "demo-notes";
pub const DEMO_AGENT_ID: &str = "demo-agent";
pub const DEMO_USER_EMAIL: &str = "demo@example.com";
/// Where `mandate demo-mcp` listens by default.
pub const DEMO_RESOURCE_URL: &str = "http://localhost:4000/mcp";

/// What the demo seed created; `None` / `false` where the thing existed already.
#[derive(Debug, Default)]
pub struct DemoSeed {
    pub tenants_created: Vec<String>,
    /// The demo user's password, when this run created the user.
    pub user_password: Option<String>,
    pub server_created: bool,
    pub agent_created: bool,
}

/// Seeds the demo data, leaving anything that exists untouched.
pub async fn seed_demo(
    store: &Store,
    hasher: &PasswordHasherPool,
    resource_url: &str,
    now: UnixMillis,
) -> CoreResult<DemoSeed> {
    seed_demo_with_password(store, hasher, resource_url, None, now).await
}

/// As [`seed_demo`], giving the demo user `password` (when it creates the user) instead of a
/// random one: for scripted demos and browser tests.
pub async fn seed_demo_with_password(
    store: &Store,
    hasher: &PasswordHasherPool,
    resource_url: &str,
    password: Option<String>,
    now: UnixMillis,
) -> CoreResult<DemoSeed> {
    let mut report = DemoSeed::default();

    let mut tenants = Vec::new();
    for (slug, name, domain) in [
        ("acme", "Acme Corp", "acme.example"),
        ("globex", "Globex", "globex.example"),
    ] {
        let tenant = match store.tenant_by_slug(slug).await? {
            Some(t) => t,
            None => {
                let t = new_tenant(slug, name, &[domain], now);
                created(store.insert_tenant(&t).await)?;
                report.tenants_created.push(slug.to_owned());
                t
            }
        };
        tenants.push(tenant);
    }

    let user = match store.user_by_email(DEMO_USER_EMAIL).await? {
        Some(u) => u,
        None => {
            let password = password.unwrap_or_else(|| random_token(12));
            let user = User {
                id: UserId::generate(),
                email: DEMO_USER_EMAIL.into(),
                display_name: "Demo User".into(),
                must_change_password: false,
                is_project_admin: false,
                disabled: false,
                created_at: now,
            };
            let hash = hasher.hash(password.clone()).await?;
            created(store.insert_user(&user, Some(&hash)).await)?;
            report.user_password = Some(password);
            user
        }
    };
    for (tenant, roles) in tenants
        .iter()
        .zip([["member", "engineer"], ["member", "viewer"]])
    {
        store
            .add_membership(&Membership {
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                permissions: vec![],
                is_tenant_admin: false,
                created_at: now,
            })
            .await?;
    }

    if store.mcp_server_by_slug(DEMO_SERVER_SLUG).await?.is_none() {
        let mut server = McpServer::new(DEMO_SERVER_SLUG, "Demo Notes", resource_url, now);
        server.description = "A small notes service that ships with Mandate.".into();
        created(store.insert_mcp_server(&server, &demo_scopes()).await)?;
        report.server_created = true;
    }

    let agent_id = AgentId::from_string(DEMO_AGENT_ID);
    if store.agent(&agent_id).await?.is_none() {
        let agent = Agent {
            id: agent_id,
            name: "Demo Agent".into(),
            kind: AgentKind::Manual,
            trust_level: TrustLevel::Admin,
            client_type: ClientType::Public,
            token_endpoint_auth_method: "none".into(),
            // RFC 8252 §7.3: loopback redirects match on any port.
            redirect_uris: vec![
                "http://127.0.0.1/callback".into(),
                "http://localhost/callback".into(),
            ],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            tags: vec!["demo".into()],
            logo_uri: None,
            application_type: "native".into(),
            scope: String::new(),
            registered_at_server: None,
            disabled: false,
            created_at: now,
            last_used_at: None,
        };
        created(store.insert_agent(&agent, &Default::default()).await)?;
        report.agent_created = true;
    }
    Ok(report)
}

/// A concurrent seed that inserted the same row first is not a failure.
fn created(result: CoreResult<()>) -> CoreResult<()> {
    match result {
        Err(CoreError::AlreadyExists { .. }) => Ok(()),
        other => other,
    }
}

fn demo_scopes() -> Vec<Scope> {
    let scope = |name: &str, display: &str, description: &str, sensitive: bool| Scope {
        name: name.into(),
        display_name: display.into(),
        description: description.into(),
        sensitive,
        mandatory: false,
        default_on: true,
    };
    vec![
        scope(
            "notes.read",
            "Read notes",
            "See the titles and contents of your notes.",
            false,
        ),
        scope(
            "notes.write",
            "Write notes",
            "Create new notes and change or delete the ones you have.",
            true,
        ),
        scope(
            "notes.share",
            "Share notes",
            "Share your notes with other people in your organization.",
            false,
        ),
    ]
}
