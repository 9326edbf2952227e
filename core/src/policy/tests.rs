use super::*;

const SERVER: &str = "srv-notes";

fn condition(key: &str, operator: Operator, values: &[&str]) -> Condition {
    Condition {
        key: key.into(),
        operator,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn policy(id: &str, conditions: Vec<Condition>, scopes: &[&str]) -> Policy {
    Policy {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        conditions,
        allows: vec![Allow {
            mcp_server_id: SERVER.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }],
    }
}

fn subject() -> Subject {
    Subject {
        user_roles: vec!["engineer".into(), "oncall".into()],
        user_tenant_ids: vec!["t-acme".into()],
        user_permissions: vec!["notes:share".into()],
        jwt_claims: BTreeMap::from([("tenant".into(), vec!["t-acme".into()])]),
        client_tags: vec!["internal".into()],
        client_name: "Claude Desktop".into(),
        client_trust_level: "dcr".into(),
    }
}

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap_or_default()
}

#[test]
fn an_ungoverned_server_keeps_every_requested_scope() {
    let other = Policy {
        allows: vec![Allow {
            mcp_server_id: "another".into(),
            scopes: vec!["x".into()],
        }],
        ..policy("p", vec![], &[])
    };
    let e = evaluate(
        &[other],
        &subject(),
        SERVER,
        &scopes("notes.read notes.write"),
    );
    assert_eq!(e.allowed, scopes("notes.read notes.write"));
    assert!(e.denied.is_empty());
    assert!(!e.governed);
}

#[test]
fn a_governed_server_grants_only_what_a_matching_policy_allows() {
    let policies = [
        policy("readers", vec![], &["notes.read"]),
        policy(
            "admins-share",
            vec![condition("user.roles", Operator::Contains, &["admin"])],
            &["notes.share"],
        ),
    ];
    let e = evaluate(
        &policies,
        &subject(),
        SERVER,
        &scopes("notes.read notes.share notes.write"),
    );
    assert!(e.governed);
    assert_eq!(e.allowed, scopes("notes.read"));
    assert_eq!(
        e.denied.keys().cloned().collect::<Vec<_>>(),
        ["notes.share", "notes.write"]
    );
    assert_eq!(e.matched, ["readers"]);
}

#[test]
fn policies_are_a_union_and_conditions_are_anded() {
    let policies = [
        policy(
            "both",
            vec![
                condition("user.roles", Operator::Contains, &["engineer"]),
                condition("client.trustLevel", Operator::Equal, &["verified"]),
            ],
            &["notes.write"],
        ),
        policy(
            "engineers",
            vec![condition("user.roles", Operator::Contains, &["engineer"])],
            &["notes.read"],
        ),
    ];
    let e = evaluate(
        &policies,
        &subject(),
        SERVER,
        &scopes("notes.read notes.write"),
    );
    assert_eq!(e.allowed, scopes("notes.read"));
    assert_eq!(e.matched, ["engineers"]);
    let verified = Subject {
        client_trust_level: "verified".into(),
        ..subject()
    };
    let e = evaluate(
        &policies,
        &verified,
        SERVER,
        &scopes("notes.read notes.write"),
    );
    assert_eq!(e.allowed, scopes("notes.read notes.write"));
    assert_eq!(e.matched, ["both", "engineers"]);
}

#[test]
fn a_matching_policy_that_allows_nothing_requested_is_not_reported_as_matched() {
    let policies = [policy("writers", vec![], &["notes.write"])];
    let e = evaluate(&policies, &subject(), SERVER, &scopes("notes.read"));
    assert!(e.allowed.is_empty());
    assert!(e.matched.is_empty());
}

#[test]
fn operators_over_list_facts() {
    let s = subject();
    let holds = |op, values: &[&str]| condition("user.roles", op, values).holds(&s);
    assert!(holds(Operator::Equal, &["oncall", "engineer"]));
    assert!(!holds(Operator::Equal, &["engineer"]));
    assert!(holds(Operator::NotEqual, &["engineer"]));
    assert!(holds(Operator::In, &["engineer", "oncall", "admin"]));
    assert!(!holds(Operator::In, &["engineer"]));
    assert!(holds(Operator::NotIn, &["admin", "guest"]));
    assert!(!holds(Operator::NotIn, &["admin", "oncall"]));
    assert!(holds(Operator::Contains, &["engineer"]));
    assert!(!holds(Operator::Contains, &["engineer", "admin"]));
}

#[test]
fn operators_over_single_facts() {
    let s = subject();
    let holds = |key, op, values: &[&str]| condition(key, op, values).holds(&s);
    assert!(holds("client.name", Operator::Equal, &["Claude Desktop"]));
    assert!(!holds("client.name", Operator::Equal, &["claude desktop"]));
    assert!(holds("client.trustLevel", Operator::In, &["dcr", "cimd"]));
    assert!(holds(
        "client.trustLevel",
        Operator::NotIn,
        &["verified", "admin"]
    ));
    assert!(holds("client.tags", Operator::Contains, &["internal"]));
    assert!(holds("user.tenantIds", Operator::Contains, &["t-acme"]));
    assert!(holds("user.permissions", Operator::Equal, &["notes:share"]));
    assert!(holds("jwtClaims.tenant", Operator::Equal, &["t-acme"]));
}

#[test]
fn a_missing_fact_is_the_empty_set() {
    let s = Subject::default();
    let holds = |op, values: &[&str]| condition("jwtClaims.department", op, values).holds(&s);
    assert!(!holds(Operator::Equal, &["sales"]));
    assert!(holds(Operator::NotEqual, &["sales"]));
    assert!(!holds(Operator::In, &["sales"]));
    assert!(holds(Operator::NotIn, &["sales"]));
    assert!(!holds(Operator::Contains, &["sales"]));
}

#[test]
fn unknown_keys_never_hold_and_fail_validation() {
    let c = condition("user.age", Operator::NotEqual, &["1"]);
    assert!(!c.holds(&subject()));
    assert!(c.validate().is_err());
    assert!(condition("jwtClaims.", Operator::Equal, &["x"])
        .validate()
        .is_err());
    assert!(condition("user.roles", Operator::In, &[" "])
        .validate()
        .is_err());
    assert!(condition("jwtClaims.dept", Operator::In, &["eng"])
        .validate()
        .is_ok());
}

#[test]
fn operators_round_trip_through_json_by_name() {
    for op in Operator::ALL {
        let json = serde_json::to_string(&op).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Operator>(&json).ok(), Some(op));
    }
    assert_eq!(
        serde_json::to_string(&Operator::NotIn).unwrap_or_default(),
        "\"NotIn\""
    );
}

