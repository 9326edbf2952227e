//! The end-user steps of an authorization: sign-in, tenant choice and consent, as plain forms.
//! What comes next is always [`Journey::next`]'s decision; these handlers only render it and
//! apply the person's answers. Every form carries the journey id and a CSRF token bound to
//! the session; both are checked before anything changes.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::crypto::random_token;
use mandate_core::ids::{AgentId, McpServerId, UserId};
use mandate_core::model::user::normalize_email;
use mandate_core::model::TrustLevel;
use mandate_core::oauth::flow::{
    approved_scopes, Facts, Journey, SignedInUser, Step, TenantOption,
};
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::oauth::{response, ErrorCode, OAuthError};
use mandate_core::secret::{Secret, SecretKind};
use mandate_core::store::tokens::{CodeRecord, TokenFamily};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;
use tower_sessions::Session;

use crate::middleware::rate_limit;
use crate::pages::{error_page, escape, page};
use crate::request_context::Caller;
use crate::state::AppState;

pub const SIGN_IN_PATH: &str = "/sign-in";
const JOURNEY_KEY: &str = "journey";
const USER_KEY: &str = "user";
const CSRF_KEY: &str = "csrf";
/// Authorization codes live this long (ARCHITECTURE.md §6).
const CODE_TTL_MS: i64 = 60_000;

/// The session, seen as the holder of the journey, the signed-in user and the CSRF token.
pub struct JourneySession(pub Session);

impl JourneySession {
    pub async fn ensure_csrf(&self) -> Result<String, OAuthError> {
        if let Ok(Some(token)) = self.0.get::<String>(CSRF_KEY).await {
            return Ok(token);
        }
        let token = random_token(24);
        self.0
            .insert(CSRF_KEY, &token)
            .await
            .map_err(OAuthError::server_error)?;
        Ok(token)
    }

    async fn check_csrf(&self, presented: &str) -> Result<(), OAuthError> {
        let expected: Option<String> = self
            .0
            .get(CSRF_KEY)
            .await
            .map_err(OAuthError::server_error)?;
        match expected {
            Some(token) if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) => Ok(()),
            _ => Err(OAuthError::invalid_request(
                "the form has expired or was not sent from this page",
            )),
        }
    }

    async fn save(&self, journey: &Journey) -> Result<(), OAuthError> {
        self.0
            .insert(JOURNEY_KEY, journey)
            .await
            .map_err(OAuthError::server_error)
    }

    /// The session's journey, if it is the one the form names.
    async fn journey(&self, id: &str) -> Result<Journey, OAuthError> {
        let journey: Option<Journey> = self
            .0
            .get(JOURNEY_KEY)
            .await
            .map_err(OAuthError::server_error)?;
        match journey {
            Some(j) if bool::from(j.id.as_bytes().ct_eq(id.as_bytes())) => Ok(j),
            _ => Err(OAuthError::invalid_request(
                "this authorization request is not the one in progress",
            )),
        }
    }
}

/// The user signed in on this session, if any.
pub async fn signed_in_user(session: &Session) -> Option<SignedInUser> {
    session.get::<SignedInUser>(USER_KEY).await.ok().flatten()
}

