//! The end-user steps of an authorization: sign-in (password, then a second factor when the
//! user has one), tenant choice, step-up and consent. What comes next is always
//! [`Journey::next`]'s decision. The pages are Leptos components (`app::pages::auth`) that ask
//! the `*_screen` functions here for their facts; the form handlers here apply the person's
//! answers. Every form carries a CSRF token bound to the session (and the journey id when it
//! belongs to one); both are checked before anything changes.

mod consent;
mod issue;
mod second_factor;
mod sign_in;
mod sso;
mod tenant;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mandate_core::crypto::random_token;
use mandate_core::identity::second_factor::has_second_factor;
use mandate_core::ids::{AgentId, McpServerId, UserId};
use mandate_core::journey::{
    tenant_gate, Facts, Journey, SignedInUser, Step, TenantGate, TenantOption,
};
use mandate_core::model::{Agent, Grant, McpServer, Membership, Scope, Tenant};
use mandate_core::oauth::scope::ScopeSet;
use mandate_core::oauth::{ErrorCode, OAuthError};
use mandate_core::policy::{evaluate, subject_of, Evaluation, Policy};
use mandate_core::store::people::TenantApproval;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

pub use consent::{consent, consent_screen};
use issue::issue_code;
pub use second_factor::{
    factor_verified, second_factor, second_factor_screen, verifying_user, SECOND_FACTOR_PATH,
};
pub use sign_in::{
    complete_sign_in, continue_journey, new_password, new_password_screen, sign_in, sign_in_screen,
    sign_out, NEW_PASSWORD_PATH, SIGN_IN_PATH,
};
pub use sso::callback as sso_callback;
pub use tenant::{choose_tenant, tenant_screen};

use crate::error::log_internal;
use crate::pages::error_page;
use crate::request_context::Caller;
use crate::state::AppState;

const JOURNEY_KEY: &str = "journey";
const USER_KEY: &str = "user";
/// A user who passed the password and still owes a second factor.
const PENDING_KEY: &str = "pending_sign_in";
const CSRF_KEY: &str = "csrf";
pub const ACCOUNT_PATH: &str = "/account";
pub const TENANT_PATH: &str = "/authorize/tenant";
pub const CONSENT_PATH: &str = "/authorize/consent";

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

    pub async fn check_csrf(&self, presented: &str) -> Result<(), OAuthError> {
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

    pub async fn set_user(&self, user: &SignedInUser) -> Result<(), OAuthError> {
        self.0
            .insert(USER_KEY, user)
            .await
            .map_err(OAuthError::server_error)
    }
}

/// The user signed in on this session, if any.
pub async fn signed_in_user(session: &Session) -> Option<SignedInUser> {
    session.get::<SignedInUser>(USER_KEY).await.ok().flatten()
}

/// Signs the session out when its user was disabled, deleted, or had their sessions ended
/// (a second-factor reset) after signing in: the sign-in, a pending one and a journey's user
/// all go. Runs before every page and form of the session routes.
pub async fn drop_revoked_sign_in(state: &AppState, session: &Session) -> Result<(), OAuthError> {
    let mut users = Vec::new();
    for key in [USER_KEY, PENDING_KEY] {
        if let Ok(Some(user)) = session.get::<SignedInUser>(key).await {
            users.push(user);
        }
    }
    if let Ok(Some(journey)) = session.get::<Journey>(JOURNEY_KEY).await {
        users.extend(journey.user);
    }
    for user in users {
        let standing = state
            .store
            .sessions_valid_after(&UserId::from_string(&user.user_id))
            .await?;
        let valid = matches!(standing, Some((false, after)) if user.auth_time >= after);
        if !valid {
            for key in [USER_KEY, PENDING_KEY, JOURNEY_KEY] {
                let _ = session.remove_value(key).await;
            }
            return Ok(());
        }
    }
    Ok(())
}

