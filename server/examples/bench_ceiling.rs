//! The benchmark's ceiling for `client_credentials`: an axum server whose token endpoint only
//! signs an ES256 access token (the same claims and the same signer as Mandate's, nothing
//! authenticated, read or recorded). `scripts/bench.sh` measures it in the same sitting as
//! Mandate, so Mandate's issuance rate can be read as a share of what signing alone allows.
//!
//! `PORT=3000 cargo run --release -p server --example bench_ceiling`

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use mandate_core::oauth::tokens::{AccessTokenClaims, KeySet};

const ISSUER: &str = "http://127.0.0.1:3000/s/demo-notes";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = KeySet::ephemeral()?;
    let app = Router::new()
        .route("/ready", get(|| async { "ready" }))
        .route("/token", post(token))
        .with_state(Arc::new(keys));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn token(State(keys): State<Arc<KeySet>>, _form: String) -> impl IntoResponse {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "bench-client".into(),
        aud: "https://api.example.test".into(),
        client_id: "bench-client".into(),
        scope: "notes.read".into(),
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::now_v7().to_string(),
        auth_time: None,
        acr: None,
        amr: None,
        tenant: None,
        act: None,
    };
    match keys.sign(&claims) {
        Ok(access_token) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 600,
                "scope": "notes.read",
            })),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