fn journey_error(e: OAuthError) -> Response {
    crate::error::log_internal(&e);
    let status = if e.code == ErrorCode::ServerError {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    error_page(status, "This request cannot continue", &e.description)
}

/// What the journey needs from the store to decide its next step.
async fn facts(state: &AppState, journey: &Journey) -> Result<Facts, OAuthError> {
    let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
    let server = state
        .store
        .mcp_server(&server_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("the MCP server no longer exists"))?;
    let scopes = state.store.scopes_of(&server_id).await?;
    let requested = journey.request.scope_set();
    let sensitive = ScopeSet::from_tokens(
        scopes
            .iter()
            .filter(|s| s.sensitive)
            .map(|s| s.name.clone()),
    );
    let tenants = match &journey.user {
        Some(user) => state
            .store
            .memberships_of(&UserId::from_string(&user.user_id))
            .await?
            .into_iter()
            .map(|(m, t)| TenantOption {
                id: t.id.to_string(),
                slug: t.slug,
                name: t.name,
                email_domains: t.email_domains,
                roles: m.roles,
            })
            .collect(),
        None => vec![],
    };
    Ok(Facts {
        tenants,
        sensitive_requested: requested.intersect(&sensitive),
        step_up_window_ms: server.step_up_window_secs * 1000,
        remembered: None,
    })
}

fn to_step(path: &str, journey: &Journey) -> Response {
    let mut url = url::Url::parse("http://x").ok();
    if let Some(u) = url.as_mut() {
        u.set_path(path);
        u.query_pairs_mut().append_pair("journey", &journey.id);
    }
    let target = url
        .map(|u| format!("{}?{}", u.path(), u.query().unwrap_or_default()))
        .unwrap_or_else(|| path.to_owned());
    Redirect::to(&target).into_response()
}

/// Asks the journey what comes next and goes there.
pub async fn advance(
    state: &AppState,
    session: &JourneySession,
    mut journey: Journey,
    caller: &Caller,
) -> Response {
    let facts = match facts(state, &journey).await {
        Ok(f) => f,
        Err(e) => return journey_error(e),
    };
    let step = journey.next(&facts, state.now());
    if let Err(e) = session.save(&journey).await {
        return journey_error(e);
    }
    match step {
        Step::SignIn => to_step(SIGN_IN_PATH, &journey),
        Step::ChooseTenant => to_step("/authorize/tenant", &journey),
        Step::Consent { .. } => to_step("/authorize/consent", &journey),
        Step::IssueCode { scopes } => issue_code(state, session, journey, &scopes, caller).await,
        Step::NoTenant => error_page(
            StatusCode::FORBIDDEN,
            "No organization to act in",
            "Your account is not a member of any organization, so no agent can act for you here. Ask an administrator to add you to one.",
        ),
        Step::StepUp => {
            let error = OAuthError::new(ErrorCode::AccessDenied, "a second factor is required for the sensitive scopes requested");
            let back = response::error(&journey.request.redirect_uri, &error, journey.request.state.as_deref(), &journey.issuer).unwrap_or_default();
            page(
                StatusCode::FORBIDDEN,
                "Second factor required",
                &format!(
                    "<h1>Second factor required</h1><p>This application asks for access that is marked sensitive. \
                     Confirm with a second factor (an authenticator app or a passkey) to continue; set one up on \
                     your account first.</p><p><a class=\"button secondary\" href=\"{}\">Return to the application</a></p>",
                    escape(&back)
                ),
            )
        }
        Step::Expired => error_page(StatusCode::BAD_REQUEST, "This request has expired", "Authorization requests are valid for 10 minutes. Start again from the application."),
        Step::Completed => error_page(StatusCode::BAD_REQUEST, "Already answered", "This authorization request has already been answered."),
    }
}

/// Issues the code for `scopes`, completing the journey, and redirects to the client.
async fn issue_code(
    state: &AppState,
    session: &JourneySession,
    mut journey: Journey,
    scopes: &ScopeSet,
    caller: &Caller,
) -> Response {
    let result: Result<String, OAuthError> = async {
        journey.complete()?;
        session.save(&journey).await?;
        let user = journey
            .user
            .clone()
            .ok_or_else(|| OAuthError::invalid_request("sign in first"))?;
        let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
        let server = state
            .store
            .mcp_server(&server_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_request("the MCP server no longer exists"))?;
        let now = state.now();
        let family = TokenFamily {
            id: uuid::Uuid::now_v7().to_string(),
            agent_id: journey.request.client_id.clone(),
            user_id: Some(user.user_id.clone()),
            tenant_id: journey.tenant_id.clone(),
            mcp_server_id: server.id.to_string(),
            auth_time: Some(user.auth_time),
            acr: None,
            amr: user.amr.clone(),
            created_at: now,
            expires_at: now + server.refresh_token_max_secs * 1000,
            revoked_at: None,
        };
        let code = Secret::generate(SecretKind::AuthorizationCode);
        let record = CodeRecord {
            family_id: family.id.clone(),
            agent_id: family.agent_id.clone(),
            user_id: user.user_id.clone(),
            tenant_id: journey.tenant_id.clone(),
            mcp_server_id: family.mcp_server_id.clone(),
            redirect_uri: journey.request.redirect_uri.clone(),
            code_challenge: journey.request.code_challenge.clone(),
            resource: journey.request.resource.clone(),
            scopes: scopes.to_scope_string(),
            auth_time: user.auth_time,
            acr: None,
            amr: serde_json::to_string(&user.amr).map_err(OAuthError::server_error)?,
            created_at: now,
            expires_at: now + CODE_TTL_MS,
        };
        state
            .store
            .insert_code(&family, &code.hash(), &record)
            .await?;
        let event = AuditEvent::new(EventType::CodeIssued, Outcome::Success, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .agent(journey.request.client_id.as_str())
            .tenant(journey.tenant_id.clone())
            .server(server.id.as_str())
            .scopes(
                Some(journey.request.scopes.join(" ")),
                Some(scopes.to_scope_string()),
            )
            .with("family", &family.id)
            .context(&caller.context);
        state.audit.record(event).await?;
        response::success(
            &journey.request.redirect_uri,
            code.expose(),
            journey.request.state.as_deref(),
            &journey.issuer,
        )
    }
    .await;
    match result {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => journey_error(e),
    }
}

#[derive(Deserialize)]
pub struct JourneyQuery {
    journey: Option<String>,
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

fn sign_in_form(journey: Option<&str>, csrf: &str, email: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Sign in</h1>{}<form class=\"form\" method=\"post\" action=\"{SIGN_IN_PATH}\">{}{}\
         <div class=\"field\"><label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{}\"></div>\
         <div class=\"field\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\
         <div class=\"actions\"><button class=\"button\" type=\"submit\">Sign in</button></div></form>",
        error.map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(e))).unwrap_or_default(),
        hidden("csrf", csrf),
        journey.map(|j| hidden("journey", j)).unwrap_or_default(),
        escape(email),
    )
}

