//! Passkeys (WebAuthn, via webauthn-rs): registration from the account page, sign-in with a
//! discoverable credential (no email typed), and use as a second factor. User verification is
//! required in every ceremony. Each ceremony is two JSON requests from `/passkey.js`; its state
//! waits in the session between them. The relying party is the public URL's host, so passkeys
//! need a domain (e.g. `localhost`), not an IP address.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mandate_core::audit::{ActorKind, AuditEvent, EventType, Outcome};
use mandate_core::ids::UserId;
use mandate_core::journey::SignedInUser;
use mandate_core::store::factors::StoredPasskey;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::request_context::Caller;
use crate::routes::oauth::journey::{
    complete_sign_in, factor_verified, signed_in_user, verifying_user, JourneySession, ACCOUNT_PATH,
};
use crate::state::AppState;

const REGISTRATION_KEY: &str = "webauthn_registration";
const AUTHENTICATION_KEY: &str = "webauthn_authentication";
const DISCOVERABLE_KEY: &str = "webauthn_discoverable";

/// The relying party for `public_url`, or `None` when its host cannot be one (an IP address).
pub fn relying_party(public_url: &str) -> Option<Arc<Webauthn>> {
    let origin = url::Url::parse(public_url).ok()?;
    let host = origin.host_str()?.to_owned();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("Mandate")
        .build()
        .ok()
        .map(Arc::new)
}

/// A JSON error the script shows beside the button.
fn failure(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Turns a journey step (a redirect, or an error page) into what the script follows.
fn as_json(response: Response) -> Response {
    if response.status().is_redirection() {
        if let Some(to) = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            return Json(json!({ "redirect": to })).into_response();
        }
    }
    failure(
        response.status(),
        "The request cannot continue. Start again from the application.",
    )
}

#[derive(Deserialize)]
pub struct CeremonyRequest {
    csrf: String,
    #[serde(default)]
    journey: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    credential: Option<Value>,
}

/// One request of a ceremony: its CSRF token checked, and the relying party (passkeys need a
/// domain). Rejections are the JSON errors the script shows.
pub struct Ceremony {
    js: JourneySession,
    rp: Arc<Webauthn>,
    body: CeremonyRequest,
}

impl axum::extract::FromRequest<AppState> for Ceremony {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = <Session as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, state,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        let request = axum::extract::Request::from_parts(parts, body);
        let Json(body) = Json::<CeremonyRequest>::from_request(request, state)
            .await
            .map_err(|_| {
                failure(
                    StatusCode::BAD_REQUEST,
                    "The passkey request was malformed.",
                )
            })?;
        let js = JourneySession(session);
        if js.check_csrf(&body.csrf).await.is_err() {
            return Err(failure(
                StatusCode::FORBIDDEN,
                "This page has expired. Reload it and try again.",
            ));
        }
        match &state.webauthn {
            Some(rp) => Ok(Self {
                js,
                rp: rp.clone(),
                body,
            }),
            None => Err(failure(
                StatusCode::NOT_FOUND,
                "Passkeys need Mandate to be served from a domain name, not an IP address.",
            )),
        }
    }
}

/// The browser's credential response, or `None` when it is malformed.
fn credential<T: serde::de::DeserializeOwned>(body: &CeremonyRequest) -> Option<T> {
    body.credential
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

fn malformed() -> Response {
    failure(
        StatusCode::BAD_REQUEST,
        "The passkey response was malformed.",
    )
}

async fn user_passkeys(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<(StoredPasskey, Passkey)>, Response> {
    let stored = state.store.passkeys_of(user_id).await.map_err(|_| {
        failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Passkeys are unavailable right now.",
        )
    })?;
    Ok(stored
        .into_iter()
        .filter_map(|s| {
            let key = serde_json::from_str::<Passkey>(&s.credential).ok()?;
            Some((s, key))
        })
        .collect())
}

fn server_error() -> Response {
    failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Passkeys are unavailable right now.",
    )
}

