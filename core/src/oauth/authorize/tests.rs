use super::*;
use crate::model::{AgentKind, TrustLevel};
use crate::oauth::pkce::s256;
use crate::oauth::ErrorCode;

fn agent() -> Agent {
    Agent {
        name: "Agent".into(),
        kind: AgentKind::Dcr,
        trust_level: TrustLevel::Dcr,
        redirect_uris: vec![
            "https://app.example.com/cb".into(),
            "http://127.0.0.1/callback".into(),
        ],
        scope: "notes.read".into(),
        ..Agent::sample("agent-1")
    }
}

fn scope(name: &str, default_on: bool) -> Scope {
    Scope {
        name: name.into(),
        display_name: name.into(),
        description: String::new(),
        sensitive: false,
        mandatory: false,
        default_on,
    }
}

fn server() -> McpServer {
    McpServer::new("notes", "Notes", "https://notes.example.com/mcp", 0)
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("agent-1".into()),
        redirect_uri: Some("https://app.example.com/cb".into()),
        response_type: Some("code".into()),
        scope: Some("notes.read".into()),
        state: Some("xyz".into()),
        code_challenge: Some(s256("a-verifier-that-is-long-enough-to-be-valid-0123")),
        code_challenge_method: Some("S256".into()),
        resource: Some("https://notes.example.com/mcp".into()),
        ..Default::default()
    }
}

fn run(
    req: &AuthorizationRequest,
    agent: Option<&Agent>,
    allowance: Option<&[String]>,
) -> Result<ValidatedRequest, AuthorizeError> {
    let scopes = [
        scope("notes.read", true),
        scope("notes.write", false),
        scope("notes.share", true),
    ];
    let server = server();
    validate(&AuthorizeInput {
        request: req,
        agent,
        server: &server,
        server_scopes: &scopes,
        allowance,
    })
}

fn page_code(r: Result<ValidatedRequest, AuthorizeError>) -> ErrorCode {
    match r {
        Err(AuthorizeError::Page(e)) => e.code,
        other => panic!("expected a page, got {other:?}"),
    }
}

fn redirect_code(r: Result<ValidatedRequest, AuthorizeError>) -> ErrorCode {
    match r {
        Err(AuthorizeError::Redirect {
            error,
            state,
            redirect_uri,
        }) => {
            assert_eq!(
                state.as_deref(),
                Some("xyz"),
                "state travels with the error"
            );
            assert_eq!(redirect_uri, "https://app.example.com/cb");
            error.code
        }
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[test]
fn a_valid_request_passes_with_its_scopes_and_resource() {
    let v = run(&request(), Some(&agent()), None).expect("valid");
    assert_eq!(v.scopes, ["notes.read"]);
    assert_eq!(v.resource, "https://notes.example.com/mcp");
    assert_eq!(v.redirect_uri, "https://app.example.com/cb");
}

#[test]
fn unknown_or_disabled_clients_render_a_page() {
    assert_eq!(
        page_code(run(&request(), None, None)),
        ErrorCode::InvalidClient
    );
    let mut disabled = agent();
    disabled.disabled = true;
    assert_eq!(
        page_code(run(&request(), Some(&disabled), None)),
        ErrorCode::InvalidClient
    );
    let mut req = request();
    req.client_id = None;
    assert_eq!(
        page_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn redirect_uri_tricks_render_a_page_and_never_redirect() {
    for bad in [
        "https://app.example.com/cb/extra",
        "https://app.example.com/c",
        "https://app.example.com/cb?x=1",
        "https://APP.example.com/cb",
        "https://app.example.com.evil.com/cb",
        "http://app.example.com/cb",
        "https://evil.example.com/cb",
    ] {
        let mut req = request();
        req.redirect_uri = Some(bad.into());
        assert_eq!(
            page_code(run(&req, Some(&agent()), None)),
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
}

#[test]
fn missing_redirect_uri_is_only_ok_with_a_single_registered_https_uri() {
    let mut req = request();
    req.redirect_uri = None;
    assert_eq!(
        page_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidRequest
    );
    let mut single = agent();
    single.redirect_uris = vec!["https://app.example.com/cb".into()];
    assert!(run(&req, Some(&single), None).is_ok());
}

#[test]
fn loopback_redirect_with_any_port_is_accepted() {
    let mut req = request();
    req.redirect_uri = Some("http://127.0.0.1:61234/callback".into());
    assert_eq!(
        run(&req, Some(&agent()), None).expect("ok").redirect_uri,
        "http://127.0.0.1:61234/callback"
    );
}

#[test]
fn response_type_other_than_code_redirects_an_error() {
    let mut req = request();
    req.response_type = Some("token".into());
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), None)),
        ErrorCode::UnsupportedResponseType
    );
    req.response_type = None;
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn clients_without_the_code_grant_are_unauthorized() {
    let mut machine = agent();
    machine.grant_types = vec!["client_credentials".into()];
    assert_eq!(
        redirect_code(run(&request(), Some(&machine), None)),
        ErrorCode::UnauthorizedClient
    );
}

#[test]
fn pkce_missing_plain_or_malformed_is_refused() {
    let cases: [(Option<&str>, Option<&str>); 4] = [
        (None, Some("S256")),
        (
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("plain"),
        ),
        (Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), None),
        (Some("too-short"), Some("S256")),
    ];
    for (challenge, method) in cases {
        let mut req = request();
        req.code_challenge = challenge.map(Into::into);
        req.code_challenge_method = method.map(Into::into);
        assert_eq!(
            redirect_code(run(&req, Some(&agent()), None)),
            ErrorCode::InvalidRequest,
            "{challenge:?} {method:?}"
        );
    }
}

#[test]
fn resource_must_name_this_server_trailing_slash_tolerated() {
    let mut req = request();
    req.resource = Some("https://notes.example.com/mcp/".into());
    assert!(run(&req, Some(&agent()), None).is_ok());
    req.resource = None;
    assert!(
        run(&req, Some(&agent()), None).is_ok(),
        "absent: the issuer's server"
    );
    req.resource = Some("https://other.example.com/mcp".into());
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidTarget
    );
    req.resource = Some("not-a-uri".into());
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidTarget
    );
}

#[test]
fn unknown_scopes_and_scope_escalation_are_invalid_scope() {
    let mut req = request();
    req.scope = Some("notes.read notes.admin".into());
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), None)),
        ErrorCode::InvalidScope
    );
    req.scope = Some("notes.read notes.write".into());
    let allowance = vec!["notes.read".to_owned()];
    assert_eq!(
        redirect_code(run(&req, Some(&agent()), Some(&allowance))),
        ErrorCode::InvalidScope
    );
}

#[test]
fn registered_scope_is_not_a_cap() {
    // The agent registered with `notes.read` but may ask for more (MCP step-up).
    let mut req = request();
    req.scope = Some("notes.read notes.write".into());
    assert_eq!(
        run(&req, Some(&agent()), None).expect("ok").scopes,
        ["notes.read", "notes.write"]
    );
}

#[test]
fn no_scope_means_the_default_on_scopes() {
    let mut req = request();
    req.scope = None;
    assert_eq!(
        run(&req, Some(&agent()), None).expect("ok").scopes,
        ["notes.read", "notes.share"]
    );
}

#[test]
fn identity_scopes_are_known_everywhere() {
    let mut req = request();
    req.scope = Some("openid notes.read".into());
    let allowance = vec!["notes.read".to_owned()];
    assert_eq!(
        run(&req, Some(&agent()), Some(&allowance))
            .expect("ok")
            .scopes,
        ["openid", "notes.read"]
    );
}