pub(crate) fn journey_error(e: OAuthError) -> Response {
    log_internal(&e);
    let status = if e.code == ErrorCode::ServerError {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    error_page(status, "This request cannot continue", &e.description)
}

/// What one decision of the journey read from the store, kept for the page or the answer that
/// follows so it does not read the same rows again.
pub(super) struct Decision {
    pub step: Step,
    pub facts: Facts,
    pub evaluation: Evaluation,
    pub server: McpServer,
    pub scopes: Vec<Scope>,
    pub agent: Agent,
    /// The live consent record for the journey's user, agent, tenant and server, remembered
    /// or not.
    pub grant: Option<Grant>,
}

/// The rows a decision needs whichever tenant is chosen.
struct Loaded {
    server: McpServer,
    scopes: Vec<Scope>,
    agent: Agent,
    /// The signed-in user's memberships (empty before sign-in).
    memberships: Vec<(Membership, Tenant)>,
    /// Read only once someone is signed in (cached briefly: every authorization reads them).
    policies: Arc<Vec<Policy>>,
    has_second_factor: bool,
}

async fn load(state: &AppState, journey: &Journey) -> Result<Loaded, OAuthError> {
    let server_id = McpServerId::from_string(&journey.request.mcp_server_id);
    let server = state
        .store
        .mcp_server(&server_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_request("the MCP server no longer exists"))?;
    let scopes = state.store.scopes_of(&server_id).await?;
    let agent = state
        .store
        .agent(&AgentId::from_string(&journey.request.client_id))
        .await?
        .ok_or_else(|| OAuthError::invalid_request("the application no longer exists"))?;
    let (memberships, policies, has_second_factor) = match &journey.user {
        Some(user) => (
            state
                .store
                .memberships_of(&UserId::from_string(&user.user_id))
                .await?,
            state.cached_policies().await?,
            has_second_factor(&state.store, &user.user_id).await?,
        ),
        None => (Vec::new(), Arc::default(), false),
    };
    Ok(Loaded {
        server,
        scopes,
        agent,
        memberships,
        policies,
        has_second_factor,
    })
}

/// The live grant for the journey's user, agent, chosen tenant and server.
async fn live_grant(state: &AppState, journey: &Journey) -> Result<Option<Grant>, OAuthError> {
    let (Some(user), Some(tenant)) = (&journey.user, &journey.tenant_id) else {
        return Ok(None);
    };
    Ok(state
        .store
        .active_grant(
            &user.user_id,
            &journey.request.client_id,
            tenant,
            &journey.request.mcp_server_id,
        )
        .await?)
}

/// The chosen tenant's decision about the journey's agent on its server.
async fn tenant_approval(
    state: &AppState,
    journey: &Journey,
) -> Result<Option<TenantApproval>, OAuthError> {
    let Some(tenant) = &journey.tenant_id else {
        return Ok(None);
    };
    Ok(state
        .store
        .tenant_approval(
            tenant,
            &journey.request.client_id,
            &journey.request.mcp_server_id,
        )
        .await?)
}

/// The person (in the journey's tenant), the agent and the claims the policies look at.
fn policy_evaluation(journey: &Journey, loaded: &Loaded) -> Evaluation {
    let requested = journey.request.scope_set();
    let (Some(user), Some(tenant_id)) = (&journey.user, &journey.tenant_id) else {
        return Evaluation {
            allowed: requested,
            ..Evaluation::default()
        };
    };
    let subject = subject_of(
        loaded.memberships.iter().map(|(m, _)| m),
        tenant_id,
        &user.user_id,
        &loaded.agent,
        &journey.request.resource,
    );
    evaluate(
        &loaded.policies,
        &subject,
        &journey.request.mcp_server_id,
        &requested,
    )
}

/// What the journey needs to decide its next step, and the policy evaluation behind
/// `facts.denied` (for the audit trail).
fn facts(
    journey: &Journey,
    loaded: &Loaded,
    grant: Option<&Grant>,
    approval: Option<&TenantApproval>,
) -> (Facts, Evaluation) {
    let sensitive = ScopeSet::from_tokens(
        loaded
            .scopes
            .iter()
            .filter(|s| s.sensitive)
            .map(|s| s.name.clone()),
    );
    let evaluation = policy_evaluation(journey, loaded);
    let mut denied = evaluation.denied.clone();
    let tenant_gate = if journey.tenant_id.is_some() {
        tenant_gate(
            loaded.server.tenant_consent,
            approval.map(|a| (a.decision.as_str(), a.scopes.as_slice())),
            &journey.request.scope_set(),
            &mut denied,
        )
    } else {
        TenantGate::Open
    };
    let facts = Facts {
        tenants: loaded
            .memberships
            .iter()
            .map(|(m, t)| TenantOption {
                id: t.id.to_string(),
                slug: t.slug.clone(),
                name: t.name.clone(),
                email_domains: t.email_domains.clone(),
                roles: m.roles.clone(),
            })
            .collect(),
        sensitive_requested: journey.request.scope_set().intersect(&sensitive),
        step_up_window_ms: loaded.server.step_up_window_secs * 1000,
        remembered: grant
            .filter(|g| g.remembered)
            .map(|g| ScopeSet::from_tokens(g.granted_scopes.iter().cloned())),
        denied,
        has_second_factor: loaded.has_second_factor,
        tenant_gate,
    };
    (facts, evaluation)
}

/// Decides the next step. When the decision pre-selects the tenant, the policies and the
/// remembered grant (which depend on the tenant) are looked at again for it.
async fn decide(state: &AppState, journey: &mut Journey) -> Result<Decision, OAuthError> {
    let loaded = load(state, journey).await?;
    let before = journey.tenant_id.clone();
    let mut grant = live_grant(state, journey).await?;
    let mut approval = tenant_approval(state, journey).await?;
    let (mut facts, mut evaluation) = facts(journey, &loaded, grant.as_ref(), approval.as_ref());
    let mut step = journey.next(&facts, state.now());
    if journey.tenant_id != before {
        grant = live_grant(state, journey).await?;
        approval = tenant_approval(state, journey).await?;
        (facts, evaluation) = self::facts(journey, &loaded, grant.as_ref(), approval.as_ref());
        step = journey.next(&facts, state.now());
    }
    Ok(Decision {
        step,
        facts,
        evaluation,
        server: loaded.server,
        scopes: loaded.scopes,
        agent: loaded.agent,
        grant,
    })
}

/// `path?journey=ID` (or just `path` outside a journey).
pub(crate) fn step_url(path: &str, journey: Option<&str>) -> String {
    match journey {
        Some(id) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("journey", id)
                .finish();
            format!("{path}?{query}")
        }
        None => path.to_owned(),
    }
}