pub async fn sign_in_page(session: Session, Query(q): Query<JourneyQuery>) -> Response {
    let js = JourneySession(session);
    match js.ensure_csrf().await {
        Ok(csrf) => page(
            StatusCode::OK,
            "Sign in",
            &sign_in_form(q.journey.as_deref(), &csrf, "", None),
        ),
        Err(e) => journey_error(e),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    journey: Option<String>,
    email: String,
    password: String,
}

static DUMMY_HASH: OnceCell<String> = OnceCell::const_new();

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Form(form): Form<SignInForm>,
) -> Response {
    let js = JourneySession(session);
    if let Err(e) = js.check_csrf(&form.csrf).await {
        return journey_error(e);
    }
    let csrf = js.ensure_csrf().await.unwrap_or_default();
    let retry = |message: &str, status: StatusCode| {
        page(
            status,
            "Sign in",
            &sign_in_form(form.journey.as_deref(), &csrf, &form.email, Some(message)),
        )
    };
    if let Err(wait) = rate_limit::check(&state.limits.sign_in, caller.ip) {
        return retry(
            &format!(
                "Too many attempts. Try again in {} s.",
                wait.as_secs().max(1)
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = match normalize_email(&form.email) {
        Some(email) => state.store.user_by_email(&email).await.ok().flatten(),
        None => None,
    };
    let stored = match &user {
        Some(u) => state.store.password_hash_of(&u.id).await.ok().flatten(),
        None => None,
    };
    // Unknown emails cost the same argon2 verification as wrong passwords (equal timing).
    let hash = match stored {
        Some(h) => h,
        None => DUMMY_HASH
            .get_or_init(|| async {
                state
                    .hasher
                    .hash(random_token(16))
                    .await
                    .unwrap_or_default()
            })
            .await
            .clone(),
    };
    let verified = state.hasher.verify(form.password.clone(), hash).await;
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        _ => {
            let event = AuditEvent::new(
                EventType::SignInFailed,
                Outcome::Failure,
                ActorKind::Anonymous,
            )
            .with(
                "email_domain",
                form.email
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_ascii_lowercase()),
            )
            .context(&caller.context);
            let _ = state.audit.record(event).await;
            return retry(
                "The email or password is not correct.",
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    // A new session id at sign-in: no fixation.
    if let Err(e) = js.0.cycle_id().await {
        return journey_error(OAuthError::server_error(e));
    }
    let signed_in = SignedInUser {
        user_id: user.id.to_string(),
        email: user.email.clone(),
        auth_time: state.now(),
        amr: vec!["pwd".into()],
        mfa_at: None,
    };
    if let Err(e) = js.0.insert(USER_KEY, &signed_in).await {
        return journey_error(OAuthError::server_error(e));
    }
    let event = AuditEvent::new(EventType::UserSignedIn, Outcome::Success, ActorKind::User)
        .user(Some(user.id.to_string()))
        .with("method", "password")
        .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        return journey_error(e.into());
    }
    let Some(journey_id) = form.journey else {
        return Redirect::to("/").into_response();
    };
    match js.journey(&journey_id).await {
        Ok(mut journey) => match journey.sign_in(signed_in) {
            Ok(()) => advance(&state, &js, journey, &caller).await,
            Err(e) => journey_error(e),
        },
        Err(e) => journey_error(e),
    }
}

pub async fn sign_out(session: Session) -> Response {
    let _ = session.flush().await;
    Redirect::to("/").into_response()
}

async fn current(
    state: &AppState,
    session: &Session,
    id: Option<&str>,
) -> Result<(JourneySession, Journey, Facts, String), OAuthError> {
    let js = JourneySession(session.clone());
    let journey = js.journey(id.unwrap_or_default()).await?;
    if journey.user.is_none() {
        return Err(OAuthError::invalid_request("sign in first"));
    }
    let facts = facts(state, &journey).await?;
    let csrf = js.ensure_csrf().await?;
    Ok((js, journey, facts, csrf))
}

/// The journey a form answers: its CSRF token is checked first, then that it is the session's
/// journey with a signed-in user.
async fn answered(
    state: &AppState,
    session: &Session,
    csrf: &str,
    id: Option<&str>,
) -> Result<(JourneySession, Journey, Facts), OAuthError> {
    JourneySession(session.clone()).check_csrf(csrf).await?;
    let (js, journey, facts, _) = current(state, session, id).await?;
    Ok((js, journey, facts))
}

pub async fn tenant_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<JourneyQuery>,
) -> Response {
    let (_, journey, facts, csrf) = match current(&state, &session, q.journey.as_deref()).await {
        Ok(v) => v,
        Err(e) => return journey_error(e),
    };
    let options: String = facts
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<li><label><input type=\"radio\" name=\"tenant\" value=\"{}\"{} required> <span class=\"brand-mark\" aria-hidden=\"true\">{}</span> <span><strong>{}</strong><br><span class=\"muted\">{}</span></span></label></li>",
                escape(&t.id),
                if i == 0 { " checked" } else { "" },
                escape(&t.name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default()),
                escape(&t.name),
                escape(&if t.roles.is_empty() { "member".to_owned() } else { t.roles.join(", ") }),
            )
        })
        .collect();
    page(
        StatusCode::OK,
        "Choose an organization",
        &format!(
            "<h1>Choose an organization</h1><p>Which organization should the application act in?</p>\
             <form class=\"form\" method=\"post\" action=\"/authorize/tenant\">{}{}<ul class=\"choice-list\">{options}</ul>\
             <div class=\"actions\"><button class=\"button\" type=\"submit\">Continue</button></div></form>",
            hidden("csrf", &csrf),
            hidden("journey", &journey.id),
        ),
    )
}

