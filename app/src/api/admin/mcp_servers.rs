//! The MCP servers pages' facts: the list, and one server's form (new or existing) with its
//! scopes, its issuer and discovery addresses and a ready-to-paste protected-resource
//! document. The form's fields are flat (`slug`, `name`, …, `s{i}_name`, `s{i}_sensitive` …)
//! so it posts without script; a refused form comes back as typed, errors beside fields.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminHeader;
use crate::api::screen::Screen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub resource_url: String,
    pub issuer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServersView {
    pub header: AdminHeader,
    pub may_manage: bool,
    pub servers: Vec<ServerRow>,
}

/// Where clients find the server's authorization server (an existing server only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    pub issuer: String,
    pub discovery_url: String,
    pub protected_resource_url: String,
    pub protected_resource_snippet: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFormView {
    pub header: AdminHeader,
    pub csrf: String,
    pub may_manage: bool,
    /// `None`: the form creates a server.
    pub id: Option<String>,
    /// The stored name (the page's heading), for an existing server.
    pub name: String,
    /// Field → value, as stored or as last sent.
    pub form: BTreeMap<String, String>,
    /// How many scope rows the form offers.
    pub scope_rows: usize,
    pub field_errors: BTreeMap<String, String>,
    pub links: Option<Links>,
    /// The server's issuance hooks in calling order (an existing server only).
    pub hooks: Vec<HookRow>,
    /// A hook's signing key just created: shown in this one response only.
    pub new_secret: Option<String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

/// One issuance hook as the server page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRow {
    pub id: String,
    pub position: i64,
    pub name: String,
    pub url: String,
    pub timeout_ms: i64,
    pub on_failure: String,
    pub secret_hint: String,
}

/// The hook form's fields (prefixed: the server form beside it has a `name` too).
pub const HOOK_FIELDS: [&str; 5] = [
    "hook_name",
    "hook_url",
    "hook_timeout_ms",
    "hook_on_failure",
    "hook_position",
];

impl ServerFormView {
    pub fn value(&self, field: &str) -> String {
        self.form.get(field).cloned().unwrap_or_default()
    }

    pub fn ticked(&self, field: &str) -> bool {
        self.form.get(field).is_some_and(|v| v == "on")
    }
}

/// Blank scope rows offered after the existing ones.
pub const BLANK_SCOPE_ROWS: usize = 3;

#[server(endpoint = "mcp_servers_screen")]
pub async fn mcp_servers_screen() -> Result<Screen<McpServersView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::list_view(admin).await.unwrap_or_else(super::failed))
}

#[server(endpoint = "mcp_server_screen")]
pub async fn mcp_server_screen(id: String) -> Result<Screen<ServerFormView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    let (csrf, notice) = match super::form_page().await {
        Ok(found) => found,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::form_view(admin, &id, csrf, notice)
        .await
        .unwrap_or_else(super::failed))
}

#[cfg(feature = "ssr")]
pub use ssr::{draft_from_pairs, form_errors, hook_draft_from_pairs};

#[cfg(feature = "ssr")]
mod ssr {
    use mandate_core::admin::mcp_servers::draft::{McpServerDraft, ScopeDraft};
    use mandate_core::admin::mcp_servers::{self as servers, ServerLinks};
    use mandate_core::admin::AdminError;
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::Admin;
    use crate::api::screen::{respond, PageNotice};

    const FLAGS: [&str; 3] = ["dcr_enabled", "cimd_enabled", "cimd_allow_unknown"];
    const NUMBERS: [&str; 5] = [
        "access_token_ttl_secs",
        "step_up_window_secs",
        "refresh_token_ttl_secs",
        "refresh_token_max_secs",
        "dcr_unused_expiry_secs",
    ];

    fn flag(on: bool) -> String {
        if on { "on" } else { "" }.to_owned()
    }

