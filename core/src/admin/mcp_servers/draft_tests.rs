use super::*;

fn base() -> McpServer {
    McpServer::new("", "", "", 42)
}

fn good() -> McpServerDraft {
    McpServerDraft {
        slug: "notes".into(),
        name: " Notes ".into(),
        resource_url: "https://mcp.example.com/mcp".into(),
        scopes: vec![
            ScopeDraft {
                name: "notes.read".into(),
                ..ScopeDraft::default()
            },
            ScopeDraft {
                name: "notes.delete".into(),
                display_name: "Delete notes".into(),
                sensitive: true,
                mandatory: true,
                default_on: false,
                ..ScopeDraft::default()
            },
        ],
        ..McpServerDraft::default()
    }
}

fn errors_of(draft: &McpServerDraft) -> FieldErrors {
    validate(draft, &base()).expect_err("the draft should be refused")
}

#[test]
fn a_good_draft_keeps_the_base_identity_and_fills_defaults() {
    let base = base();
    let (server, scopes) = validate(&good(), &base).expect("valid");
    assert_eq!(server.id, base.id);
    assert_eq!(server.created_at, 42);
    assert_eq!(server.name, "Notes");
    assert_eq!(server.access_token_ttl_secs, 600);
    assert_eq!(
        scopes[0].display_name, "notes.read",
        "display name defaults to the name"
    );
    assert!(scopes[1].default_on, "a mandatory scope is always on");
}

#[test]
fn slug_name_and_resource_url_are_checked() {
    let mut draft = good();
    draft.slug = "Notes!".into();
    draft.name = "  ".into();
    draft.resource_url = "ftp://x".into();
    let errors = errors_of(&draft);
    for field in ["slug", "name", "resource_url"] {
        assert!(errors.contains_key(field), "{field}: {errors:?}");
    }
}

#[test]
fn resource_urls_need_https_except_on_loopback_and_no_fragment() {
    for bad in [
        "http://mcp.example.com/mcp",
        "https://mcp.example.com/mcp#x",
        "not a url",
        "javascript:alert(1)",
    ] {
        let mut draft = good();
        draft.resource_url = bad.into();
        assert!(errors_of(&draft).contains_key("resource_url"), "{bad}");
    }
    for fine in [
        "http://127.0.0.1:4000/mcp",
        "http://localhost:4000/mcp",
        "https://a.b/",
    ] {
        let mut draft = good();
        draft.resource_url = fine.into();
        assert!(validate(&draft, &base()).is_ok(), "{fine}");
    }
}

#[test]
fn lifetimes_have_bounds_and_sliding_stays_under_absolute() {
    let mut draft = good();
    draft.access_token_ttl_secs = 5;
    draft.step_up_window_secs = -1;
    assert!(errors_of(&draft).contains_key("access_token_ttl_secs"));
    assert!(errors_of(&draft).contains_key("step_up_window_secs"));
    let mut draft = good();
    draft.refresh_token_ttl_secs = 30 * DAY;
    draft.refresh_token_max_secs = 10 * DAY;
    assert!(errors_of(&draft).contains_key("refresh_token_ttl_secs"));
}

#[test]
fn host_patterns_are_hosts_or_star_dot_domains() {
    let mut draft = good();
    draft.dcr_redirect_hosts = vec!["*.Example.com ".into(), "".into(), "app.example.org".into()];
    let (server, _) = validate(&draft, &base()).expect("valid");
    assert_eq!(
        server.dcr_redirect_hosts,
        ["*.example.com", "app.example.org"]
    );
    for bad in [
        "*",
        "*.",
        "a..b",
        "https://x.com",
        "x.com/path",
        "ex ample.com",
    ] {
        let mut draft = good();
        draft.cimd_domains = vec![bad.into()];
        assert!(errors_of(&draft).contains_key("cimd_domains"), "{bad}");
    }
}

#[test]
fn scopes_must_exist_be_single_tokens_and_unique() {
    let mut draft = good();
    draft.scopes.clear();
    assert!(errors_of(&draft).contains_key("scopes"));
    let mut draft = good();
    draft.scopes[1].name = "notes.read".into();
    assert!(errors_of(&draft).contains_key("scopes[1].name"));
    for bad in ["two words", "quote\"d", "back\\slash", ""] {
        let mut draft = good();
        draft.scopes[0].name = bad.into();
        assert!(errors_of(&draft).contains_key("scopes[0].name"), "{bad:?}");
    }
}

#[test]
fn a_stored_server_round_trips_through_its_draft() {
    let (server, scopes) = validate(&good(), &base()).expect("valid");
    let again = McpServerDraft::of(&server, &scopes);
    assert_eq!(validate(&again, &server), Ok((server, scopes)));
}