#[derive(Deserialize)]
pub struct TenantForm {
    csrf: String,
    journey: String,
    tenant: String,
}

pub async fn choose_tenant(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Form(form): Form<TenantForm>,
) -> Response {
    let (js, mut journey, facts) =
        match answered(&state, &session, &form.csrf, Some(&form.journey)).await {
            Ok(v) => v,
            Err(e) => return journey_error(e),
        };
    if let Err(e) = journey.choose_tenant(&form.tenant, &facts) {
        return journey_error(e);
    }
    advance(&state, &js, journey, &caller).await
}

fn trust_badge(level: TrustLevel) -> &'static str {
    match level {
        TrustLevel::Verified => "verified",
        TrustLevel::Admin => "registered by an admin",
        TrustLevel::Dcr => "self-registered",
        TrustLevel::Cimd => "metadata document",
    }
}

pub async fn consent_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<JourneyQuery>,
) -> Response {
    let (_, journey, _, csrf) = match current(&state, &session, q.journey.as_deref()).await {
        Ok(v) => v,
        Err(e) => return journey_error(e),
    };
    match render_consent(&state, &journey, &csrf).await {
        Ok(r) => r,
        Err(e) => journey_error(e),
    }
}

async fn render_consent(
    state: &AppState,
    journey: &Journey,
    csrf: &str,
) -> Result<Response, OAuthError> {
    let agent = state
        .store
        .agent(&AgentId::from_string(&journey.request.client_id))
        .await?
        .ok_or_else(|| OAuthError::invalid_request("the application no longer exists"))?;
    let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
    let server = state
        .store
        .mcp_server(&server_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("the MCP server no longer exists"))?;
    let scopes = state.store.scopes_of(&server_id).await?;
    let tenant_name = match &journey.tenant_id {
        Some(id) => state
            .store
            .memberships_of(&UserId::from_string(
                journey
                    .user
                    .as_ref()
                    .map(|u| u.user_id.as_str())
                    .unwrap_or_default(),
            ))
            .await?
            .into_iter()
            .find(|(_, t)| t.id.as_str() == id)
            .map(|(_, t)| t.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let redirect_host = url::Url::parse(&journey.request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let items: String = journey
        .request
        .scopes
        .iter()
        .map(|name| {
            let scope = scopes.iter().find(|s| &s.name == name);
            let display = scope.map_or(name.as_str(), |s| s.display_name.as_str());
            let description = scope.map_or("Your identity (for sign-in).", |s| s.description.as_str());
            let mandatory = scope.is_some_and(|s| s.mandatory);
            let sensitive = scope.is_some_and(|s| s.sensitive);
            let id = format!("scope-{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
            let mut badges = String::new();
            if mandatory {
                badges.push_str(" <span class=\"badge\">required</span>");
            }
            if sensitive {
                badges.push_str(" <span class=\"badge\">sensitive</span>");
            }
            format!(
                "<li><input type=\"checkbox\" id=\"{id}\" name=\"scope\" value=\"{v}\" checked{dis}>{keep}\
                 <label for=\"{id}\"><span class=\"scope-name\">{display}</span> <code>{v}</code>{badges}<br>\
                 <span class=\"scope-description\">{description}</span></label></li>",
                v = escape(name),
                dis = if mandatory { " disabled" } else { "" },
                keep = if mandatory { hidden("scope", name) } else { String::new() },
                display = escape(display),
                badges = badges,
                description = escape(description),
            )
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        "Allow access",
        &format!(
            "<h1>Allow {agent} to act for you?</h1>\
             <div class=\"panel\"><p><strong>{agent}</strong> <span class=\"badge\">{trust}</span><br>\
             <span class=\"muted\">will return to {host}</span></p>\
             <p>On <strong>{server}</strong>{tenant}</p></div>\
             <form class=\"form\" method=\"post\" action=\"/authorize/consent\">{csrf}{jid}\
             <ul class=\"scope-list\">{items}</ul>\
             <div class=\"actions\"><button class=\"button\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
             <button class=\"button secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div></form>",
            agent = escape(&agent.name),
            trust = trust_badge(agent.trust_level),
            host = escape(&redirect_host),
            server = escape(&server.name),
            tenant = if tenant_name.is_empty() { String::new() } else { format!(", in <strong>{}</strong>", escape(&tenant_name)) },
            csrf = hidden("csrf", csrf),
            jid = hidden("journey", &journey.id),
        ),
    ))
}

pub async fn consent(
    State(state): State<AppState>,
    session: Session,
    caller: Caller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let answer = answered(
        &state,
        &session,
        field("csrf").unwrap_or_default(),
        field("journey"),
    )
    .await;
    let (js, mut journey, facts) = match answer {
        Ok(v) => v,
        Err(e) => return journey_error(e),
    };
    // Only a journey whose next step is consent may be answered: a forged POST cannot skip
    // sign-in, the tenant choice or step-up.
    if !matches!(
        journey.next(&facts, state.now()),
        Step::Consent { .. } | Step::IssueCode { .. }
    ) {
        return journey_error(OAuthError::invalid_request(
            "this request is not waiting for consent",
        ));
    }
    let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
    let user_id = journey.user.as_ref().map(|u| u.user_id.clone());
    if field("decision") != Some("allow") {
        let event = AuditEvent::new(EventType::ConsentDenied, Outcome::Success, ActorKind::User)
            .user(user_id)
            .agent(journey.request.client_id.as_str())
            .tenant(journey.tenant_id.clone())
            .server(server_id.as_str())
            .scopes(Some(journey.request.scopes.join(" ")), None)
            .context(&caller.context);
        let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        let result = async {
            journey.complete()?;
            js.save(&journey).await?;
            state.audit.record(event).await?;
            response::error(
                &journey.request.redirect_uri,
                &error,
                journey.request.state.as_deref(),
                &journey.issuer,
            )
        }
        .await;
        return match result {
            Ok(to) => Redirect::to(&to).into_response(),
            Err(e) => journey_error(e),
        };
    }
    let scopes = match state.store.scopes_of(&server_id).await {
        Ok(s) => s,
        Err(e) => return journey_error(e.into()),
    };
    let approved = ScopeSet::from_tokens(
        pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone()),
    );
    let mandatory = ScopeSet::from_tokens(
        scopes
            .iter()
            .filter(|s| s.mandatory)
            .map(|s| s.name.clone()),
    );
    let granted = match approved_scopes(&journey.request.scope_set(), &approved, &mandatory) {
        Ok(g) => g,
        Err(e) => return journey_error(e),
    };
    let event = AuditEvent::new(EventType::ConsentGranted, Outcome::Success, ActorKind::User)
        .user(user_id)
        .agent(journey.request.client_id.as_str())
        .tenant(journey.tenant_id.clone())
        .server(server_id.as_str())
        .scopes(
            Some(journey.request.scopes.join(" ")),
            Some(granted.to_scope_string()),
        )
        .context(&caller.context);
    if let Err(e) = state.audit.record(event).await {
        return journey_error(e.into());
    }
    issue_code(&state, &js, journey, &granted, &caller).await
}
