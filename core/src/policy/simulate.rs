//! The policy simulator: what a person would be granted, with an agent, on an MCP server, in a
//! tenant — under the policies as they are and, for a draft, as they would be. Pure: the
//! caller loads the policies and builds the [`Subject`] exactly as an authorization does.

use serde::Serialize;

use super::{evaluate, Evaluation, Policy, Subject};
use crate::oauth::scope::ScopeSet;

/// One side of a simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    /// What would be granted (if the person approves it all).
    pub effective: Vec<String>,
    /// Requested scopes no matching policy allows.
    pub denied: Vec<String>,
    /// The policies that allowed something.
    pub matched: Vec<String>,
    /// Whether any policy governs the server (false: every scope stays available).
    pub governed: bool,
}

impl From<Evaluation> for Outcome {
    fn from(e: Evaluation) -> Self {
        Self {
            effective: e.allowed.iter().map(str::to_owned).collect(),
            denied: e.denied.into_keys().collect(),
            matched: e.matched,
            governed: e.governed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Simulation {
    /// Requested scopes beyond what the agent may ask for on the server (refused with
    /// `invalid_scope` before any policy is looked at).
    pub outside_allowance: Vec<String>,
    /// Under the stored policies.
    pub before: Outcome,
    /// With the draft added, when there is one.
    pub after: Option<Outcome>,
}

/// Simulates `requested` (narrowed to the agent's `allowance` on `server_id`) for `subject`.
pub fn simulate(
    policies: &[Policy],
    draft: Option<&Policy>,
    subject: &Subject,
    server_id: &str,
    requested: &ScopeSet,
    allowance: &ScopeSet,
) -> Simulation {
    let asked = ScopeSet::from_tokens(requested.iter().filter(|s| allowance.contains(s)));
    let outside_allowance = requested
        .missing_from(allowance)
        .iter()
        .map(str::to_owned)
        .collect();
    let before = evaluate(policies, subject, server_id, &asked).into();
    let after = draft.map(|draft| {
        let mut with_draft = policies.to_vec();
        with_draft.push(draft.clone());
        evaluate(&with_draft, subject, server_id, &asked).into()
    });
    Simulation {
        outside_allowance,
        before,
        after,
    }
}
