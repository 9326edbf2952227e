//! `/admin/agents`: every agent (manual, DCR, CIMD) with search, filters (a GET form: the view's
//! address is the filter) and cursor pages, and the form that creates a machine agent for
//! client_credentials; `/admin/agents/{client id}`: one agent, and the forms that change it.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::audit::{Row, Select};
use super::{console_page, AdminFrame};
use crate::api::admin::agents::{
    agent_screen, agents_screen, AgentRow, AgentView, AgentsQuery, AgentsView, AllowanceRow,
};
use crate::api::admin::policies::ServerScopes;
use crate::api::admin::Choice;
use crate::components::fields::TextField;

#[component]
pub fn AgentsPage() -> impl IntoView {
    let params = use_query_map();
    console_page(
        "Agents",
        move || AgentsQuery::from_params(|k| params.read().get(k)),
        agents_screen,
        |facts| view! { <Agents facts /> },
    )
}

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    console_page(
        "Agent",
        move || params.read().get("id").unwrap_or_default(),
        agent_screen,
        |facts| view! { <AgentDetail facts /> },
    )
}

const FORBIDDEN: &str = "Only project admins manage agents.";

fn choices(pairs: &[(&str, &str)]) -> Vec<Choice> {
    pairs
        .iter()
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
        })
        .collect()
}

const KINDS: [(&str, &str); 3] = [("manual", "Manual"), ("dcr", "DCR"), ("cimd", "CIMD")];
const TRUST: [(&str, &str); 4] = [
    ("verified", "Verified"),
    ("admin", "Admin"),
    ("dcr", "DCR"),
    ("cimd", "CIMD"),
];
const USED: [(&str, &str); 5] = [
    ("7d", "In the last 7 days"),
    ("30d", "In the last 30 days"),
    ("idle30d", "Not for 30 days"),
    ("idle90d", "Not for 90 days"),
    ("never", "Never"),
];

#[component]
fn AgentFilters(
    query: AgentsQuery,
    servers: Vec<ServerScopes>,
    tenants: Vec<Choice>,
    errors: std::collections::BTreeMap<String, String>,
) -> impl IntoView {
    let current = |k: &str| Some(query.value(k)).filter(|v| !v.is_empty());
    let server_choices = servers
        .iter()
        .map(|s| Choice {
            value: s.slug.clone(),
            label: s.name.clone(),
        })
        .collect();
    view! {
        <form method="get" action="/admin/agents" class="filters panel" role="search" aria-label="Filter agents">
            <div class="filter">
                <label for="f-q">"Name or client id"</label>
                <input id="f-q" name="q" value=query.value("q") autocomplete="off" />
            </div>
            <div class="filter"><Select name="kind" label="Kind" options=choices(&KINDS) current=current("kind") any="Any kind" /></div>
            <div class="filter"><Select name="trust_level" label="Trust" options=choices(&TRUST) current=current("trust_level") any="Any trust" /></div>
            <div class="filter">
                <label for="f-tag">"Tag"</label>
                <input id="f-tag" name="tag" value=query.value("tag") autocomplete="off" />
            </div>
            <div class="filter"><Select name="mcp_server" label="MCP server" options=server_choices current=current("mcp_server") any="Any server" /></div>
            <div class="filter"><Select name="tenant" label="Tenant" options=tenants current=current("tenant") any="Any tenant" /></div>
            <div class="filter"><Select name="used" label="Last used" options=choices(&USED) current=current("used") any="Any time" /></div>
            <div class="actions">
                <button class="button primary" type="submit">"Apply"</button>
                <a class="button" href="/admin/agents">"Clear"</a>
            </div>
            {errors
                .into_iter()
                .map(|(field, m)| view! { <p class="error field-error" data-field=field>{m}</p> })
                .collect_view()}
        </form>
    }
}