fn to_step(path: &str, journey: &Journey) -> Response {
    Redirect::to(&step_url(path, Some(&journey.id))).into_response()
}

/// Asks the journey what comes next and goes there.
pub async fn advance(
    state: &AppState,
    session: &JourneySession,
    mut journey: Journey,
    caller: &Caller,
) -> Response {
    let decision = match decide(state, &mut journey).await {
        Ok(d) => d,
        Err(e) => return journey_error(e),
    };
    if let Err(e) = session.save(&journey).await {
        return journey_error(e);
    }
    if let Some(path) = page_of(&decision.step) {
        return to_step(path, &journey);
    }
    match &decision.step {
        Step::IssueCode { scopes } => {
            issue_code(state, session, journey, scopes, &decision, None, caller).await
        }
        Step::NoTenant => error_page(
            StatusCode::FORBIDDEN,
            "No organization to act in",
            "Your account is not a member of any organization, so no agent can act for you here. Ask an administrator to add you to one.",
        ),
        Step::TenantRefused { reason } => error_page(
            StatusCode::FORBIDDEN,
            "Your organization does not allow this application",
            reason,
        ),
        Step::Expired => error_page(
            StatusCode::BAD_REQUEST,
            "This request has expired",
            "Authorization requests are valid for 10 minutes. Start again from the application.",
        ),
        Step::Completed => error_page(
            StatusCode::BAD_REQUEST,
            "Already answered",
            "This authorization request has already been answered.",
        ),
        // Steps with a page went there above.
        _ => journey_error(OAuthError::server_error("no page for this step")),
    }
}

/// The page a step is answered on, for steps that have one.
pub(crate) fn page_of(step: &Step) -> Option<&'static str> {
    match step {
        Step::SignIn => Some(SIGN_IN_PATH),
        Step::ChooseTenant => Some(TENANT_PATH),
        Step::Consent { .. } => Some(CONSENT_PATH),
        Step::StepUp => Some(SECOND_FACTOR_PATH),
        Step::EnrolSecondFactor => Some(ACCOUNT_PATH),
        Step::IssueCode { .. }
        | Step::NoTenant
        | Step::TenantRefused { .. }
        | Step::Expired
        | Step::Completed => None,
    }
}

/// When a journey page is opened while the journey waits on another page, where to go
/// instead (a bookmarked or back-button page shows the step that is actually next).
pub(super) fn elsewhere(decision: &Decision, journey: &Journey, this_page: &str) -> Option<String> {
    page_of(&decision.step)
        .filter(|path| *path != this_page)
        .map(|path| step_url(path, Some(&journey.id)))
}

/// The session's journey `id` with a signed-in user, its decision, and the CSRF token.
async fn current(
    state: &AppState,
    session: &Session,
    id: Option<&str>,
) -> Result<(JourneySession, Journey, Decision, String), OAuthError> {
    let js = JourneySession(session.clone());
    let mut journey = js.journey(id.unwrap_or_default()).await?;
    if journey.user.is_none() {
        return Err(OAuthError::invalid_request("sign in first"));
    }
    let decision = decide(state, &mut journey).await?;
    let csrf = js.ensure_csrf().await?;
    Ok((js, journey, decision, csrf))
}

/// The journey a form answers: its CSRF token is checked first, then that it is the session's
/// journey with a signed-in user.
async fn answered(
    state: &AppState,
    session: &Session,
    csrf: &str,
    id: Option<&str>,
) -> Result<(JourneySession, Journey, Decision), OAuthError> {
    JourneySession(session.clone()).check_csrf(csrf).await?;
    let (js, journey, decision, _) = current(state, session, id).await?;
    Ok((js, journey, decision))
}
