use std::collections::{BTreeMap, BTreeSet};

use super::draft::{validate_policy, validate_provider, ConnectionPolicyDraft, ProviderDraft};
use super::exchange::{decide, owners_for, ExchangeRefusal, ExchangeRequest, ACCESS_TOKEN_TYPE};
use super::policy::{agent_allowance, allowance, Allowance, ConnectionAllow, ConnectionPolicy};
use super::*;
use crate::oauth::params::Params;
use crate::oauth::ErrorCode;
use crate::policy::{Condition, Operator, Subject};

const PREFIX: &str = "https://hub.example/connections/";

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().copied()).expect("params")
}

fn request(extra: &[(&str, &str)]) -> Result<ExchangeRequest, crate::oauth::OAuthError> {
    let mut pairs = vec![
        ("subject_token", "tok"),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    pairs.extend_from_slice(extra);
    ExchangeRequest::from_params(&params(&pairs), PREFIX)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn exchange_names_the_connection_by_audience_or_resource() {
    let by_audience = request(&[("audience", "github")]).expect("audience");
    assert_eq!(by_audience.provider_slug, "github");
    assert_eq!(by_audience.scope, None);
    let by_resource = request(&[("resource", "https://hub.example/connections/github/")])
        .expect("resource with a trailing slash");
    assert_eq!(by_resource.provider_slug, "github");
    let both = request(&[
        ("audience", "github"),
        ("resource", "https://hub.example/connections/github"),
        ("scope", "repo  read:user"),
    ])
    .expect("agreeing");
    assert_eq!(both.scope, Some(set(&["read:user", "repo"])));
}

#[test]
fn exchange_refuses_what_rfc_8693_does_not_allow_here() {
    let code = |r: Result<ExchangeRequest, crate::oauth::OAuthError>| r.expect_err("refused").code;
    assert_eq!(code(request(&[])), ErrorCode::InvalidRequest);
    assert_eq!(
        code(request(&[
            ("audience", "a"),
            ("resource", "https://hub.example/connections/b")
        ])),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        code(request(&[(
            "resource",
            "https://evil.example/connections/github"
        )])),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        code(request(&[(
            "resource",
            "https://hub.example/connections/a/b"
        )])),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        code(request(&[
            ("audience", "g"),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token"
            )
        ])),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(request(&[("audience", "g"), ("actor_token", "x")])),
        ErrorCode::InvalidRequest
    );
    let wrong_type = ExchangeRequest::from_params(
        &params(&[
            ("subject_token", "t"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
            ("audience", "g"),
        ]),
        PREFIX,
    );
    assert_eq!(code(wrong_type), ErrorCode::InvalidRequest);
    let no_token = ExchangeRequest::from_params(
        &params(&[("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", "g")]),
        PREFIX,
    );
    assert_eq!(code(no_token), ErrorCode::InvalidRequest);
    // An empty scope asks for everything allowed, like an absent one.
    assert_eq!(
        request(&[("audience", "g"), ("scope", " ")])
            .expect("ok")
            .scope,
        None
    );
}

#[test]
fn a_person_reaches_their_own_then_their_tenants_connection_a_machine_only_its_own() {
    assert_eq!(
        owners_for("u1", "agent", Some("t1")),
        vec![
            Owner::new(OwnerKind::User, "u1"),
            Owner::new(OwnerKind::Tenant, "t1")
        ]
    );
    assert_eq!(
        owners_for("agent", "agent", None),
        vec![Owner::new(OwnerKind::Agent, "agent")]
    );
    assert_eq!(
        owners_for("u1", "agent", None),
        vec![Owner::new(OwnerKind::User, "u1")]
    );
}

fn allowed(scopes: &[&str]) -> Allowance {
    Allowance {
        scopes: set(scopes),
        matched: vec!["p".into()],
    }
}

#[test]
fn nothing_leaves_the_vault_without_an_allowance() {
    assert_eq!(
        decide(&strings(&["repo"]), None, None),
        Err(ExchangeRefusal::NotAllowed)
    );
}

#[test]
fn without_a_scope_the_token_carries_what_is_held_and_allowed() {
    let held = strings(&["read:user", "repo"]);
    let all = decide(&held, None, Some(&allowed(&["read:user", "repo", "gist"]))).expect("ok");
    assert_eq!(all.scopes, set(&["read:user", "repo"]));
    assert!(!all.narrow);
    let some = decide(&held, None, Some(&allowed(&["read:user"]))).expect("ok");
    assert_eq!(some.scopes, set(&["read:user"]));
    assert!(
        some.narrow,
        "the stored token carries more: it must be narrowed"
    );
    assert_eq!(
        decide(&held, None, Some(&allowed(&["gist"]))),
        Err(ExchangeRefusal::NothingAllowed)
    );
    // An API key holds no scopes: an allowance with none hands it out as is.
    let key = decide(&[], None, Some(&allowed(&[]))).expect("api key");
    assert!(key.scopes.is_empty() && !key.narrow);
}

#[test]
fn requested_scopes_must_be_held_and_allowed() {
    let held = strings(&["read:user", "repo"]);
    let policy = allowed(&["read:user"]);
    assert_eq!(
        decide(&held, Some(&set(&["gist"])), Some(&policy)),
        Err(ExchangeRefusal::NotHeld(strings(&["gist"])))
    );
    assert_eq!(
        decide(&held, Some(&set(&["repo"])), Some(&policy)),
        Err(ExchangeRefusal::ScopeNotAllowed(strings(&["repo"])))
    );
    let ok = decide(&held, Some(&set(&["read:user"])), Some(&policy)).expect("ok");
    assert_eq!(ok.scopes, set(&["read:user"]));
    assert!(ok.narrow);
    let exact = decide(
        &held,
        Some(&set(&["read:user", "repo"])),
        Some(&allowed(&["read:user", "repo"])),
    )
    .expect("ok");
    assert!(!exact.narrow);
    for refusal in [
        ExchangeRefusal::NotAllowed,
        ExchangeRefusal::NotHeld(strings(&["x"])),
        ExchangeRefusal::ScopeNotAllowed(strings(&["x"])),
        ExchangeRefusal::NothingAllowed,
    ] {
        let e = refusal.to_oauth("github");
        assert!(matches!(
            e.code,
            ErrorCode::InvalidTarget | ErrorCode::InvalidScope
        ));
    }
}

fn policy(
    id: &str,
    conditions: Vec<Condition>,
    provider: &str,
    scopes: &[&str],
) -> ConnectionPolicy {
    ConnectionPolicy {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        conditions,
        allows: vec![ConnectionAllow {
            provider_id: provider.into(),
            scopes: strings(scopes),
        }],
    }
}

fn role(values: &[&str], operator: Operator) -> Condition {
    Condition {
        key: "user.roles".into(),
        operator,
        values: strings(values),
    }
}

#[test]
fn policies_allow_the_union_of_those_whose_conditions_hold() {
    let subject = Subject {
        user_roles: strings(&["dev"]),
        jwt_claims: BTreeMap::from([("aud".to_owned(), strings(&["https://mcp.example"]))]),
        ..Subject::default()
    };
    let policies = vec![
        policy(
            "devs",
            vec![role(&["dev"], Operator::Contains)],
            "gh",
            &["repo"],
        ),
        policy("everyone", vec![], "gh", &["read:user"]),
        policy(
            "admins",
            vec![role(&["admin"], Operator::Contains)],
            "gh",
            &["delete_repo"],
        ),
        policy("other", vec![], "slack", &["chat:write"]),
        policy(
            "other-server",
            vec![Condition {
                key: "jwtClaims.aud".into(),
                operator: Operator::Equal,
                values: strings(&["https://elsewhere.example"]),
            }],
            "gh",
            &["gist"],
        ),
    ];
    let got = allowance(&policies, &subject, "gh").expect("allowed");
    assert_eq!(got.scopes, set(&["read:user", "repo"]));
    assert_eq!(got.matched, strings(&["devs", "everyone"]));
    assert_eq!(allowance(&policies, &subject, "jira"), None);
    let outsider = Subject::default();
    assert_eq!(
        allowance(&policies[..1], &outsider, "gh"),
        None,
        "a policy whose conditions fail allows nothing"
    );
}

#[test]
fn an_agent_allowance_names_providers_and_scopes() {
    let own = BTreeMap::from([("gh".to_owned(), strings(&["repo"]))]);
    assert_eq!(
        agent_allowance(&own, "gh").expect("gh").scopes,
        set(&["repo"])
    );
    assert_eq!(agent_allowance(&own, "slack"), None);
}

#[test]
fn refresh_happens_a_minute_before_expiry() {
    assert!(!needs_refresh(None, 1_000_000));
    assert!(!needs_refresh(
        Some(1_000_000 + REFRESH_MARGIN_MS + 1),
        1_000_000
    ));
    assert!(needs_refresh(
        Some(1_000_000 + REFRESH_MARGIN_MS),
        1_000_000
    ));
    assert!(needs_refresh(Some(999_000), 1_000_000));
}

#[test]
fn seal_context_differs_per_owner_and_provider() {
    let a = seal_context("p1", &Owner::new(OwnerKind::User, "u1"));
    assert_ne!(a, seal_context("p2", &Owner::new(OwnerKind::User, "u1")));
    assert_ne!(a, seal_context("p1", &Owner::new(OwnerKind::Tenant, "u1")));
    assert_ne!(a, seal_context("p1", &Owner::new(OwnerKind::User, "u2")));
    assert_eq!(
        callback_uri("https://hub.example/"),
        "https://hub.example/connections/callback"
    );
    assert_eq!(
        resource_uri("https://hub.example", "gh"),
        "https://hub.example/connections/gh"
    );
}

fn oauth_draft() -> ProviderDraft {
    ProviderDraft {
        slug: "github".into(),
        name: "GitHub".into(),
        kind: "oauth2".into(),
        authorization_endpoint: "https://github.com/login/oauth/authorize".into(),
        token_endpoint: "https://github.com/login/oauth/access_token".into(),
        client_id: "Iv1.abc".into(),
        client_secret: "s3cret".into(),
        scopes: "repo, read:user repo".into(),
        mcp_servers: vec!["files".into()],
    }
}

fn servers() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("files".to_owned(), "srv_1".to_owned()),
        ("srv_1".to_owned(), "srv_1".to_owned()),
    ])
}

