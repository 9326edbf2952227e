use super::*;

const NOW: i64 = 1_000_000;

fn request(scopes: &[&str]) -> ValidatedRequest {
    ValidatedRequest {
        client_id: "agent".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        state: None,
        code_challenge: "c".into(),
        resource: "https://notes.example.com/mcp".into(),
        mcp_server_id: "srv".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        nonce: None,
        login_hint: None,
        tenant_hint: None,
    }
}

fn journey(scopes: &[&str]) -> Journey {
    Journey::start("j1".into(), "iss".into(), request(scopes), NOW)
}

fn user(mfa_at: Option<i64>) -> SignedInUser {
    SignedInUser {
        user_id: "u1".into(),
        email: "ada@acme.example".into(),
        auth_time: NOW,
        amr: vec!["pwd".into()],
        mfa_at,
    }
}

fn tenant(id: &str, domain: &str) -> TenantOption {
    TenantOption {
        id: id.into(),
        slug: format!("{id}-slug"),
        name: id.into(),
        email_domains: vec![domain.into()],
        roles: vec![],
    }
}

fn facts(tenants: &[TenantOption]) -> Facts {
    Facts {
        tenants: tenants.to_vec(),
        step_up_window_ms: 300_000,
        ..Default::default()
    }
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).expect("scopes")
}

#[test]
fn sign_in_comes_first() {
    let mut j = journey(&["notes.read"]);
    assert_eq!(
        j.next(&facts(&[tenant("t1", "a.example")]), NOW),
        Step::SignIn
    );
}

#[test]
fn one_tenant_is_chosen_automatically() {
    let mut j = journey(&["notes.read"]);
    j.sign_in(user(None)).expect("sign in");
    let step = j.next(&facts(&[tenant("t1", "a.example")]), NOW);
    assert_eq!(
        step,
        Step::Consent {
            missing: scopes("notes.read")
        }
    );
    assert_eq!(j.tenant_id.as_deref(), Some("t1"));
}