#[test]
fn identity_scopes_are_never_governed_by_policies() {
    let policies = [policy("readers", vec![], &["notes.read"])];
    let e = evaluate(
        &policies,
        &subject(),
        SERVER,
        &scopes("openid notes.read notes.write"),
    );
    assert_eq!(e.allowed, scopes("openid notes.read"));
    assert_eq!(
        e.denied.keys().cloned().collect::<Vec<_>>(),
        ["notes.write"]
    );
}

mod drafts_and_simulation {
    use std::collections::BTreeMap;

    use super::super::draft::{validate, PolicyDraft};
    use super::super::simulate::simulate;
    use super::super::{Allow, Condition, Operator, Policy, Subject};
    use crate::oauth::scope::ScopeSet;

    fn servers() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([(
            "s1".to_owned(),
            vec!["notes.read".to_owned(), "notes.write".to_owned()],
        )])
    }

    fn draft() -> PolicyDraft {
        PolicyDraft {
            name: " Writers ".into(),
            description: String::new(),
            conditions: vec![Condition {
                key: "user.roles".into(),
                operator: Operator::Contains,
                values: vec![" writer ".into(), "".into()],
            }],
            allows: vec![Allow {
                mcp_server_id: "s1".into(),
                scopes: vec!["notes.write".into(), "notes.write".into()],
            }],
        }
    }

    #[test]
    fn a_valid_draft_is_cleaned_into_a_policy() {
        let p = validate(&draft(), &servers(), "p1".into()).expect("valid");
        assert_eq!(p.name, "Writers");
        assert_eq!(p.conditions[0].values, vec!["writer"]);
        assert_eq!(p.allows[0].scopes, vec!["notes.write"], "deduplicated");
    }

    #[test]
    fn every_wrong_field_is_named() {
        let mut bad = draft();
        bad.name = String::new();
        bad.conditions.push(Condition {
            key: "user.shoeSize".into(),
            operator: Operator::Equal,
            values: vec!["42".into()],
        });
        bad.conditions.push(Condition {
            key: "client.tags".into(),
            operator: Operator::In,
            values: vec!["  ".into()],
        });
        bad.allows.push(Allow {
            mcp_server_id: "s1".into(),
            scopes: vec!["notes.delete".into()],
        });
        bad.allows.push(Allow {
            mcp_server_id: "nope".into(),
            scopes: vec!["x".into()],
        });
        let errors = validate(&bad, &servers(), "p".into()).expect_err("invalid");
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "allows[1]",
                "allows[2]",
                "conditions[1]",
                "conditions[2]",
                "name"
            ]
        );
        assert!(
            errors["conditions[1]"]
                .to_lowercase()
                .contains("unknown condition key"),
            "{errors:?}"
        );
        assert!(errors["allows[1]"].contains("notes.delete"));
        let empty = PolicyDraft {
            name: "x".into(),
            ..PolicyDraft::default()
        };
        let errors = validate(&empty, &servers(), "p".into()).expect_err("nothing allowed");
        assert!(errors.contains_key("allows"));
    }

    fn writer() -> Subject {
        Subject {
            user_roles: vec!["writer".into()],
            ..Subject::default()
        }
    }

    fn readers() -> Policy {
        Policy {
            id: "readers".into(),
            name: "Readers".into(),
            description: String::new(),
            conditions: vec![],
            allows: vec![Allow {
                mcp_server_id: "s1".into(),
                scopes: vec!["notes.read".into()],
            }],
        }
    }

    #[test]
    fn the_simulator_shows_before_and_after_a_draft() {
        let requested = ScopeSet::from_tokens(["notes.read", "notes.write", "notes.share"]);
        let allowance = ScopeSet::from_tokens(["notes.read", "notes.write"]);
        let draft = validate(&draft(), &servers(), "draft".into()).expect("valid");
        let sim = simulate(
            &[readers()],
            Some(&draft),
            &writer(),
            "s1",
            &requested,
            &allowance,
        );
        assert_eq!(sim.outside_allowance, vec!["notes.share"]);
        assert_eq!(sim.before.effective, vec!["notes.read"]);
        assert_eq!(sim.before.denied, vec!["notes.write"]);
        assert_eq!(sim.before.matched, vec!["readers"]);
        let after = sim.after.expect("with the draft");
        assert_eq!(after.effective, vec!["notes.read", "notes.write"]);
        assert_eq!(after.matched, vec!["readers", "draft"]);

        // Someone the draft's condition does not hold for: the draft changes nothing.
        let reader = Subject::default();
        let sim = simulate(
            &[readers()],
            Some(&draft),
            &reader,
            "s1",
            &requested,
            &allowance,
        );
        assert_eq!(sim.after.expect("after").effective, vec!["notes.read"]);

        // No policy on the server: ungoverned, everything in the allowance stays available.
        let sim = simulate(&[], None, &reader, "s1", &requested, &allowance);
        assert!(!sim.before.governed);
        assert_eq!(sim.before.effective, vec!["notes.read", "notes.write"]);
        assert_eq!(sim.after, None);
    }
}
