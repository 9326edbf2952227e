use super::*;
use serde_json::json;

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::from_tokens(text.split_whitespace())
}

fn allow(claims: Value, remove: &[&str]) -> Result<Answer, HookFailure> {
    Ok(Answer::Allow {
        claims: claims.as_object().cloned().unwrap_or_default(),
        remove_scopes: remove.iter().map(|s| (*s).to_owned()).collect(),
    })
}

#[test]
fn a_signature_verifies_only_for_its_key_body_and_a_recent_timestamp() {
    let key = b"whsec-test-key";
    let body = br#"{"type":"token.issuance"}"#;
    let header = signature(key, 1_700_000_000, body);
    assert!(header.starts_with("t=1700000000,v1="), "{header}");
    assert_eq!(header.len(), "t=1700000000,v1=".len() + 64, "hex SHA-256");
    assert!(verify_signature(key, &header, body, 1_700_000_100, 300));
    assert!(!verify_signature(
        b"another key",
        &header,
        body,
        1_700_000_100,
        300
    ));
    assert!(
        !verify_signature(key, &header, b"{}", 1_700_000_100, 300),
        "body changed"
    );
    assert!(
        !verify_signature(key, &header, body, 1_700_000_301, 300),
        "too old: a replay"
    );
    let moved = header.replace("t=1700000000", "t=1700000200");
    assert!(
        !verify_signature(key, &moved, body, 1_700_000_200, 300),
        "the timestamp is signed"
    );
    for broken in [
        "",
        "t=1700000000",
        "v1=00",
        "t=x,v1=zz",
        "t=1700000000,v1=abc",
    ] {
        assert!(
            !verify_signature(key, broken, body, 1_700_000_000, 300),
            "{broken:?}"
        );
    }
}

