//! `/admin/policies`: the policies, the form to write one (errors beside their fields, what was
//! typed kept), delete with a ticked confirmation; `/admin/policies/simulate`: the simulator.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{console_page, AdminFrame};
use crate::api::admin::policies::{
    policies_screen, simulator_screen, DraftForm, PoliciesView, PolicyRow, ServerScopes,
    SimulatedOutcome, SimulatorView, CONDITION_KEYS, CONDITION_ROWS, OPERATORS,
};
use crate::api::admin::Choice;

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let query = use_query_map();
    console_page(
        "Policies",
        move || query.read().get("cursor").unwrap_or_default(),
        policies_screen,
        |facts| view! { <Policies facts /> },
    )
}

#[component]
pub fn SimulatorPage() -> impl IntoView {
    console_page(
        "Policy simulator",
        || (),
        |()| simulator_screen(),
        |facts| view! { <Simulator facts /> },
    )
}

fn field_error(errors: &std::collections::BTreeMap<String, String>, field: &str) -> impl IntoView {
    errors
        .get(field)
        .cloned()
        .map(|m| view! { <p class="error field-error" data-field=field.to_owned()>{m}</p> })
}

/// The draft's fields: name, description, condition rows, and the scopes it allows.
#[component]
fn DraftFields(
    draft: DraftForm,
    servers: Vec<ServerScopes>,
    errors: std::collections::BTreeMap<String, String>,
    /// Field-name prefix of errors (`draft.` in the simulator).
    #[prop(optional)]
    error_prefix: &'static str,
) -> impl IntoView {
    let e = |field: &str| field_error(&errors, &format!("{error_prefix}{field}"));
    let rows = (0..CONDITION_ROWS)
        .map(|i| {
            let key = draft.value(&format!("c{i}_key"));
            let op = draft.value(&format!("c{i}_op"));
            view! {
                <fieldset class="condition" data-row=i>
                    <legend>{format!("Condition {}", i + 1)}</legend>
                    <select name=format!("c{i}_key") aria-label=format!("Condition {} key", i + 1)>
                        <option value="">"(none)"</option>
                        {CONDITION_KEYS
                            .iter()
                            .map(|(v, l)| view! { <option value=*v selected=key == *v>{*l}</option> })
                            .collect_view()}
                    </select>
                    <input
                        name=format!("c{i}_claim")
                        value=draft.value(&format!("c{i}_claim"))
                        placeholder="claim (jwtClaims only)"
                        aria-label=format!("Condition {} claim name", i + 1)
                    />
                    <select name=format!("c{i}_op") aria-label=format!("Condition {} operator", i + 1)>
                        {OPERATORS
                            .iter()
                            .map(|o| view! { <option value=*o selected=op == *o>{*o}</option> })
                            .collect_view()}
                    </select>
                    <input
                        name=format!("c{i}_values")
                        value=draft.value(&format!("c{i}_values"))
                        placeholder="values, comma-separated"
                        aria-label=format!("Condition {} values", i + 1)
                    />
                    {e(&format!("conditions[{i}]"))}
                </fieldset>
            }
        })
        .collect_view();
    let allowed = draft.allowed.clone();
    view! {
        <div class="field">
            <label for="policy-name">"Name"</label>
            <input id="policy-name" name="name" value=draft.value("name") maxlength="100" />
            {e("name")}
        </div>
        <div class="field">
            <label for="policy-description">"Description"</label>
            <input id="policy-description" name="description" value=draft.value("description") />
            {e("description")}
        </div>
        <p class="muted">"All conditions must hold (AND). No condition: everyone."</p>
        {rows}
        <fieldset class="allows">
            <legend>"Allows"</legend>
            {servers
                .into_iter()
                .map(|s| {
                    let allowed = allowed.clone();
                    view! {
                        <p><strong>{s.name}</strong></p>
                        {s
                            .scopes
                            .into_iter()
                            .map(|scope| {
                                let id = format!("allow-{}", scope.value.replace('|', "-"));
                                let label_for = id.clone();
                                let checked = allowed.contains(&scope.value);
                                view! {
                                    <label class="check" for=label_for>
                                        <input type="checkbox" id=id name="allow" value=scope.value checked=checked />
                                        <code>{scope.name}</code>
                                        " "
                                        <span class="muted">{scope.display_name}</span>
                                    </label>
                                }
                            })
                            .collect_view()}
                    }
                })
                .collect_view()}
            {e("allows")}
            {e("allows[0]")}
        </fieldset>
    }
}