pub async fn register_start(State(state): State<AppState>, ceremony: Ceremony) -> Response {
    let Ceremony { js, rp, .. } = ceremony;
    let Some(user) = signed_in_user(&js.0).await else {
        return failure(StatusCode::UNAUTHORIZED, "Sign in first.");
    };
    let Ok(handle) = uuid::Uuid::parse_str(&user.user_id) else {
        return server_error();
    };
    let existing = match user_passkeys(&state, &user.user_id).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let exclude = existing.iter().map(|(_, k)| k.cred_id().clone()).collect();
    let Ok((options, registration)) =
        rp.start_passkey_registration(handle, &user.email, &user.email, Some(exclude))
    else {
        return server_error();
    };
    let Ok(mut options) = serde_json::to_value(&options) else {
        return server_error();
    };
    // Discoverable credentials, so the passkey can sign in without an email typed (the
    // ceremony state does not depend on it; the authenticator stores the user handle).
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), json!("required"));
        selection.insert("requireResidentKey".into(), json!(true));
    }
    if js.0.insert(REGISTRATION_KEY, &registration).await.is_err() {
        return server_error();
    }
    Json(options).into_response()
}

pub async fn register_finish(
    State(state): State<AppState>,
    caller: Caller,
    ceremony: Ceremony,
) -> Response {
    let Ceremony { js, rp, body } = ceremony;
    let Some(user) = signed_in_user(&js.0).await else {
        return failure(StatusCode::UNAUTHORIZED, "Sign in first.");
    };
    let Ok(Some(registration)) = js.0.remove::<PasskeyRegistration>(REGISTRATION_KEY).await else {
        return failure(
            StatusCode::BAD_REQUEST,
            "Start the passkey registration again.",
        );
    };
    let Some(response) = credential::<RegisterPublicKeyCredential>(&body) else {
        return malformed();
    };
    let Ok(passkey) = rp.finish_passkey_registration(&response, &registration) else {
        return failure(
            StatusCode::BAD_REQUEST,
            "The passkey could not be verified.",
        );
    };
    let Ok(json) = serde_json::to_string(&passkey) else {
        return server_error();
    };
    let now = state.now();
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey")
        .chars()
        .take(60)
        .collect::<String>();
    let stored = StoredPasskey {
        credential_id: base64_url(passkey.cred_id().as_ref()),
        user_id: user.user_id.clone(),
        name,
        credential: json,
        created_at: now,
        last_used_at: None,
    };
    if let Err(e) = state.store.insert_passkey(&stored).await {
        return match e {
            mandate_core::CoreError::AlreadyExists { .. } => {
                failure(StatusCode::CONFLICT, "This passkey is already registered.")
            }
            _ => server_error(),
        };
    }
    let event = AuditEvent::new(
        EventType::PasskeyRegistered,
        Outcome::Success,
        ActorKind::User,
    )
    .user(Some(user.user_id.clone()))
    .with("credential_id", &stored.credential_id)
    .context(&caller.context);
    if state.audit.record(event).await.is_err() {
        return server_error();
    }
    // Creating a user-verified passkey proves a second factor: a journey waiting for one
    // continues; otherwise back to the account page.
    match body.journey.as_deref().filter(|j| !j.is_empty()) {
        Some(journey) => as_json(
            factor_verified(
                &state,
                &js,
                user,
                false,
                "hwk",
                "passkey",
                Some(journey),
                &caller,
            )
            .await,
        ),
        None => Json(json!({ "redirect": ACCOUNT_PATH })).into_response(),
    }
}

pub async fn sign_in_start(ceremony: Ceremony) -> Response {
    let Ceremony { js, rp, .. } = ceremony;
    let Ok((options, authentication)) = rp.start_discoverable_authentication() else {
        return server_error();
    };
    if js
        .0
        .insert(DISCOVERABLE_KEY, &authentication)
        .await
        .is_err()
    {
        return server_error();
    }
    Json(options).into_response()
}