#[test]
fn a_provider_draft_is_checked_field_by_field() {
    let ok =
        validate_provider(&oauth_draft(), "cp_1".into(), false, &servers(), 5, 7).expect("valid");
    assert_eq!(ok.kind, ProviderKind::Oauth2);
    assert_eq!(ok.scopes, strings(&["repo", "read:user"]));
    assert_eq!(ok.mcp_server_ids, strings(&["srv_1"]));
    assert_eq!((ok.created_at, ok.updated_at), (5, 7));

    let bad = ProviderDraft {
        slug: "Git Hub".into(),
        name: String::new(),
        kind: "oauth2".into(),
        authorization_endpoint: "http://github.com/authorize".into(),
        token_endpoint: "https://user:pw@github.com/token".into(),
        client_id: String::new(),
        client_secret: String::new(),
        scopes: String::new(),
        mcp_servers: vec!["nope".into()],
    };
    let errors = validate_provider(&bad, "cp_1".into(), false, &servers(), 0, 0).expect_err("bad");
    for field in [
        "slug",
        "name",
        "authorization_endpoint",
        "token_endpoint",
        "client_id",
        "client_secret",
        "mcp_servers",
    ] {
        assert!(errors.contains_key(field), "{field}: {errors:?}");
    }
    // A stored secret stays when the field is left empty; loopback http is allowed.
    let change = ProviderDraft {
        client_secret: String::new(),
        token_endpoint: "http://127.0.0.1:9000/token".into(),
        ..oauth_draft()
    };
    assert!(validate_provider(&change, "cp_1".into(), true, &servers(), 0, 0).is_ok());
    let api_key = ProviderDraft {
        slug: "weather".into(),
        name: "Weather API".into(),
        kind: "api_key".into(),
        ..ProviderDraft::default()
    };
    let key = validate_provider(&api_key, "cp_2".into(), false, &servers(), 0, 0).expect("api key");
    assert!(key.token_endpoint.is_empty() && key.scopes.is_empty());
    let unknown_kind = ProviderDraft {
        kind: "saml".into(),
        ..oauth_draft()
    };
    assert!(
        validate_provider(&unknown_kind, "x".into(), false, &servers(), 0, 0)
            .expect_err("kind")
            .contains_key("kind")
    );
}

