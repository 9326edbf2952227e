//! `/admin/mcp-servers`: the MCP servers Mandate is the authorization server for;
//! `/admin/mcp-servers/new` and `/admin/mcp-servers/{id}`: one server's settings and scopes in
//! one form (a scope row whose name is cleared is removed), its issuer, discovery address and
//! protected-resource document, and delete with a ticked confirmation.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{console_page, AdminFrame};
use crate::api::admin::mcp_servers::{
    mcp_server_screen, mcp_servers_screen, HookRow, Links, McpServersView, ServerFormView,
};
use crate::components::fields::{CheckField, TextField};

#[component]
pub fn McpServersPage() -> impl IntoView {
    console_page(
        "MCP servers",
        || (),
        |()| mcp_servers_screen(),
        |facts| view! { <McpServers facts /> },
    )
}

#[component]
pub fn McpServerPage() -> impl IntoView {
    let params = use_params_map();
    console_page(
        "MCP server",
        move || params.read().get("id").unwrap_or_default(),
        mcp_server_screen,
        |facts| view! { <ServerForm facts /> },
    )
}

const FORBIDDEN: &str = "Only project admins manage MCP servers.";

const TENANT_CONSENT: [(&str, &str); 3] = [
    ("off", "Not used: people consent for themselves"),
    (
        "required",
        "Required: a tenant admin approves the agent first; people consent within it",
    ),
    (
        "replaces",
        "Replaces consent: the tenant's approval is enough, people are not asked",
    ),
];

#[component]
fn McpServers(facts: McpServersView) -> impl IntoView {
    let McpServersView {
        header,
        may_manage,
        servers,
    } = facts;
    let body = if !may_manage {
        view! { <p class="notice">{FORBIDDEN}</p> }.into_any()
    } else if servers.is_empty() {
        view! { <p class="muted">"No MCP servers yet."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="events" data-testid="mcp-servers">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Slug"</th>
                            <th scope="col">"Resource URL"</th>
                            <th scope="col">"Issuer"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {servers
                            .into_iter()
                            .map(|s| {
                                let key = s.slug.clone();
                                view! {
                                <tr data-server=key>
                                    <td><a href=format!("/admin/mcp-servers/{}", s.id)>{s.name}</a></td>
                                    <td><code>{s.slug}</code></td>
                                    <td><code>{s.resource_url}</code></td>
                                    <td><code>{s.issuer}</code></td>
                                </tr>
                            }})
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <AdminFrame header current="/admin/mcp-servers">
            <h1>"MCP servers"</h1>
            <p class="muted">
                "Each MCP server gets its own issuer: agents discover it from the server's protected-resource document."
            </p>
            {may_manage.then(|| view! {
                <p><a class="button primary" href="/admin/mcp-servers/new">"New MCP server"</a></p>
            })}
            {body}
        </AdminFrame>
    }
}

#[component]
fn LinksPanel(links: Links) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="links-h" data-testid="server-links">
            <h2 id="links-h">"Connect the MCP server"</h2>
            <dl class="facts">
                <dt>"Issuer"</dt>
                <dd><code>{links.issuer}</code></dd>
                <dt>"Discovery (RFC 8414)"</dt>
                <dd><a href=links.discovery_url.clone()><code>{links.discovery_url.clone()}</code></a></dd>
                <dt>"Protected resource document (RFC 9728)"</dt>
                <dd><a href=links.protected_resource_url.clone()><code>{links.protected_resource_url.clone()}</code></a></dd>
            </dl>
            <p class="muted">
                "Serve this at the MCP server's " <code>"/.well-known/oauth-protected-resource"</code>
                " (or proxy the address above), and answer 401 with "
                <code>"WWW-Authenticate: Bearer resource_metadata=\"…\""</code> " pointing to it:"
            </p>
            <pre class="snippet"><code>{links.protected_resource_snippet}</code></pre>
        </section>
    }
}

