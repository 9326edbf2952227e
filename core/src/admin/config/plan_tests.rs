use super::*;
use crate::admin::config::{parse, render};
use crate::admin::mcp_servers::draft::ScopeDraft;
use crate::policy::{Condition, Operator};
use crate::store::tenants::new_tenant;

fn scope(name: &str) -> Scope {
    Scope {
        name: name.into(),
        display_name: name.into(),
        description: String::new(),
        sensitive: false,
        mandatory: false,
        default_on: true,
    }
}

fn snapshot() -> Snapshot {
    let server = McpServer::new("notes", "Notes", "https://notes.example/mcp", 1);
    let policy = Policy {
        id: "p1".into(),
        name: "Readers".into(),
        description: String::new(),
        conditions: vec![Condition {
            key: "user.roles".into(),
            operator: Operator::Contains,
            values: vec!["reader".into()],
        }],
        allows: vec![Allow {
            mcp_server_id: server.id.to_string(),
            scopes: vec!["notes.read".into()],
        }],
    };
    let agent = Agent {
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        application_type: "native".into(),
        ..Agent::sample("cli-agent")
    };
    Snapshot {
        tenants: vec![new_tenant("acme", "Acme", &["acme.example"], 1)],
        servers: vec![(server, vec![scope("notes.read"), scope("notes.write")])],
        policies: vec![policy],
        agents: vec![(agent, BTreeMap::new())],
        registered: vec!["dcr-1".into()],
    }
}

fn kinds(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(ToString::to_string).collect()
}

#[test]
fn the_exported_document_plans_no_change() {
    let current = snapshot();
    let plan = plan(&current, &current.as_file());
    assert_eq!(plan.errors, Vec::<String>::new());
    assert!(plan.is_noop(), "{:?}", kinds(&plan));
    assert_eq!(plan.changes.len(), 4);
}

#[test]
fn exports_survive_a_toml_round_trip() {
    let file = snapshot().as_file();
    let text = render(&file).expect("toml");
    assert_eq!(parse(&text), Ok(file));
    assert!(
        parse("[[tenants]]\nslug = 'x'\nnmae = 'typo'\n").is_err(),
        "unknown fields refused"
    );
}

#[test]
fn changes_are_named_field_by_field_and_new_things_are_creates() {
    let current = snapshot();
    let mut file = current.as_file();
    file.tenants[0].name = "Acme Corp".into();
    file.tenants.push(TenantConfig {
        slug: "globex".into(),
        name: "Globex".into(),
        email_domains: vec![],
        logo_url: None,
    });
    file.mcp_servers[0].access_token_ttl_secs = 300;
    let mut calendar = McpServerDraft {
        slug: "calendar".into(),
        name: "Calendar".into(),
        resource_url: "https://cal.example/mcp".into(),
        ..McpServerDraft::default()
    };
    calendar.scopes.push(ScopeDraft {
        name: "cal.read".into(),
        ..ScopeDraft::default()
    });
    file.mcp_servers.push(calendar);
    // A policy on the server this same document creates.
    file.policies.push(PolicyConfig {
        name: "Calendar readers".into(),
        allows: vec![AllowConfig {
            mcp_server: "calendar".into(),
            scopes: vec!["cal.read".into()],
        }],
        ..PolicyConfig::default()
    });
    file.agents[0].tags = vec!["cli".into()];
    let plan = plan(&current, &file);
    assert_eq!(plan.errors, Vec::<String>::new());
    assert_eq!(
        kinds(&plan),
        [
            "~ tenant acme (name)",
            "+ tenant globex",
            "~ mcp_server notes (access_token_ttl_secs)",
            "+ mcp_server calendar",
            "= policy \"Readers\"",
            "+ policy \"Calendar readers\"",
            "~ agent cli-agent (tags)",
        ]
    );
}

#[test]
fn every_mistake_is_listed_and_self_registered_agents_are_off_limits() {
    let current = snapshot();
    let mut file = current.as_file();
    file.tenants[0].slug = "Bad Slug".into();
    file.mcp_servers[0].resource_url = "ftp://x".into();
    file.policies[0].allows[0].mcp_server = "nowhere".into();
    file.agents[0].redirect_uris = vec!["javascript:alert(1)".into()];
    file.agents.push(AgentConfig {
        client_id: "dcr-1".into(),
        name: "x".into(),
        ..AgentConfig::default()
    });
    file.agents.push(AgentConfig {
        client_id: "machine".into(),
        name: "Machine".into(),
        client_type: "confidential".into(),
        allowances: Some(BTreeMap::from([(
            "notes".to_owned(),
            vec!["notes.delete".to_owned()],
        )])),
        ..AgentConfig::default()
    });
    let plan = plan(&current, &file);
    let all = plan.errors.join("\n");
    for expected in [
        "tenant \"Bad Slug\"",
        "mcp_server \"notes\": resource_url",
        "no MCP server \"nowhere\"",
        "agent \"cli-agent\"",
        "agent \"dcr-1\": a self-registered agent",
        "notes has no scope \"notes.delete\"",
    ] {
        assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
    }
}

#[test]
fn a_machine_agent_defaults_to_client_credentials_and_public_ones_need_redirects() {
    let current = snapshot();
    let servers = BTreeMap::from([(
        "notes".to_owned(),
        ("id-notes".to_owned(), vec!["notes.read".to_owned()]),
    )]);
    let machine = AgentConfig {
        client_id: "m".into(),
        name: "M".into(),
        client_type: "confidential".into(),
        allowances: Some(BTreeMap::new()),
        ..AgentConfig::default()
    };
    let shape = agent_shape(&machine, &servers).expect("valid");
    assert_eq!(shape.grant_types, ["client_credentials"]);
    assert_eq!(
        shape.allowances,
        Some(BTreeMap::from([("id-notes".to_owned(), vec![])])),
        "servers left out allow nothing"
    );
    let public = AgentConfig {
        client_id: "p".into(),
        name: "P".into(),
        ..AgentConfig::default()
    };
    assert!(agent_shape(&public, &servers).is_err());
    let _ = current;
}