#[component]
fn AgentTable(agents: Vec<AgentRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="events" data-testid="agents">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Client id"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Trust"</th>
                        <th scope="col">"Tags"</th>
                        <th scope="col">"Created (UTC)"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {agents
                        .into_iter()
                        .map(|a| {
                            let key = a.id.clone();
                            view! {
                            <tr data-agent=key>
                                <td><a href=a.href>{a.name}</a></td>
                                <td><code>{a.id}</code></td>
                                <td>{a.kind}</td>
                                <td>{a.trust_level}</td>
                                <td>{a.tags.join(", ")}</td>
                                <td class="nowrap">{a.created}</td>
                                <td class="nowrap">{a.last_used}</td>
                                <td>{if a.disabled { "disabled" } else { "active" }}</td>
                            </tr>
                        }})
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The boxes of an allowance per server (`allow=server-id|scope`).
fn scope_boxes(servers: Vec<ServerScopes>, allowed: Vec<String>) -> impl IntoView {
    servers
        .into_iter()
        .map(|s| {
            let allowed = allowed.clone();
            view! {
                <p><strong>{s.name}</strong></p>
                {s.scopes
                    .into_iter()
                    .map(|scope| {
                        let id = format!("allow-{}", scope.value.replace('|', "-"));
                        let label_for = id.clone();
                        let checked = allowed.contains(&scope.value);
                        view! {
                            <label class="check" for=label_for>
                                <input type="checkbox" id=id name="allow" value=scope.value checked=checked />
                                <code>{scope.name}</code>
                            </label>
                        }
                    })
                    .collect_view()}
            }
        })
        .collect_view()
}

#[component]
fn Agents(facts: AgentsView) -> impl IntoView {
    let AgentsView {
        header,
        csrf,
        may_manage,
        query,
        agents,
        next_href,
        filter_errors,
        servers,
        tenants,
        form,
        allowed,
        field_errors,
        created,
        error,
        info,
    } = facts;
    if !may_manage {
        return view! {
            <AdminFrame header current="/admin/agents">
                <h1>"Agents"</h1>
                <p class="notice">{FORBIDDEN}</p>
            </AdminFrame>
        }
        .into_any();
    }
    let allowance_errors: Vec<String> = field_errors
        .iter()
        .filter(|(k, _)| k.starts_with("allowances"))
        .map(|(_, v)| v.clone())
        .collect();
    let empty = agents.is_empty();
    let value = move |k: &str| form.get(k).cloned().unwrap_or_default();
    let e = move |k: &str| field_errors.get(k).cloned();
    view! {
        <AdminFrame header current="/admin/agents">
            <h1>"Agents"</h1>
            {error.map(|m| view! { <p role="alert" class="error">{m}</p> })}
            {info.map(|m| view! { <p role="status">{m}</p> })}
            {created.map(|c| view! {
                <div class="panel" role="status" data-testid="new-agent">
                    <p><strong>"Copy the secret now: it is not shown again."</strong></p>
                    <p>"Client id: " <code data-testid="new-client-id">{c.client_id.clone()}</code></p>
                    <p>"Client secret: " <code class="manual-key" data-testid="new-client-secret">{c.client_secret}</code></p>
                    <p><a href=crate::api::admin::agents::agent_href(&c.client_id)>"Open the agent"</a></p>
                </div>
            })}
            <AgentFilters query servers=servers.clone() tenants errors=filter_errors />
            {if empty {
                view! { <p class="muted">"No agents match."</p> }.into_any()
            } else {
                view! { <AgentTable agents /> }.into_any()
            }}
            {next_href.map(|href| view! { <p><a class="button" href=href rel="next">"Next page"</a></p> })}
            <form method="post" action="/admin/agents" class="form panel" aria-labelledby="new-agent-h">
                <h2 id="new-agent-h">"New machine agent"</h2>
                <p class="muted">
                    "A confidential agent that gets tokens for itself with client_credentials, only for the scopes ticked here."
                </p>
                <input type="hidden" name="csrf" value=csrf />
                <TextField name="name" label="Name" value=value("name") error=e("name") required=true />
                <TextField name="tags" label="Tags" value=value("tags") error=e("tags")
                    hint="Comma-separated, e.g. ops, nightly. Policies can match on client.tags." />
                <fieldset class="allows">
                    <legend>"Allowed scopes"</legend>
                    {scope_boxes(servers, allowed)}
                    {allowance_errors
                        .into_iter()
                        .map(|m| view! { <p class="error field-error" data-field="allowances">{m}</p> })
                        .collect_view()}
                </fieldset>
                <div class="actions">
                    <button class="button primary" type="submit">"Create agent"</button>
                </div>
            </form>
        </AdminFrame>
    }
    .into_any()
}

fn allowance_block(row: AllowanceRow) -> impl IntoView {
    let every_id = format!("every-{}", row.server_id);
    let every_for = every_id.clone();
    let server = row.server_id.clone();
    let every_value = row.server_id.clone();
    view! {
        <fieldset class="allows" data-server=row.server_id>
            <legend>{row.server_name}</legend>
            <label class="check" for=every_for>
                <input type="checkbox" id=every_id name="every" value=every_value checked=row.every />
                "Every scope (also scopes added later)"
            </label>
            {row.scopes
                .into_iter()
                .map(|(name, display, on)| {
                    let value = format!("{server}|{name}");
                    let id = format!("allow-{}-{}", server, name);
                    let label_for = id.clone();
                    view! {
                        <label class="check" for=label_for>
                            <input type="checkbox" id=id name="allow" value=value checked=on />
                            <code>{name}</code> " " <span class="muted">{display}</span>
                        </label>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

#[component]
fn AgentDetail(facts: AgentView) -> impl IntoView {
    let AgentView {
        header,
        csrf,
        may_manage,
        id: _,
        href,
        name,
        facts,
        redirect_uris,
        tags,
        trust_level,
        confidential,
        disabled,
        metadata_json,
        allowances,
        vault,
        bound,
        events,
        audit_href,
        new_secret,
        field_errors,
        error,
        info,
    } = facts;
    if !may_manage {
        return view! {
            <AdminFrame header current="/admin/agents">
                <h1>"Agent"</h1>
                <p class="notice">{FORBIDDEN}</p>
            </AdminFrame>
        }
        .into_any();
    }
    let hidden = move || view! { <input type="hidden" name="csrf" value=csrf.clone() /> };
    let trust_options = TRUST
        .iter()
        .map(|(v, l)| view! { <option value=*v selected=trust_level == *v>{*l}</option> })
        .collect_view();
    let allowance_errors: Vec<String> = field_errors
        .iter()
        .filter(|(k, _)| k.starts_with("allowances"))
        .map(|(_, v)| v.clone())
        .collect();
    let vault_errors: Vec<String> = field_errors
        .iter()
        .filter(|(k, _)| k.starts_with("allowance.") || *k == "token_exchange")
        .map(|(_, v)| v.clone())
        .collect();
    let e = move |k: &str| field_errors.get(k).cloned();
    view! {
        <AdminFrame header current="/admin/agents">
            <p><a href="/admin/agents">"← Agents"</a></p>
            <h1>{name.clone()} {disabled.then(|| view! { " " <span class="badge bad">"disabled"</span> })}</h1>
            {error.map(|m| view! { <p role="alert" class="error">{m}</p> })}
            {info.map(|m| view! { <p role="status">{m}</p> })}
            {new_secret.map(|secret| view! {
                <div class="panel" role="status" data-testid="new-secret">
                    <p><strong>"Copy the new secret now: it is not shown again. The old one no longer works."</strong></p>
                    <p><code class="manual-key">{secret}</code></p>
                </div>
            })}
            <dl class="facts" data-testid="agent-facts">
                {facts
                    .into_iter()
                    .map(|(label, value)| view! { <dt>{label}</dt> <dd>{value}</dd> })
                    .collect_view()}
                <dt>"Redirect URIs"</dt>
                <dd>
                    {if redirect_uris.is_empty() {
                        view! { <span class="muted">"none"</span> }.into_any()
                    } else {
                        view! { <ul>{redirect_uris.into_iter().map(|u| view! { <li><code>{u}</code></li> }).collect_view()}</ul> }.into_any()
                    }}
                </dd>
            </dl>
            <form method="post" action=href.clone() class="form panel" aria-labelledby="labels-h">
                <h2 id="labels-h">"Name, tags and trust"</h2>
                {hidden()}
                <TextField name="name" label="Name" value=name error=e("name") required=true />
                <TextField name="tags" label="Tags" value=tags error=e("tags") hint="Comma-separated." />
                <div class="field">
                    <label for="f-trust">"Trust level"</label>
                    <select id="f-trust" name="trust_level">{trust_options}</select>
                    {e("trust_level").map(|m| view! { <p class="error field-error">{m}</p> })}
                </div>
                <div class="actions"><button class="button primary" type="submit">"Save"</button></div>
            </form>
            <form method="post" action=format!("{href}/allowances") class="form panel" aria-labelledby="allow-h">
                <h2 id="allow-h">"What it may get"</h2>
                <p class="muted">"Per MCP server. Policies and each person's consent narrow it further."</p>
                {hidden()}
                {allowances.into_iter().map(allowance_block).collect_view()}
                {allowance_errors
                    .into_iter()
                    .map(|m| view! { <p class="error field-error" data-field="allowances">{m}</p> })
                    .collect_view()}
                <div class="actions"><button class="button primary" type="submit">"Save allowances"</button></div>
            </form>
            <form method="post" action=format!("{href}/connections") class="form panel" aria-labelledby="vault-h" data-testid="agent-vault">
                <h2 id="vault-h">"Token vault"</h2>
                {hidden()}
                {vault.exchange_possible.then(|| view! {
                    <div class="field check">
                        <input type="checkbox" id="f-exchange" name="token_exchange" value="yes" checked=vault.token_exchange />
                        <label for="f-exchange">
                            "May exchange people's tokens for their connections (RFC 8693): for an MCP server's back end"
                        </label>
                    </div>
                })}
                <div class="field">
                    <label for="f-vault-allowance">"Its own machine tokens may get (one provider per line: slug = scopes)"</label>
                    <textarea id="f-vault-allowance" name="allowance" rows="3">{vault.allowance}</textarea>
                    <p class="muted">
                        {if vault.providers.is_empty() {
                            "No connection provider yet (console: Connections).".to_owned()
                        } else {
                            format!("Providers: {}", vault.providers.join(", "))
                        }}
                    </p>
                </div>
                {vault_errors
                    .into_iter()
                    .map(|m| view! { <p class="error field-error" data-field="vault">{m}</p> })
                    .collect_view()}
                <div class="actions"><button class="button primary" type="submit">"Save vault settings"</button></div>
            </form>
            <section class="panel" aria-labelledby="actions-h">
                <h2 id="actions-h">"Actions"</h2>
                <form method="post" action=format!("{href}/disable") class="inline">
                    {hidden()}
                    <input type="hidden" name="disabled" value=if disabled { "no" } else { "yes" } />
                    <button class="button" type="submit">
                        {if disabled { "Enable" } else { "Disable (revokes its tokens)" }}
                    </button>
                </form>
                {confidential.then(|| view! {
                    <form method="post" action=format!("{href}/secret") class="inline">
                        {hidden()}
                        <button class="button" type="submit">"Rotate secret"</button>
                    </form>
                })}
                <form method="post" action=format!("{href}/delete") class="inline confirm">
                    {hidden()}
                    <input type="checkbox" id="confirm-delete" name="confirm" value="yes" required />
                    <label for="confirm-delete">"Yes, delete"</label>
                    <button class="button danger" type="submit">"Delete agent"</button>
                </form>
            </section>
            <h2>"People who granted it access"</h2>
            {if bound.is_empty() {
                view! { <p class="muted">"Nobody yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="events" data-testid="bound-users">
                            <thead><tr>
                                <th scope="col">"User"</th><th scope="col">"Tenant"</th>
                                <th scope="col">"MCP server"</th><th scope="col">"Scopes"</th>
                                <th scope="col">"Last used"</th>
                            </tr></thead>
                            <tbody>
                                {bound.into_iter().map(|b| view! {
                                    <tr><td>{b.email}</td><td>{b.tenant}</td><td>{b.server}</td>
                                    <td class="scopes">{b.scopes}</td><td class="nowrap">{b.last_used}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <h2>"Recent events"</h2>
            <p><a href=audit_href>"All of its events in the audit trail"</a></p>
            {if events.is_empty() {
                view! { <p class="muted">"No events yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="events" data-testid="agent-events">
                            <thead><tr>
                                <th scope="col">"Time (UTC)"</th><th scope="col">"Event"</th>
                                <th scope="col">"Outcome"</th><th scope="col">"Actor"</th>
                                <th scope="col">"Agent"</th><th scope="col">"User"</th>
                                <th scope="col">"Tenant"</th><th scope="col">"MCP server"</th>
                                <th scope="col">"Scopes"</th>
                            </tr></thead>
                            <tbody>{events.into_iter().map(|row| view! { <Row row /> }).collect_view()}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <details class="panel">
                <summary>"Registration metadata"</summary>
                <pre class="snippet"><code>{metadata_json}</code></pre>
            </details>
        </AdminFrame>
    }
    .into_any()
}