/// One scope row of the form.
fn scope_row(facts: &ServerFormView, i: usize) -> impl IntoView {
    let f = |field: &str| format!("s{i}_{field}");
    let error = |field: &str| facts.field_errors.get(&f(field)).cloned();
    let blank = facts.value(&f("name")).is_empty();
    view! {
        <fieldset class="scope-row" data-row=i>
            <legend>{if blank { format!("New scope {}", i + 1) } else { facts.value(&f("name")) }}</legend>
            <TextField name=f("name") label="Scope" value=facts.value(&f("name")) error=error("name")
                placeholder="notes.read" />
            <TextField name=f("display_name") label="Display name" value=facts.value(&f("display_name"))
                error=error("display_name") placeholder="Read your notes" />
            <TextField name=f("description") label="What it lets the agent do (shown on the consent screen)"
                value=facts.value(&f("description")) error=error("description") />
            <CheckField name=f("sensitive") label="Sensitive (asks for a recent second factor)"
                checked=facts.ticked(&f("sensitive")) />
            <CheckField name=f("mandatory") label="Mandatory (cannot be switched off)"
                checked=facts.ticked(&f("mandatory")) />
            <CheckField name=f("default_on") label="On by default"
                checked=blank || facts.ticked(&f("default_on")) />
        </fieldset>
    }
}