#[test]
fn a_connections_policy_names_known_providers_and_their_scopes() {
    let providers = BTreeMap::from([
        (
            "github".to_owned(),
            ("cp_1".to_owned(), strings(&["repo", "read:user"])),
        ),
        (
            "cp_1".to_owned(),
            ("cp_1".to_owned(), strings(&["repo", "read:user"])),
        ),
    ]);
    let draft = ConnectionPolicyDraft {
        name: " Devs ".into(),
        description: String::new(),
        conditions: vec![role(&["dev", " "], Operator::Contains)],
        allows: vec![ConnectionAllow {
            provider_id: "github".into(),
            scopes: strings(&["repo", "repo"]),
        }],
    };
    let ok = validate_policy(&draft, &providers, "cpol_1".into()).expect("valid");
    assert_eq!(ok.name, "Devs");
    assert_eq!(ok.allows[0].provider_id, "cp_1");
    assert_eq!(ok.allows[0].scopes, strings(&["repo"]));
    assert_eq!(ok.conditions[0].values, strings(&["dev"]));

    let bad = ConnectionPolicyDraft {
        name: String::new(),
        conditions: vec![Condition {
            key: "user.shoeSize".into(),
            operator: Operator::Equal,
            values: strings(&["42"]),
        }],
        allows: vec![
            ConnectionAllow {
                provider_id: "slack".into(),
                scopes: vec![],
            },
            ConnectionAllow {
                provider_id: "github".into(),
                scopes: strings(&["admin:org"]),
            },
        ],
        ..ConnectionPolicyDraft::default()
    };
    let errors = validate_policy(&bad, &providers, "x".into()).expect_err("bad");
    for field in ["name", "conditions[0]", "allows[0]", "allows[1]"] {
        assert!(errors.contains_key(field), "{field}: {errors:?}");
    }
    let empty = validate_policy(
        &ConnectionPolicyDraft {
            name: "n".into(),
            ..ConnectionPolicyDraft::default()
        },
        &providers,
        "x".into(),
    )
    .expect_err("no allows");
    assert!(empty.contains_key("allows"));
}

#[test]
fn vault_tokens_never_print() {
    let tokens = VaultTokens {
        access_token: "gho_secret".into(),
        refresh_token: Some("ghr_secret".into()),
    };
    assert!(!format!("{tokens:?}").contains("secret"));
}