    /// The form's fields for a stored (or default) server.
    fn pairs_of(d: &McpServerDraft) -> BTreeMap<String, String> {
        let mut form = BTreeMap::from([
            ("slug".to_owned(), d.slug.clone()),
            ("name".to_owned(), d.name.clone()),
            ("description".to_owned(), d.description.clone()),
            ("resource_url".to_owned(), d.resource_url.clone()),
            (
                "dcr_redirect_hosts".to_owned(),
                d.dcr_redirect_hosts.join(", "),
            ),
            ("cimd_domains".to_owned(), d.cimd_domains.join(", ")),
            ("dcr_enabled".to_owned(), flag(d.dcr_enabled)),
            ("cimd_enabled".to_owned(), flag(d.cimd_enabled)),
            ("cimd_allow_unknown".to_owned(), flag(d.cimd_allow_unknown)),
            ("tenant_consent".to_owned(), d.tenant_consent.clone()),
        ]);
        for (field, value) in [
            ("access_token_ttl_secs", d.access_token_ttl_secs),
            ("step_up_window_secs", d.step_up_window_secs),
            ("refresh_token_ttl_secs", d.refresh_token_ttl_secs),
            ("refresh_token_max_secs", d.refresh_token_max_secs),
            ("dcr_unused_expiry_secs", d.dcr_unused_expiry_secs),
        ] {
            form.insert(field.to_owned(), value.to_string());
        }
        for (i, s) in d.scopes.iter().enumerate() {
            form.insert(format!("s{i}_name"), s.name.clone());
            form.insert(format!("s{i}_display_name"), s.display_name.clone());
            form.insert(format!("s{i}_description"), s.description.clone());
            form.insert(format!("s{i}_sensitive"), flag(s.sensitive));
            form.insert(format!("s{i}_mandatory"), flag(s.mandatory));
            form.insert(format!("s{i}_default_on"), flag(s.default_on));
        }
        form
    }