#[test]
fn answers_allow_by_default_and_refuse_reserved_claims_and_unknown_decisions() {
    assert_eq!(
        read_answer(b"").expect("empty"),
        Answer::Allow {
            claims: Map::new(),
            remove_scopes: vec![]
        },
        "an empty 2xx allows and adds nothing"
    );
    let answer = read_answer(br#"{"claims":{"department":"finance","clearance":3},"remove_scopes":["notes.write"],"extra":1}"#)
        .expect("allow");
    let Answer::Allow {
        claims,
        remove_scopes,
    } = answer
    else {
        panic!("allow expected");
    };
    assert_eq!(claims["department"], "finance");
    assert_eq!(remove_scopes, vec!["notes.write"]);
    for reserved in RESERVED_CLAIMS {
        let body = format!(r#"{{"claims":{{"{reserved}":"x"}}}}"#);
        assert!(
            matches!(read_answer(body.as_bytes()), Err(HookFailure::Invalid(_))),
            "{reserved} is reserved"
        );
    }
    let long_name = format!(r#"{{"claims":{{"{}":1}}}}"#, "n".repeat(65));
    assert!(read_answer(long_name.as_bytes()).is_err());
    assert!(read_answer(br#"{"claims":{"":1}}"#).is_err());
    assert!(matches!(
        read_answer(br#"{"decision":"maybe"}"#),
        Err(HookFailure::Invalid(_))
    ));
    assert!(matches!(
        read_answer(b"not json"),
        Err(HookFailure::Invalid(_))
    ));
    assert!(matches!(
        read_answer(b"[1,2]"),
        Err(HookFailure::Invalid(_))
    ));
    assert!(matches!(
        read_answer(br#"{"claims":["a"]}"#),
        Err(HookFailure::Invalid(_))
    ));
    let huge = format!(r#"{{"message":"{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
    assert!(read_answer(huge.as_bytes()).is_err(), "bounded size");
}

#[test]
fn a_deny_message_is_one_bounded_line_of_plain_text_with_a_default() {
    let Ok(Answer::Deny { message }) =
        read_answer(br#"{"decision":"deny","message":"  Finance agents\nneed   approval\u0007 "}"#)
    else {
        panic!("deny expected");
    };
    assert_eq!(message, "Finance agents need approval");
    let Ok(Answer::Deny { message }) = read_answer(br#"{"decision":"deny"}"#) else {
        panic!("deny expected");
    };
    assert_eq!(message, DEFAULT_DENY_MESSAGE);
    let long = format!(r#"{{"decision":"deny","message":"{}"}}"#, "é".repeat(400));
    let Ok(Answer::Deny { message }) = read_answer(long.as_bytes()) else {
        panic!("deny expected");
    };
    assert_eq!(
        message.chars().count(),
        MAX_MESSAGE_CHARS + 1,
        "cut, with an ellipsis"
    );
    assert!(message.ends_with('…'));
}

#[test]
fn hooks_fold_in_order_later_claims_win_and_scopes_only_shrink() {
    let mut e = Enrichment::new(scopes("notes.read notes.write"));
    let first = e.apply(
        allow(
            json!({"department": "finance", "level": 1}),
            &["notes.write", "admin"],
        ),
        FailurePolicy::Deny,
    );
    assert_eq!(
        first,
        HookOutcome::Applied {
            added_claims: vec!["department".into(), "level".into()],
            removed_scopes: vec!["notes.write".into()],
        },
        "a scope that was not requested is not 'removed'"
    );
    let second = e.apply(allow(json!({"level": 2}), &[]), FailurePolicy::Deny);
    assert!(!second.stops());
    assert_eq!(e.scopes, scopes("notes.read"));
    assert_eq!(e.claims["level"], 2, "the later hook's value");
    assert_eq!(e.claims["department"], "finance");
}

#[test]
fn the_failure_policy_decides_whether_a_failed_hook_stops_the_authorization() {
    for failure in [
        HookFailure::TimedOut,
        HookFailure::Status(500),
        HookFailure::Unreachable("connection refused".into()),
        HookFailure::Invalid("not JSON".into()),
    ] {
        let mut e = Enrichment::new(scopes("notes.read"));
        let outcome = e.apply(Err(failure.clone()), FailurePolicy::Continue);
        assert_eq!(
            outcome,
            HookOutcome::Skipped {
                reason: failure.to_string()
            }
        );
        assert!(!outcome.stops());
        assert_eq!(e, Enrichment::new(scopes("notes.read")), "nothing applied");
        let outcome = e.apply(Err(failure.clone()), FailurePolicy::Deny);
        assert!(outcome.stops(), "fail closed");
        assert_eq!(outcome.label(), "failed");
    }
    let mut e = Enrichment::new(scopes("notes.read"));
    let denied = e.apply(
        Ok(Answer::Deny {
            message: "no".into(),
        }),
        FailurePolicy::Continue,
    );
    assert!(
        denied.stops(),
        "a deny is an answer, not a failure: the policy does not apply"
    );
}

#[test]
fn removing_every_scope_denies_and_oversized_claims_count_as_a_failure() {
    let mut e = Enrichment::new(scopes("notes.read"));
    let outcome = e.apply(allow(json!({}), &["notes.read"]), FailurePolicy::Continue);
    assert_eq!(
        outcome,
        HookOutcome::Denied {
            message: NOTHING_LEFT_MESSAGE.into()
        }
    );
    let mut e = Enrichment::new(scopes("notes.read"));
    let big = json!({ "blob": "x".repeat(MAX_CLAIMS_BYTES) });
    let outcome = e.apply(allow(big.clone(), &[]), FailurePolicy::Continue);
    assert!(
        matches!(outcome, HookOutcome::Skipped { .. }),
        "{outcome:?}"
    );
    assert!(e.claims.is_empty(), "an oversized answer adds nothing");
    assert!(e.apply(allow(big, &[]), FailurePolicy::Deny).stops());
}

#[test]
fn failure_policies_round_trip_by_name() {
    for p in [FailurePolicy::Deny, FailurePolicy::Continue] {
        assert_eq!(FailurePolicy::from_name(p.as_str()), Some(p));
    }
    assert_eq!(FailurePolicy::from_name("ignore"), None);
}