#[component]
fn ServerForm(facts: ServerFormView) -> impl IntoView {
    let header = facts.header.clone();
    if !facts.may_manage {
        return view! {
            <AdminFrame header current="/admin/mcp-servers">
                <h1>"MCP server"</h1>
                <p class="notice">{FORBIDDEN}</p>
            </AdminFrame>
        }
        .into_any();
    }
    let action = match &facts.id {
        Some(id) => format!("/admin/mcp-servers/{id}"),
        None => "/admin/mcp-servers/new".to_owned(),
    };
    let title = match &facts.id {
        Some(_) => facts.name.clone(),
        None => "New MCP server".to_owned(),
    };
    let rows = (0..facts.scope_rows)
        .map(|i| scope_row(&facts, i))
        .collect_view();
    let delete = facts.id.clone().map(|id| {
        let error = facts.field_errors.get("server").cloned();
        view! {
            <form method="post" action=format!("/admin/mcp-servers/{id}/delete") class="panel confirm">
                <h2>"Delete this server"</h2>
                <p class="muted">
                    "Its scopes, allowances and remembered consents go, and every token issued for it stops working."
                </p>
                <input type="hidden" name="csrf" value=facts.csrf.clone() />
                <input type="checkbox" id="confirm-delete" name="confirm" value="yes" required />
                <label for="confirm-delete">"Yes, delete"</label>
                <button class="button danger" type="submit">"Delete server"</button>
                {error.map(|m| view! { <p class="error field-error" data-field="server">{m}</p> })}
            </form>
        }
    });
    let ticked = |field: &str| facts.ticked(field);
    let (dcr_on, cimd_on, cimd_unknown) = (
        ticked("dcr_enabled"),
        ticked("cimd_enabled"),
        ticked("cimd_allow_unknown"),
    );
    let submit = if facts.id.is_some() {
        "Save changes"
    } else {
        "Create server"
    };
    let consent_mode = match facts.value("tenant_consent").as_str() {
        "" => "off".to_owned(),
        mode => mode.to_owned(),
    };
    let hooks_panel = facts.id.clone().map(|id| {
        let hook_form = HookForm {
            values: [
                "hook_name",
                "hook_url",
                "hook_timeout_ms",
                "hook_on_failure",
                "hook_position",
            ]
            .map(|f| facts.value(f)),
            errors: ["name", "url", "timeout_ms", "on_failure", "position"]
                .map(|f| facts.field_errors.get(&format!("hook_{f}")).cloned()),
        };
        view! {
            <HooksPanel
                id
                csrf=facts.csrf.clone()
                hooks=facts.hooks.clone()
                new_secret=facts.new_secret.clone()
                form=hook_form
            />
        }
    });
    let ServerFormView {
        csrf,
        form,
        field_errors,
        links,
        error,
        info,
        ..
    } = facts;
    let scopes_error = field_errors.get("scopes").cloned();
    let v = move |field: &str| form.get(field).cloned().unwrap_or_default();
    let e = move |field: &str| field_errors.get(field).cloned();
    view! {
        <AdminFrame header current="/admin/mcp-servers">
            <p><a href="/admin/mcp-servers">"← MCP servers"</a></p>
            <h1>{title}</h1>
            {error.map(|m| view! { <p role="alert" class="error">{m}</p> })}
            {info.map(|m| view! { <p role="status">{m}</p> })}
            {links.map(|links| view! { <LinksPanel links /> })}
            <form method="post" action=action class="form panel" data-testid="server-form">
                <input type="hidden" name="csrf" value=csrf />
                <h2>"Settings"</h2>
                <TextField name="name" label="Name" value=v("name") error=e("name") required=true />
                <TextField name="slug" label="Slug" value=v("slug") error=e("slug") required=true
                    hint="The issuer's last path segment: {base}/s/{slug}." />
                <TextField name="resource_url" label="Resource URL" value=v("resource_url")
                    error=e("resource_url") required=true kind="url"
                    hint="The MCP server's URL (RFC 8707 resource): the audience of its tokens." />
                <TextField name="description" label="Description" value=v("description") error=e("description") />
                <TextField name="access_token_ttl_secs" label="Access token lifetime (seconds)"
                    value=v("access_token_ttl_secs") error=e("access_token_ttl_secs") kind="number" />
                <TextField name="step_up_window_secs" label="Step-up window (seconds)"
                    value=v("step_up_window_secs") error=e("step_up_window_secs") kind="number"
                    hint="Sensitive scopes need a second factor at most this old." />
                <TextField name="refresh_token_ttl_secs" label="Refresh token idle lifetime (seconds)"
                    value=v("refresh_token_ttl_secs") error=e("refresh_token_ttl_secs") kind="number" />
                <TextField name="refresh_token_max_secs" label="Refresh token absolute lifetime (seconds)"
                    value=v("refresh_token_max_secs") error=e("refresh_token_max_secs") kind="number" />
                <h2>"Registration"</h2>
                <CheckField name="dcr_enabled" label="Open to dynamic client registration (RFC 7591)"
                    checked=dcr_on />
                <TextField name="dcr_redirect_hosts" label="Allowed redirect hosts for registered agents"
                    value=v("dcr_redirect_hosts") error=e("dcr_redirect_hosts")
                    hint="Comma-separated hosts or *.domain patterns; empty allows any. Loopback is always allowed." />
                <TextField name="dcr_unused_expiry_secs" label="Registered agents expire when unused for (seconds)"
                    value=v("dcr_unused_expiry_secs") error=e("dcr_unused_expiry_secs") kind="number" />
                <CheckField name="cimd_enabled" label="Accept Client ID Metadata Documents"
                    checked=cimd_on />
                <TextField name="cimd_domains" label="Approved metadata document hosts"
                    value=v("cimd_domains") error=e("cimd_domains")
                    hint="Comma-separated hosts or *.domain patterns." />
                <CheckField name="cimd_allow_unknown" label="Also accept documents from other hosts"
                    checked=cimd_unknown />
                <h2>"Tenant approval"</h2>
                <fieldset class="choices" data-testid="tenant-consent">
                    <legend>"How a tenant admin's approval of an agent weighs here (a tenant's block always holds)"</legend>
                    {TENANT_CONSENT
                        .iter()
                        .map(|(value, label)| {
                            let id = format!("tc-{value}");
                            let label_for = id.clone();
                            let checked = consent_mode == *value;
                            view! {
                                <label class="check" for=label_for>
                                    <input type="radio" id=id name="tenant_consent" value=*value checked=checked />
                                    {*label}
                                </label>
                            }
                        })
                        .collect_view()}
                    {e("tenant_consent").map(|m| view! { <p class="error field-error" data-field="tenant_consent">{m}</p> })}
                </fieldset>
                <h2>"Scopes"</h2>
                <p class="muted">"Clear a scope's name to remove it. Empty rows are ignored."</p>
                {scopes_error.map(|m| view! { <p class="error field-error" data-field="scopes">{m}</p> })}
                {rows}
                <div class="actions">
                    <button class="button primary" type="submit">{submit}</button>
                </div>
            </form>
            {hooks_panel}
            {delete}
        </AdminFrame>
    }
    .into_any()
}

/// The add-hook form as typed (after a refusal) and its errors.
struct HookForm {
    /// name, url, timeout_ms, on_failure, position.
    values: [String; 5],
    errors: [Option<String>; 5],
}

