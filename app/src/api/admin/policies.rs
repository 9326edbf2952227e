//! The policies page and the simulator: policies in words, the form to write one (with an
//! error beside each wrong field), and before/after previews of a draft.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{AdminHeader, Choice};
use crate::api::screen::Screen;

/// A stored policy, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub description: String,
    /// "user.roles Contains writer", …; empty: everyone.
    pub conditions: Vec<String>,
    /// "Demo Notes: notes.read, notes.write", …
    pub allows: Vec<String>,
}

/// A scope a policy can allow, as a checkbox (`value` is `server-id|scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeChoice {
    pub value: String,
    pub name: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerScopes {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub scopes: Vec<ScopeChoice>,
}

/// The draft form's fields and what was typed into them (kept when the form is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftForm {
    pub values: BTreeMap<String, String>,
    /// Ticked `server-id|scope` boxes.
    pub allowed: Vec<String>,
}

impl DraftForm {
    pub fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

/// The number of condition rows the form offers (each optional).
pub const CONDITION_ROWS: usize = 3;

/// The keys a condition can name (`jwtClaims.` takes the claim's name in its own field).
pub const CONDITION_KEYS: [(&str, &str); 7] = [
    ("user.roles", "user.roles"),
    ("user.tenantIds", "user.tenantIds"),
    ("user.permissions", "user.permissions"),
    ("client.tags", "client.tags"),
    ("client.name", "client.name"),
    ("client.trustLevel", "client.trustLevel"),
    ("jwtClaims.", "jwtClaims.<claim>"),
];

pub const OPERATORS: [&str; 5] = ["Equal", "NotEqual", "In", "NotIn", "Contains"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoliciesView {
    pub header: AdminHeader,
    pub csrf: String,
    pub may_manage: bool,
    pub policies: Vec<PolicyRow>,
    /// The next page of policies, if there is one.
    pub next_href: Option<String>,
    pub servers: Vec<ServerScopes>,
    pub draft: DraftForm,
    /// Field → what is wrong with it.
    pub field_errors: BTreeMap<String, String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

/// One side of a simulation, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedOutcome {
    pub effective: Vec<String>,
    pub denied: Vec<String>,
    /// Names of the policies that allowed something.
    pub matched: Vec<String>,
    pub governed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatorView {
    pub header: AdminHeader,
    pub may_manage: bool,
    pub tenants: Vec<Choice>,
    pub servers: Vec<ServerScopes>,
    /// What was asked (the GET form's fields), to fill the form again.
    pub asked: DraftForm,
    pub field_errors: BTreeMap<String, String>,
    pub outside_allowance: Vec<String>,
    pub before: Option<SimulatedOutcome>,
    pub after: Option<SimulatedOutcome>,
}

#[server(endpoint = "policies_screen")]
pub async fn policies_screen(cursor: String) -> Result<Screen<PoliciesView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::policies_view(admin, cursor)
        .await
        .unwrap_or_else(super::failed))
}

#[server(endpoint = "simulator_screen")]
pub async fn simulator_screen() -> Result<Screen<SimulatorView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::simulator_view(admin)
        .await
        .unwrap_or_else(super::failed))
}

