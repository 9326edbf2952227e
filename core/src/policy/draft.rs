//! A policy as an admin types it (console form or API body), checked field by field against
//! the MCP servers and their scopes before it is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Allow, Condition, Policy};

/// A policy before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyDraft {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub allows: Vec<Allow>,
}

/// What is wrong, by field: `name`, `description`, `conditions[i]`, `allows`, `allows[i]`.
pub type FieldErrors = BTreeMap<String, String>;

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 500;

/// The policy `draft` describes, with id `id`, or every field that is wrong. `servers` maps
/// each MCP server's id to its scope names.
pub fn validate(
    draft: &PolicyDraft,
    servers: &BTreeMap<String, Vec<String>>,
    id: String,
) -> Result<Policy, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = checked_name(&draft.name, &draft.description, &mut errors);
    let conditions = checked_conditions(&draft.conditions, &mut errors);
    let mut allows: Vec<Allow> = Vec::new();
    for (i, a) in draft.allows.iter().enumerate() {
        let Some(known) = servers.get(&a.mcp_server_id) else {
            errors.insert(format!("allows[{i}]"), "No MCP server has this id.".into());
            continue;
        };
        let scopes = match known_scopes(&a.scopes, known) {
            Ok(scopes) => scopes,
            Err(unknown) => {
                errors.insert(
                    format!("allows[{i}]"),
                    format!("This MCP server has no scope {}.", unknown.join(", ")),
                );
                continue;
            }
        };
        if !scopes.is_empty() {
            allows.push(Allow {
                mcp_server_id: a.mcp_server_id.clone(),
                scopes,
            });
        }
    }
    if allows.is_empty() && !errors.keys().any(|k| k.starts_with("allows")) {
        errors.insert(
            "allows".into(),
            "Choose at least one scope the policy allows.".into(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Policy {
        id,
        name,
        description: draft.description.trim().to_owned(),
        conditions,
        allows,
    })
}

/// A policy's trimmed name; a missing or long name, or a long description, is noted in
/// `errors` (as `name`, `description`).
pub fn checked_name(name: &str, description: &str, errors: &mut FieldErrors) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        errors.insert(
            "name".into(),
            format!("Give the policy a name of 1 to {MAX_NAME} characters."),
        );
    }
    if description.chars().count() > MAX_DESCRIPTION {
        errors.insert(
            "description".into(),
            format!("Keep the description under {MAX_DESCRIPTION} characters."),
        );
    }
    name.to_owned()
}

/// The conditions trimmed (blank values dropped); each wrong one is noted in `errors` as
/// `conditions[i]`.
pub fn checked_conditions(drafts: &[Condition], errors: &mut FieldErrors) -> Vec<Condition> {
    let mut conditions = Vec::with_capacity(drafts.len());
    for (i, c) in drafts.iter().enumerate() {
        let cleaned = Condition {
            key: c.key.trim().to_owned(),
            operator: c.operator,
            values: c
                .values
                .iter()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect(),
        };
        match cleaned.validate() {
            Ok(()) => conditions.push(cleaned),
            Err(e) => {
                errors.insert(format!("conditions[{i}]"), capitalised(&e.to_string()));
            }
        }
    }
    conditions
}

/// `wanted` sorted and without repeats when every one is in `known`; else the ones that are not.
pub fn known_scopes(wanted: &[String], known: &[String]) -> Result<Vec<String>, Vec<String>> {
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|s| !known.contains(s))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let mut scopes = wanted.to_vec();
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}