    fn rows_in(form: &BTreeMap<String, String>) -> usize {
        form.keys()
            .filter_map(|k| {
                k.strip_prefix('s')?
                    .split_once('_')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }

    /// A posted form as a draft, the form as typed, and for each draft scope the form row it
    /// came from (a row without a name is left out: that is how a scope is removed). Numbers
    /// that do not parse become -1, which validation refuses beside the field.
    pub fn draft_from_pairs(
        pairs: &[(String, String)],
    ) -> (McpServerDraft, BTreeMap<String, String>, Vec<usize>) {
        let form: BTreeMap<String, String> = pairs.iter().cloned().collect();
        let text = |k: &str| form.get(k).cloned().unwrap_or_default();
        let on = |k: &str| form.get(k).is_some_and(|v| v == "on");
        let number = |k: &str| text(k).trim().parse::<i64>().unwrap_or(-1);
        let list = |k: &str| {
            text(k)
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let mut rows = Vec::new();
        let mut scopes = Vec::new();
        for i in 0..rows_in(&form) {
            let name = text(&format!("s{i}_name"));
            if name.trim().is_empty() {
                continue;
            }
            rows.push(i);
            scopes.push(ScopeDraft {
                name,
                display_name: text(&format!("s{i}_display_name")),
                description: text(&format!("s{i}_description")),
                sensitive: on(&format!("s{i}_sensitive")),
                mandatory: on(&format!("s{i}_mandatory")),
                default_on: on(&format!("s{i}_default_on")),
            });
        }
        let draft = McpServerDraft {
            slug: text("slug"),
            name: text("name"),
            description: text("description"),
            resource_url: text("resource_url"),
            access_token_ttl_secs: number(NUMBERS[0]),
            step_up_window_secs: number(NUMBERS[1]),
            refresh_token_ttl_secs: number(NUMBERS[2]),
            refresh_token_max_secs: number(NUMBERS[3]),
            dcr_unused_expiry_secs: number(NUMBERS[4]),
            dcr_enabled: on(FLAGS[0]),
            cimd_enabled: on(FLAGS[1]),
            cimd_allow_unknown: on(FLAGS[2]),
            tenant_consent: match text("tenant_consent").as_str() {
                "" => "off".to_owned(),
                other => other.to_owned(),
            },
            dcr_redirect_hosts: list("dcr_redirect_hosts"),
            cimd_domains: list("cimd_domains"),
            scopes,
        };
        (draft, form, rows)
    }

    /// A posted hook form as core's draft (a timeout or position that does not parse becomes
    /// -1, which validation refuses beside the field).
    pub fn hook_draft_from_pairs(
        pairs: &[(String, String)],
    ) -> mandate_core::admin::hooks::HookDraft {
        let text = |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let number = |k: &str| match text(k) {
            t if t.is_empty() => None,
            t => Some(t.parse::<i64>().unwrap_or(-1)),
        };
        mandate_core::admin::hooks::HookDraft {
            name: text("hook_name"),
            url: text("hook_url"),
            timeout_ms: number("hook_timeout_ms"),
            on_failure: Some(text("hook_on_failure")).filter(|p| !p.is_empty()),
            position: number("hook_position"),
        }
    }

    /// Core's field names (`scopes[k].name`) as the form's (`s{row}_name`).
    pub fn form_errors(
        fields: BTreeMap<String, String>,
        rows: &[usize],
    ) -> BTreeMap<String, String> {
        fields
            .into_iter()
            .map(|(k, v)| {
                let renamed = k
                    .strip_prefix("scopes[")
                    .and_then(|rest| rest.split_once("]."))
                    .and_then(|(i, field)| {
                        let row = rows.get(i.parse::<usize>().ok()?)?;
                        Some(format!("s{row}_{field}"))
                    });
                (renamed.unwrap_or(k), v)
            })
            .collect()
    }

    pub async fn list_view(admin: Admin) -> CoreResult<Screen<McpServersView>> {
        let may_manage = admin.access.is_project_admin();
        let list = match servers::list(&admin.ctx.store, &admin.access).await {
            Ok(list) => list,
            Err(AdminError::Store(e)) => return Err(e),
            Err(_) => Vec::new(),
        };
        let base = &admin.ctx.public_url;
        Ok(respond(Screen::Show(McpServersView {
            header: admin.header,
            may_manage,
            servers: list
                .into_iter()
                .map(|s| ServerRow {
                    issuer: s.issuer(base),
                    id: s.id.to_string(),
                    slug: s.slug,
                    name: s.name,
                    resource_url: s.resource_url,
                })
                .collect(),
        })))
    }

    pub async fn form_view(
        admin: Admin,
        id: &str,
        csrf: String,
        notice: PageNotice,
    ) -> CoreResult<Screen<ServerFormView>> {
        let may_manage = admin.access.is_project_admin();
        let (stored, links) = if id == "new" || !may_manage {
            (None, None)
        } else {
            match servers::get(&admin.ctx.store, &admin.access, id).await {
                Ok(found) => {
                    let l = ServerLinks::of(&admin.ctx.public_url, &found.server, &found.scopes);
                    let links = Links {
                        issuer: l.issuer,
                        discovery_url: l.discovery_url,
                        protected_resource_url: l.protected_resource_url,
                        protected_resource_snippet: l.protected_resource_snippet,
                    };
                    (Some(found), Some(links))
                }
                Err(AdminError::Store(e)) => return Err(e),
                Err(_) => {
                    return Ok(respond(Screen::Error(crate::api::screen::ErrorView::new(
                        404,
                        "No such MCP server",
                        "It may have been deleted. The list of MCP servers shows every one.",
                    ))))
                }
            }
        };
        // A refused hook form comes back in its own fields; the server form shows what is
        // stored.
        let hook_form = notice
            .form
            .as_ref()
            .filter(|pairs| pairs.iter().any(|(k, _)| HOOK_FIELDS.contains(&k.as_str())));
        let mut form = match (&notice.form, hook_form) {
            (Some(pairs), None) => draft_from_pairs(pairs).1,
            _ => match &stored {
                Some(s) => pairs_of(&McpServerDraft::of(&s.server, &s.scopes)),
                None => pairs_of(&McpServerDraft::default()),
            },
        };
        if let Some(pairs) = hook_form {
            form.extend(
                pairs
                    .iter()
                    .filter(|(k, _)| HOOK_FIELDS.contains(&k.as_str()))
                    .cloned(),
            );
        }
        let hooks = match &stored {
            Some(s) => admin
                .ctx
                .store
                .hooks_of(s.server.id.as_str())
                .await?
                .into_iter()
                .map(|h| HookRow {
                    id: h.id,
                    position: h.position,
                    name: h.name,
                    url: h.url,
                    timeout_ms: h.timeout_ms,
                    on_failure: h.on_failure.as_str().to_owned(),
                    secret_hint: h.secret_hint,
                })
                .collect(),
            None => Vec::new(),
        };
        let scope_rows = rows_in(&form) + BLANK_SCOPE_ROWS;
        Ok(respond(Screen::Show(ServerFormView {
            header: admin.header,
            csrf,
            may_manage,
            id: stored.as_ref().map(|s| s.server.id.to_string()),
            name: stored.map(|s| s.server.name).unwrap_or_default(),
            form,
            scope_rows,
            field_errors: notice.fields,
            links,
            hooks,
            new_secret: notice.secret,
            error: notice.error,
            info: notice.info,
        })))
    }
}