#[test]
fn many_tenants_ask_unless_hinted() {
    let tenants = [tenant("t1", "acme.example"), tenant("t2", "globex.example")];
    let mut j = journey(&["notes.read"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(j.next(&facts(&tenants), NOW), Step::ChooseTenant);

    let mut hinted = journey(&["notes.read"]);
    hinted.request.tenant_hint = Some("t2-slug".into());
    hinted.sign_in(user(None)).expect("sign in");
    assert!(matches!(
        hinted.next(&facts(&tenants), NOW),
        Step::Consent { .. }
    ));
    assert_eq!(hinted.tenant_id.as_deref(), Some("t2"));

    let mut by_domain = journey(&["notes.read"]);
    by_domain.request.login_hint = Some("ada@GLOBEX.example".into());
    by_domain.sign_in(user(None)).expect("sign in");
    by_domain.next(&facts(&tenants), NOW);
    assert_eq!(by_domain.tenant_id.as_deref(), Some("t2"));

    let mut foreign_hint = journey(&["notes.read"]);
    foreign_hint.request.tenant_hint = Some("initech".into());
    foreign_hint.sign_in(user(None)).expect("sign in");
    assert_eq!(
        foreign_hint.next(&facts(&tenants), NOW),
        Step::ChooseTenant,
        "a hint the user may not use is ignored"
    );
}

#[test]
fn no_tenant_is_its_own_step() {
    let mut j = journey(&["notes.read"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(j.next(&facts(&[]), NOW), Step::NoTenant);
}

#[test]
fn choosing_a_tenant_the_user_is_not_in_is_refused() {
    let tenants = [tenant("t1", "a"), tenant("t2", "b")];
    let mut j = journey(&["notes.read"]);
    assert!(
        j.choose_tenant("t1", &facts(&tenants)).is_err(),
        "not signed in"
    );
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(
        j.choose_tenant("t9", &facts(&tenants))
            .expect_err("foreign")
            .code,
        ErrorCode::AccessDenied
    );
    j.choose_tenant("t2", &facts(&tenants)).expect("member");
    assert_eq!(j.tenant_id.as_deref(), Some("t2"));
}

#[test]
fn sensitive_scopes_need_a_fresh_second_factor() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.sensitive_requested = scopes("notes.write");
    f.has_second_factor = true;
    for (mfa_at, expected_step_up) in [
        (None, true),
        (Some(NOW - 600_000), true),
        (Some(NOW - 60_000), false),
    ] {
        let mut j = journey(&["notes.read", "notes.write"]);
        j.sign_in(user(mfa_at)).expect("sign in");
        let step = j.next(&f, NOW);
        assert_eq!(
            step == Step::StepUp,
            expected_step_up,
            "mfa_at {mfa_at:?}: {step:?}"
        );
    }
}

#[test]
fn remembered_grants_skip_consent_only_when_they_cover_everything() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.remembered = Some(scopes("notes.read notes.share"));
    let mut covered = journey(&["notes.read"]);
    covered.sign_in(user(None)).expect("sign in");
    assert_eq!(
        covered.next(&f, NOW),
        Step::IssueCode {
            scopes: scopes("notes.read")
        }
    );

    let mut more = journey(&["notes.read", "notes.write"]);
    more.sign_in(user(Some(NOW))).expect("sign in");
    assert_eq!(
        more.next(&f, NOW),
        Step::Consent {
            missing: scopes("notes.write")
        },
        "only the new scope"
    );
}

#[test]
fn journeys_expire_and_complete_once() {
    let mut j = journey(&["notes.read"]);
    assert_eq!(j.next(&facts(&[]), NOW + JOURNEY_TTL_MS + 1), Step::Expired);
    j.complete().expect("first");
    assert!(j.complete().is_err(), "replay refused");
    assert!(j.sign_in(user(None)).is_err());
    assert_eq!(j.next(&facts(&[]), NOW), Step::Completed);
}

#[test]
fn consent_forms_cannot_add_scopes_and_mandatory_ones_stay() {
    let requested = scopes("notes.read notes.write notes.share");
    let mandatory = scopes("notes.read");
    assert_eq!(
        approved_scopes(&requested, &scopes("notes.share"), &mandatory, &scopes("")).expect("ok"),
        scopes("notes.read notes.share")
    );
    assert_eq!(
        approved_scopes(&requested, &scopes("notes.admin"), &mandatory, &scopes(""))
            .expect_err("tampered")
            .code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        approved_scopes(&scopes("notes.write"), &scopes(""), &mandatory, &scopes(""))
            .expect_err("nothing")
            .code,
        ErrorCode::AccessDenied
    );
}

#[test]
fn step_up_leads_to_enrolment_when_the_user_has_no_second_factor() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.sensitive_requested = scopes("notes.write");
    let mut j = journey(&["notes.write"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(j.next(&f, NOW), Step::EnrolSecondFactor);
    f.has_second_factor = true;
    assert_eq!(j.next(&f, NOW), Step::StepUp);
}

#[test]
fn a_sensitive_scope_the_policies_deny_needs_no_step_up() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.sensitive_requested = scopes("notes.write");
    f.denied.insert("notes.write".into(), "no policy".into());
    let mut j = journey(&["notes.read", "notes.write"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(
        j.next(&f, NOW),
        Step::Consent {
            missing: scopes("notes.read")
        }
    );
}

#[test]
fn policy_denied_scopes_are_left_out_of_remembered_issuance() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.remembered = Some(scopes("notes.read"));
    f.denied.insert("notes.share".into(), "no policy".into());
    let mut j = journey(&["notes.read", "notes.share"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(
        j.next(&f, NOW),
        Step::IssueCode {
            scopes: scopes("notes.read")
        }
    );
}

#[test]
fn when_everything_is_denied_the_consent_page_explains_instead_of_issuing() {
    let mut f = facts(&[tenant("t1", "a")]);
    f.remembered = Some(scopes("notes.read"));
    f.denied.insert("notes.share".into(), "no policy".into());
    let mut j = journey(&["notes.share"]);
    j.sign_in(user(None)).expect("sign in");
    assert_eq!(
        j.next(&f, NOW),
        Step::Consent {
            missing: scopes("")
        }
    );
}

#[test]
fn consent_forms_cannot_approve_denied_scopes_and_denied_mandatory_ones_are_not_forced() {
    let requested = scopes("notes.read notes.write");
    let denied = scopes("notes.write");
    assert_eq!(
        approved_scopes(&requested, &scopes("notes.write"), &scopes(""), &denied)
            .expect_err("tampered")
            .code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        approved_scopes(
            &requested,
            &scopes("notes.read"),
            &scopes("notes.write"),
            &denied
        )
        .expect("ok"),
        scopes("notes.read")
    );
}

#[test]
fn second_factors_raise_acr_and_amr() {
    let mut u = user(None);
    assert_eq!(u.acr(), "aal1");
    u.add_second_factor("otp", NOW);
    u.add_second_factor("otp", NOW + 1);
    assert_eq!(u.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(u.mfa_at, Some(NOW + 1));
    assert_eq!(u.acr(), "aal2");
}

#[test]
fn a_tenant_block_always_closes_and_a_required_approval_must_exist() {
    use crate::model::TenantConsent;
    let requested = scopes("notes.read notes.write");
    let mut denied = BTreeMap::new();
    let blocked: Option<(&str, &[String])> = Some(("blocked", &[]));
    for mode in [
        TenantConsent::Off,
        TenantConsent::Required,
        TenantConsent::Replaces,
    ] {
        assert!(matches!(
            tenant_gate(mode, blocked, &requested, &mut denied),
            TenantGate::Closed(_)
        ));
    }
    assert_eq!(
        tenant_gate(TenantConsent::Off, None, &requested, &mut denied),
        TenantGate::Open
    );
    assert!(matches!(
        tenant_gate(TenantConsent::Required, None, &requested, &mut denied),
        TenantGate::Closed(_)
    ));
    assert!(denied.is_empty(), "nothing is denied by a closed gate");

    let approved = vec!["notes.read".to_owned()];
    let gate = tenant_gate(
        TenantConsent::Required,
        Some(("approved", &approved)),
        &requested,
        &mut denied,
    );
    assert_eq!(gate, TenantGate::Open);
    assert_eq!(
        denied.keys().collect::<Vec<_>>(),
        ["notes.write"],
        "outside the approval"
    );
}

#[test]
fn the_journey_follows_the_tenant_gate() {
    let mut j = journey(&["notes.read", "notes.write"]);
    j.sign_in(user(Some(NOW))).expect("sign in");
    let mut f = facts(&[tenant("acme", "acme.example")]);
    f.tenant_gate = TenantGate::Closed("blocked".into());
    assert_eq!(
        j.next(&f, NOW),
        Step::TenantRefused {
            reason: "blocked".into()
        }
    );
    // Replaces: no consent page; what the approval and policies allow is issued.
    f.tenant_gate = TenantGate::Approved;
    f.denied.insert("notes.write".into(), "not approved".into());
    assert_eq!(
        j.next(&f, NOW),
        Step::IssueCode {
            scopes: scopes("notes.read")
        }
    );
    f.denied.insert("notes.read".into(), "not approved".into());
    assert!(matches!(j.next(&f, NOW), Step::TenantRefused { .. }));
    // Open: the person is asked.
    f.tenant_gate = TenantGate::Open;
    f.denied.clear();
    assert!(matches!(j.next(&f, NOW), Step::Consent { .. }));
}