#[component]
fn PolicyItem(policy: PolicyRow, csrf: String) -> impl IntoView {
    let confirm = format!("confirm-{}", policy.id);
    let who = if policy.conditions.is_empty() {
        "Everyone".to_owned()
    } else {
        policy.conditions.join(" AND ")
    };
    view! {
        <li class="panel" data-policy=policy.id.clone()>
            <h3>{policy.name.clone()}</h3>
            {(!policy.description.is_empty()).then(|| view! { <p class="muted">{policy.description.clone()}</p> })}
            <p><span class="muted">"When: "</span>{who}</p>
            <p><span class="muted">"Allows: "</span>{policy.allows.join("; ")}</p>
            <form method="post" action="/admin/policies/delete" class="inline confirm">
                <input type="hidden" name="csrf" value=csrf />
                <input type="hidden" name="policy" value=policy.id.clone() />
                <input type="checkbox" id=confirm.clone() name="confirm" value="yes" required />
                <label for=confirm>"Yes, delete"</label>
                <button class="button danger" type="submit">
                    "Delete" <span class="visually-hidden">{policy.name}</span>
                </button>
            </form>
        </li>
    }
}

#[component]
fn Policies(facts: PoliciesView) -> impl IntoView {
    let PoliciesView {
        header,
        csrf,
        may_manage,
        policies,
        next_href,
        servers,
        draft,
        field_errors,
        error,
        info,
    } = facts;
    let body = if may_manage {
        let list_csrf = csrf.clone();
        let empty = policies.is_empty();
        view! {
            <p>
                "Once a policy names an MCP server, a scope of that server is granted only when a policy whose conditions hold allows it. "
                <a href="/admin/policies/simulate" rel="external">"Try the simulator"</a>
            </p>
            {if empty {
                view! { <p class="muted">"No policies yet: every scope an agent may ask for is available."</p> }.into_any()
            } else {
                view! {
                    <ul class="item-list" data-testid="policies">
                        {policies.into_iter().map(|policy| view! { <PolicyItem policy csrf=list_csrf.clone() /> }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {next_href.map(|href| view! { <p><a class="button" href=href rel="next">"Next page"</a></p> })}
            <form method="post" action="/admin/policies" class="form panel" aria-labelledby="new-policy-h">
                <h2 id="new-policy-h">"New policy"</h2>
                <input type="hidden" name="csrf" value=csrf />
                <DraftFields draft servers errors=field_errors />
                <div class="actions">
                    <button class="button primary" type="submit">"Create policy"</button>
                </div>
            </form>
        }
        .into_any()
    } else {
        view! { <p class="notice">"Only project admins manage policies."</p> }.into_any()
    };
    view! {
        <AdminFrame header current="/admin/policies">
            <h1>"Policies"</h1>
            {error.map(|e| view! { <p role="alert" class="error">{e}</p> })}
            {info.map(|i| view! { <p role="status">{i}</p> })}
            {body}
        </AdminFrame>
    }
}

fn outcome_view(title: &'static str, id: &'static str, o: SimulatedOutcome) -> impl IntoView {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            view! { <span class="muted">"none"</span> }.into_any()
        } else {
            items
                .into_iter()
                .map(|s| view! { <code>{s}</code> " " })
                .collect_view()
                .into_any()
        }
    };
    view! {
        <section class="panel" data-testid=id>
            <h2>{title}</h2>
            {(!o.governed).then(|| view! { <p class="muted">"No policy names this MCP server: every scope the agent may ask for is available."</p> })}
            <p>"Effective scopes: " <span data-testid=format!("{id}-effective")>{list(o.effective)}</span></p>
            <p>"Not allowed: " {list(o.denied)}</p>
            <p>"Matched policies: " {list(o.matched)}</p>
        </section>
    }
}

#[component]
fn Simulator(facts: SimulatorView) -> impl IntoView {
    let SimulatorView {
        header,
        may_manage,
        tenants,
        servers,
        asked,
        field_errors,
        outside_allowance,
        before,
        after,
    } = facts;
    if !may_manage {
        return view! {
            <AdminFrame header current="/admin/policies">
                <h1>"Policy simulator"</h1>
                <p class="notice">"Only project admins manage policies."</p>
            </AdminFrame>
        }
        .into_any();
    }
    let errors = field_errors.clone();
    let e = move |f: &str| field_error(&errors, f);
    let tenant = asked.value("tenant");
    let server = asked.value("server");
    let server_choices: Vec<Choice> = servers
        .iter()
        .map(|s| Choice {
            value: s.slug.clone(),
            label: s.name.clone(),
        })
        .collect();
    let preview = asked.value("preview") == "on";
    view! {
        <AdminFrame header current="/admin/policies">
            <h1>"Policy simulator"</h1>
            <p class="muted">"What would this person be granted, with this agent, on this MCP server? Optionally, with a draft policy added."</p>
            <form method="get" action="/admin/policies/simulate" class="form panel">
                <div class="filter-grid">
                    <div>
                        <label for="sim-user">"User"</label>
                        <input id="sim-user" name="user" value=asked.value("user") placeholder="email or id" />
                        {e("user")}
                    </div>
                    <div>
                        <label for="sim-tenant">"Tenant"</label>
                        <select id="sim-tenant" name="tenant">
                            {tenants.into_iter().map(|t| view! { <option value=t.value.clone() selected=tenant == t.value>{t.label}</option> }).collect_view()}
                        </select>
                        {e("tenant")}
                    </div>
                    <div>
                        <label for="sim-agent">"Agent"</label>
                        <input id="sim-agent" name="agent" value=asked.value("agent") placeholder="client id" />
                        {e("agent")}
                    </div>
                    <div>
                        <label for="sim-server">"MCP server"</label>
                        <select id="sim-server" name="server">
                            {server_choices.into_iter().map(|s| view! { <option value=s.value.clone() selected=server == s.value>{s.label}</option> }).collect_view()}
                        </select>
                        {e("mcp_server")}
                    </div>
                    <div>
                        <label for="sim-scopes">"Requested scopes"</label>
                        <input id="sim-scopes" name="scopes" value=asked.value("scopes") placeholder="notes.read notes.write" />
                        {e("scopes")}
                    </div>
                </div>
                <details open=preview>
                    <summary>"Preview a draft policy"</summary>
                    <label class="check" for="sim-preview">
                        <input type="checkbox" id="sim-preview" name="preview" checked=preview />
                        "Add this draft to the stored policies"
                    </label>
                    <DraftFields draft=asked.clone() servers errors=field_errors.clone() error_prefix="draft." />
                </details>
                <div class="actions">
                    <button class="button primary" type="submit">"Simulate"</button>
                </div>
            </form>
            {(!outside_allowance.is_empty()).then(|| view! {
                <p class="notice">{format!("Beyond what this agent may ask for on this server (refused before any policy): {}", outside_allowance.join(" "))}</p>
            })}
            <div class="tops">
                {before.map(|o| outcome_view("With the current policies", "sim-before", o))}
                {after.map(|o| outcome_view("With the draft added", "sim-after", o))}
            </div>
        </AdminFrame>
    }
    .into_any()
}