/// The server's issuance hooks: the list in calling order (each with a delete button), a new
/// hook's key shown once, and the form that adds one. Every form posts to the server's page
/// with an `intent`.
#[component]
fn HooksPanel(
    id: String,
    csrf: String,
    hooks: Vec<HookRow>,
    new_secret: Option<String>,
    form: HookForm,
) -> impl IntoView {
    let action = format!("/admin/mcp-servers/{id}");
    let HookForm { values, errors } = form;
    let [name, url, timeout, on_failure, position] = values;
    let [name_e, url_e, timeout_e, failure_e, position_e] = errors;
    let continue_on = on_failure == "continue";
    let list = if hooks.is_empty() {
        view! { <p class="muted">"No hooks: codes are issued as soon as the person consents."</p> }
            .into_any()
    } else {
        let rows = hooks
            .into_iter()
            .map(|h| {
                let (action, csrf) = (action.clone(), csrf.clone());
                view! {
                    <tr data-testid="hook-row">
                        <td>{h.position}</td>
                        <td>{h.name}</td>
                        <td><code>{h.url}</code></td>
                        <td>{format!("{} ms", h.timeout_ms)}</td>
                        <td>{if h.on_failure == "continue" { "continue without it" } else { "deny" }}</td>
                        <td><code>{format!("…{}", h.secret_hint)}</code></td>
                        <td>
                            <form method="post" action=action>
                                <input type="hidden" name="csrf" value=csrf />
                                <input type="hidden" name="intent" value="hook_delete" />
                                <input type="hidden" name="hook" value=h.id />
                                <button class="button danger" type="submit">"Delete"</button>
                            </form>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="table">
                <thead>
                    <tr>
                        <th>"#"</th><th>"Name"</th><th>"URL"</th><th>"Timeout"</th>
                        <th>"If it fails"</th><th>"Key"</th><th></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="panel" aria-labelledby="hooks-h" data-testid="hooks">
            <h2 id="hooks-h">"Issuance hooks"</h2>
            <p class="muted">
                "Called in order after a person consents and before the code is issued, with a signed JSON body "
                "(user, tenant, agent, scopes). A hook may add claims to the access token, remove scopes, or "
                "deny with a message the person sees."
            </p>
            {new_secret.map(|secret| view! {
                <div class="panel" role="status" data-testid="new-hook-key">
                    <p><strong>"Copy this signing key now: it is not shown again."</strong></p>
                    <p><code class="manual-key">{secret}</code></p>
                    <p class="muted">
                        "Check " <code>"Mandate-Signature: t=…,v1=…"</code>
                        " as the HMAC-SHA256 of " <code>"{t}.{body}"</code> " under this key."
                    </p>
                </div>
            })}
            {list}
            <form method="post" action=action.clone() class="form" data-testid="hook-form">
                <h3>"Add a hook"</h3>
                <input type="hidden" name="csrf" value=csrf.clone() />
                <input type="hidden" name="intent" value="hook_add" />
                <TextField name="hook_name" label="Hook name" value=name error=name_e required=true />
                <TextField name="hook_url" label="Hook URL" value=url error=url_e required=true kind="url"
                    hint="https; plain http only on a loopback host." />
                <TextField name="hook_timeout_ms" label="Timeout (milliseconds)" value=timeout
                    error=timeout_e kind="number" placeholder="2000" />
                <fieldset class="choices">
                    <legend>"If the hook fails (unreachable, slow, a bad answer)"</legend>
                    <label class="check" for="hook-deny">
                        <input type="radio" id="hook-deny" name="hook_on_failure" value="deny" checked={!continue_on} />
                        "Deny: issue nothing"
                    </label>
                    <label class="check" for="hook-continue">
                        <input type="radio" id="hook-continue" name="hook_on_failure" value="continue" checked=continue_on />
                        "Continue without its answer"
                    </label>
                    {failure_e.map(|m| view! { <p class="error field-error" data-field="hook_on_failure">{m}</p> })}
                </fieldset>
                <TextField name="hook_position" label="Position (optional)" value=position
                    error=position_e kind="number" hint="Lower runs first; empty adds it last." />
                <div class="actions">
                    <button class="button primary" type="submit">"Add hook"</button>
                </div>
            </form>
        </section>
    }
}