#[cfg(feature = "ssr")]
pub use ssr::{draft_from_pairs, server_choices};

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::BTreeMap;

    use mandate_core::admin::policies::{self as admin_policies, SimulationRequest};
    use mandate_core::admin::AdminError;
    use mandate_core::policy::draft::PolicyDraft;
    use mandate_core::policy::{Allow, Condition, Operator, Policy};
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::Admin;
    use crate::api::screen::respond;

    /// A policy form's fields (`name`, `description`, `c{i}_key`, `c{i}_claim`, `c{i}_op`,
    /// `c{i}_values` comma-separated, and one `allow=server-id|scope` per ticked box) as a
    /// draft, and the form as typed.
    pub fn draft_from_pairs(pairs: &[(String, String)]) -> (PolicyDraft, DraftForm) {
        let mut form = DraftForm::default();
        for (k, v) in pairs {
            if k == "allow" {
                form.allowed.push(v.clone());
            } else {
                form.values.insert(k.clone(), v.clone());
            }
        }
        let mut conditions = Vec::new();
        for i in 0..CONDITION_ROWS {
            let key = form.value(&format!("c{i}_key"));
            let values = form.value(&format!("c{i}_values"));
            if key.is_empty() && values.trim().is_empty() {
                continue;
            }
            let key = if key == "jwtClaims." {
                format!("jwtClaims.{}", form.value(&format!("c{i}_claim")).trim())
            } else {
                key
            };
            let operator = match form.value(&format!("c{i}_op")).as_str() {
                "NotEqual" => Operator::NotEqual,
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Contains" => Operator::Contains,
                _ => Operator::Equal,
            };
            conditions.push(Condition {
                key,
                operator,
                values: values.split(',').map(|v| v.trim().to_owned()).collect(),
            });
        }
        let mut allows: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pick in &form.allowed {
            if let Some((server, scope)) = pick.split_once('|') {
                allows
                    .entry(server.to_owned())
                    .or_default()
                    .push(scope.to_owned());
            }
        }
        let draft = PolicyDraft {
            name: form.value("name"),
            description: form.value("description"),
            conditions,
            allows: allows
                .into_iter()
                .map(|(mcp_server_id, scopes)| Allow {
                    mcp_server_id,
                    scopes,
                })
                .collect(),
        };
        (draft, form)
    }

    async fn servers(admin: &Admin) -> CoreResult<Vec<ServerScopes>> {
        server_choices(&admin.ctx.store).await
    }

    /// Every MCP server with a box per scope (`server-id|scope`).
    pub async fn server_choices(
        store: &mandate_core::store::Store,
    ) -> CoreResult<Vec<ServerScopes>> {
        let mut out = Vec::new();
        for server in store.list_mcp_servers().await? {
            let scopes = store.scopes_of(&server.id).await?;
            out.push(ServerScopes {
                scopes: scopes
                    .into_iter()
                    .map(|s| ScopeChoice {
                        value: format!("{}|{}", server.id.as_str(), s.name),
                        name: s.name,
                        display_name: s.display_name,
                    })
                    .collect(),
                id: server.id.as_str().to_owned(),
                name: server.name,
                slug: server.slug,
            });
        }
        Ok(out)
    }

    fn row(policy: Policy, servers: &[ServerScopes]) -> PolicyRow {
        let server_name = |id: &str| {
            servers
                .iter()
                .find(|s| s.id == id)
                .map_or_else(|| id.to_owned(), |s| s.name.clone())
        };
        PolicyRow {
            conditions: policy
                .conditions
                .iter()
                .map(|c| format!("{} {:?} {}", c.key, c.operator, c.values.join(", ")))
                .collect(),
            allows: policy
                .allows
                .iter()
                .map(|a| format!("{}: {}", server_name(&a.mcp_server_id), a.scopes.join(", ")))
                .collect(),
            id: policy.id,
            name: policy.name,
            description: policy.description,
        }
    }

    pub async fn policies_view(admin: Admin, cursor: String) -> CoreResult<Screen<PoliciesView>> {
        let (csrf, notice) = match crate::api::admin::form_page().await {
            Ok(found) => found,
            Err(screen) => return Ok(screen),
        };
        let servers = servers(&admin).await?;
        let may_manage = admin.access.is_project_admin();
        let (policies, next) =
            match admin_policies::list(&admin.ctx.store, &admin.access, &cursor, 50).await {
                Ok((list, next)) => (list.into_iter().map(|p| row(p, &servers)).collect(), next),
                Err(AdminError::Store(e)) => return Err(e),
                Err(_) => (Vec::new(), None),
            };
        let next_href = next.map(|c| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("cursor", &c)
                .finish();
            format!("/admin/policies?{query}")
        });
        let (draft, field_errors) = match &notice.form {
            Some(pairs) => (draft_from_pairs(pairs).1, notice.fields.clone()),
            None => (DraftForm::default(), BTreeMap::new()),
        };
        Ok(respond(Screen::Show(PoliciesView {
            header: admin.header,
            csrf,
            may_manage,
            policies,
            next_href,
            servers,
            draft,
            field_errors,
            error: notice.error,
            info: notice.info,
        })))
    }

    fn outcome(
        o: mandate_core::policy::simulate::Outcome,
        names: &BTreeMap<String, String>,
    ) -> SimulatedOutcome {
        SimulatedOutcome {
            matched: o
                .matched
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| "the draft".into()))
                .collect(),
            effective: o.effective,
            denied: o.denied,
            governed: o.governed,
        }
    }

    pub async fn simulator_view(admin: Admin) -> CoreResult<Screen<SimulatorView>> {
        let store = &admin.ctx.store;
        let query = leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| p.uri.query().map(str::to_owned))
            .unwrap_or_default();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let (draft, asked) = draft_from_pairs(&pairs);
        let tenants = store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| Choice {
                value: t.slug,
                label: t.name,
            })
            .collect();
        let mut view = SimulatorView {
            header: admin.header.clone(),
            may_manage: admin.access.is_project_admin(),
            tenants,
            servers: servers(&admin).await?,
            field_errors: BTreeMap::new(),
            outside_allowance: Vec::new(),
            before: None,
            after: None,
            asked,
        };
        if view.asked.value("user").is_empty() {
            return Ok(respond(Screen::Show(view)));
        }
        let request = SimulationRequest {
            user: view.asked.value("user"),
            tenant: view.asked.value("tenant"),
            agent: view.asked.value("agent"),
            mcp_server: view.asked.value("server"),
            scopes: view.asked.value("scopes"),
            draft: (view.asked.value("preview") == "on").then_some(draft),
        };
        match admin_policies::simulate_request(store, &admin.access, &request).await {
            Ok(sim) => {
                let names: BTreeMap<String, String> = store
                    .policies()
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect();
                view.outside_allowance = sim.outside_allowance;
                view.before = Some(outcome(sim.before, &names));
                view.after = sim.after.map(|a| outcome(a, &names));
            }
            Err(AdminError::Invalid(fields)) => view.field_errors = fields,
            Err(AdminError::Store(e)) => return Err(e),
            Err(AdminError::Forbidden(m) | AdminError::NotFound(m)) => {
                view.field_errors.insert("user".into(), m.into());
            }
        }
        Ok(respond(Screen::Show(view)))
    }
}
