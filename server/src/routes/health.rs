//! Liveness and readiness for orchestrators: `/healthz` says the process answers,
//! `/readyz` that the database answers and has every migration this binary expects.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let backend = state.store.backend().name();
    match state.store.readiness().await {
        Ok(r) if r.is_ready() => (
            StatusCode::OK,
            Json(json!({
                "status": "ready",
                "database": backend,
                "migrations": { "applied": r.applied, "expected": r.expected },
            })),
        ),
        Ok(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not_ready",
                "database": backend,
                "reason": "migrations pending",
                "migrations": { "applied": r.applied, "expected": r.expected },
            })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "not_ready",
                    "database": backend,
                    "reason": "database unreachable",
                })),
            )
        }
    }
}