pub async fn sign_in_finish(
    State(state): State<AppState>,
    caller: Caller,
    ceremony: Ceremony,
) -> Response {
    let Ceremony { js, rp, body } = ceremony;
    let Ok(Some(authentication)) =
        js.0.remove::<DiscoverableAuthentication>(DISCOVERABLE_KEY)
            .await
    else {
        return failure(StatusCode::BAD_REQUEST, "Start the passkey sign-in again.");
    };
    let Some(response) = credential::<PublicKeyCredential>(&body) else {
        return malformed();
    };
    let refused = || {
        failure(
            StatusCode::UNAUTHORIZED,
            "This passkey is not recognised here.",
        )
    };
    let Ok((handle, cred_id)) = rp.identify_discoverable_authentication(&response) else {
        return refused();
    };
    let stored = match state.store.passkey(&base64_url(cred_id)).await {
        Ok(Some(s)) => s,
        Ok(None) => return refused(),
        Err(_) => return server_error(),
    };
    if uuid::Uuid::parse_str(&stored.user_id).ok() != Some(handle) {
        return refused();
    }
    let Ok(mut passkey) = serde_json::from_str::<Passkey>(&stored.credential) else {
        return server_error();
    };
    let key = DiscoverableKey::from(&passkey);
    // The `_v2` variant needs the credential internals feature; this one checks the same.
    #[allow(deprecated)]
    let finished = rp.finish_discoverable_authentication(&response, authentication, &[key]);
    let Ok(result) = finished else {
        let event = AuditEvent::new(
            EventType::SignInFailed,
            Outcome::Failure,
            ActorKind::Anonymous,
        )
        .user(Some(stored.user_id.clone()))
        .with("method", "passkey")
        .context(&caller.context);
        let _ = state.audit.record(event).await;
        return refused();
    };
    let user = match state
        .store
        .user_by_id(&UserId::from_string(&stored.user_id))
        .await
    {
        Ok(Some(u)) if !u.disabled => u,
        Ok(_) => return refused(),
        Err(_) => return server_error(),
    };
    passkey.update_credential(&result);
    if let Ok(json) = serde_json::to_string(&passkey) {
        let _ = state
            .store
            .update_passkey_use(&stored.credential_id, &json, state.now())
            .await;
    }
    let now = state.now();
    let mut signed_in = SignedInUser {
        user_id: user.id.to_string(),
        email: user.email,
        auth_time: now,
        amr: vec!["hwk".into(), "user".into()],
        mfa_at: None,
    };
    // A user-verified passkey is two factors in one (possession + PIN or biometric).
    signed_in.add_second_factor("hwk", now);
    as_json(
        complete_sign_in(
            &state,
            &js,
            signed_in,
            "passkey",
            body.journey.as_deref(),
            &caller,
        )
        .await,
    )
}

pub async fn verify_start(State(state): State<AppState>, ceremony: Ceremony) -> Response {
    let Ceremony { js, rp, .. } = ceremony;
    let Some((user, _)) = verifying_user(&js.0).await else {
        return failure(StatusCode::UNAUTHORIZED, "Sign in first.");
    };
    let keys: Vec<Passkey> = match user_passkeys(&state, &user.user_id).await {
        Ok(k) => k.into_iter().map(|(_, k)| k).collect(),
        Err(r) => return r,
    };
    if keys.is_empty() {
        return failure(StatusCode::BAD_REQUEST, "You have no passkey yet.");
    }
    let Ok((options, authentication)) = rp.start_passkey_authentication(&keys) else {
        return server_error();
    };
    if js
        .0
        .insert(AUTHENTICATION_KEY, &authentication)
        .await
        .is_err()
    {
        return server_error();
    }
    Json(options).into_response()
}

pub async fn verify_finish(
    State(state): State<AppState>,
    caller: Caller,
    ceremony: Ceremony,
) -> Response {
    let Ceremony { js, rp, body } = ceremony;
    let Some((user, pending)) = verifying_user(&js.0).await else {
        return failure(StatusCode::UNAUTHORIZED, "Sign in first.");
    };
    let Ok(Some(authentication)) =
        js.0.remove::<PasskeyAuthentication>(AUTHENTICATION_KEY)
            .await
    else {
        return failure(StatusCode::BAD_REQUEST, "Start the passkey check again.");
    };
    let Some(response) = credential::<PublicKeyCredential>(&body) else {
        return malformed();
    };
    let Ok(result) = rp.finish_passkey_authentication(&response, &authentication) else {
        let event = AuditEvent::new(EventType::MfaFailed, Outcome::Failure, ActorKind::User)
            .user(Some(user.user_id.clone()))
            .with("method", "passkey")
            .context(&caller.context);
        let _ = state.audit.record(event).await;
        return failure(
            StatusCode::UNAUTHORIZED,
            "The passkey could not be verified.",
        );
    };
    let keys = match user_passkeys(&state, &user.user_id).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    for (stored, mut key) in keys {
        if key.update_credential(&result).is_some() {
            if let Ok(json) = serde_json::to_string(&key) {
                let _ = state
                    .store
                    .update_passkey_use(&stored.credential_id, &json, state.now())
                    .await;
            }
        }
    }
    as_json(
        factor_verified(
            &state,
            &js,
            user,
            pending,
            "hwk",
            "passkey",
            body.journey.as_deref(),
            &caller,
        )
        .await,
    )
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
