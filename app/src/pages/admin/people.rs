//! `/admin/tenants`, `/admin/tenants/{slug}`, `/admin/users`, `/admin/users/{id}`: tenants with
//! their decisions about agents, and people with their memberships. Tenant admins use these
//! pages for their own tenants; every form posts without script.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{console_page, AdminFrame};
use crate::api::admin::people::{
    people_screen, person_screen, tenant_screen, tenants_screen, PeopleView, PersonView,
    TenantView, TenantsView,
};
use crate::api::admin::Choice;
use crate::components::fields::{CheckField, TextField};

#[component]
pub fn TenantsPage() -> impl IntoView {
    console_page(
        "Tenants",
        || (),
        |()| tenants_screen(),
        |facts| view! { <Tenants facts /> },
    )
}

#[component]
pub fn TenantPage() -> impl IntoView {
    let params = use_params_map();
    console_page(
        "Tenant",
        move || params.read().get("slug").unwrap_or_default(),
        tenant_screen,
        |facts| view! { <TenantDetail facts /> },
    )
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let query = use_query_map();
    console_page(
        "People",
        move || {
            let q = query.read();
            (
                q.get("q").unwrap_or_default(),
                q.get("cursor").unwrap_or_default(),
            )
        },
        |(q, cursor)| people_screen(q, cursor),
        |facts| view! { <People facts /> },
    )
}

#[component]
pub fn PersonPage() -> impl IntoView {
    let params = use_params_map();
    console_page(
        "Person",
        move || params.read().get("id").unwrap_or_default(),
        person_screen,
        |facts| view! { <Person facts /> },
    )
}

fn select(
    name: &'static str,
    label: &'static str,
    options: Vec<Choice>,
    current: String,
) -> impl IntoView {
    let id = format!("f-{name}");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <select id=id name=name>
                {options
                    .into_iter()
                    .map(|c| {
                        let selected = c.value == current;
                        view! { <option value=c.value selected=selected>{c.label}</option> }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

fn notices(error: Option<String>, info: Option<String>) -> impl IntoView {
    view! {
        {error.map(|m| view! { <p role="alert" class="error">{m}</p> })}
        {info.map(|m| view! { <p role="status">{m}</p> })}
    }
}

fn link_panel(link: Option<String>) -> impl IntoView {
    link.map(|url| {
        view! {
            <div class="panel" role="status" data-testid="password-link">
                <p><strong>"Send this link to the person: it is not shown again."</strong></p>
                <p><code class="manual-key">{url}</code></p>
                <p class="muted">"It works once, for 7 days, and lets them choose their password."</p>
            </div>
        }
    })
}

#[component]
fn Tenants(facts: TenantsView) -> impl IntoView {
    let TenantsView {
        header,
        csrf,
        may_create,
        tenants,
        form,
        field_errors,
        error,
    } = facts;
    let v = move |k: &str| form.get(k).cloned().unwrap_or_default();
    let e = move |k: &str| field_errors.get(k).cloned();
    view! {
        <AdminFrame header current="/admin/tenants">
            <h1>"Tenants"</h1>
            {notices(error, None)}
            <div class="table-wrap">
                <table class="events" data-testid="tenants">
                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Slug"</th><th scope="col">"Email domains"</th></tr></thead>
                    <tbody>
                        {tenants.into_iter().map(|t| {
                            let href = format!("/admin/tenants/{}", t.slug);
                            view! { <tr><td><a href=href>{t.name}</a></td><td><code>{t.slug}</code></td><td>{t.domains}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {may_create.then(|| view! {
                <form method="post" action="/admin/tenants" class="form panel" aria-labelledby="new-tenant-h">
                    <h2 id="new-tenant-h">"New tenant"</h2>
                    <input type="hidden" name="csrf" value=csrf />
                    <TextField name="name" label="Name" value=v("name") error=e("name") required=true />
                    <TextField name="slug" label="Slug" value=v("slug") error=e("slug") required=true hint="Fixed once created, e.g. acme." />
                    <TextField name="email_domains" label="Email domains" value=v("email_domains") error=e("email_domains") hint="Comma-separated, e.g. acme.example." />
                    <TextField name="logo_url" label="Logo address" value=v("logo_url") error=e("logo_url") kind="url" hint="https; shown as a link, never fetched by Mandate." />
                    <div class="actions"><button class="button primary" type="submit">"Create tenant"</button></div>
                </form>
            })}
        </AdminFrame>
    }
}

const DECISIONS: [(&str, &str); 3] = [
    ("approved", "Approve"),
    ("blocked", "Block"),
    ("none", "Withdraw the decision"),
];

#[component]
fn TenantDetail(facts: TenantView) -> impl IntoView {
    let TenantView {
        header,
        csrf,
        slug,
        name,
        domains,
        approvals,
        servers,
        form,
        field_errors,
        error,
        info,
        sso_configured,
        sso_redirect_uri,
    } = facts;
    let action = format!("/admin/tenants/{slug}");
    let sso_action = action.clone();
    let sso_remove_action = action.clone();
    let enforce_on = form.get("sso_enforce").is_some_and(|v| v == "on");
    let decide_action = format!("/admin/tenants/{slug}/approvals");
    let server_select = select(
        "mcp_server",
        "MCP server",
        servers,
        form.get("mcp_server").cloned().unwrap_or_default(),
    );
    let decision_select = select(
        "decision",
        "Decision",
        DECISIONS
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).into(),
                label: (*l).into(),
            })
            .collect(),
        form.get("decision")
            .cloned()
            .unwrap_or_else(|| "approved".into()),
    );
    let v = move |k: &str| form.get(k).cloned().unwrap_or_default();
    let e = move |k: &str| field_errors.get(k).cloned();
    let csrf2 = csrf.clone();
    let csrf3 = csrf.clone();
    let csrf4 = csrf.clone();
    view! {
        <AdminFrame header current="/admin/tenants">
            <p><a href="/admin/tenants">"← Tenants"</a></p>
            <h1>{name}</h1>
            <p class="muted"><code>{slug}</code> " · " {domains}</p>
            {notices(error, info)}
            <form method="post" action=action class="form panel" aria-labelledby="tenant-h">
                <h2 id="tenant-h">"Settings"</h2>
                <input type="hidden" name="csrf" value=csrf />
                <TextField name="name" label="Name" value=v("name") error=e("name") required=true />
                <TextField name="email_domains" label="Email domains" value=v("email_domains") error=e("email_domains") hint="Comma-separated." />
                <TextField name="logo_url" label="Logo address" value=v("logo_url") error=e("logo_url") kind="url" hint="https; shown as a link, never fetched by Mandate." />
                <div class="actions"><button class="button primary" type="submit">"Save"</button></div>
            </form>
            <h2>"Agents approved or blocked for this tenant"</h2>
            <p class="muted">"Where an MCP server requires the tenant's approval, people may consent only to approved agents, within the approved scopes; a block holds everywhere."</p>
            <div class="table-wrap">
                <table class="events" data-testid="approvals">
                    <thead><tr><th scope="col">"Agent"</th><th scope="col">"MCP server"</th><th scope="col">"Decision"</th><th scope="col">"Scopes"</th><th scope="col">"When (UTC)"</th></tr></thead>
                    <tbody>
                        {approvals.into_iter().map(|a| view! {
                            <tr><td><a href=a.agent_href><code>{a.agent}</code></a></td><td>{a.server}</td><td>{a.decision}</td><td class="scopes">{a.scopes}</td><td class="nowrap">{a.decided}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <form method="post" action=decide_action class="form panel" aria-labelledby="decide-h">
                <h2 id="decide-h">"Decide about an agent"</h2>
                <input type="hidden" name="csrf" value=csrf2 />
                <TextField name="agent" label="Agent (client id)" value=v("agent") error=e("agent") required=true />
                {server_select}
                {e("mcp_server").map(|m| view! { <p class="error field-error" data-field="mcp_server">{m}</p> })}
                {decision_select}
                <TextField name="scopes" label="Approved scopes" value=v("scopes") error=e("scopes") hint="Space-separated; empty approves every scope of the server." />
                <div class="actions"><button class="button primary" type="submit">"Save decision"</button></div>
            </form>
            <form method="post" action=sso_action class="form panel" aria-labelledby="sso-h" data-testid="sso-form">
                <h2 id="sso-h">"Single sign-on"</h2>
                <p class="muted">
                    "People of these email domains sign in through your OpenID Connect provider. Register "
                    <code data-testid="sso-redirect-uri">{sso_redirect_uri}</code>
                    " as the redirect URI of a confidential client there. Their roles here follow the provider's groups at every sign-in."
                </p>
                <input type="hidden" name="csrf" value=csrf3 />
                <input type="hidden" name="intent" value="sso_save" />
                <TextField name="sso_issuer_url" label="Issuer URL" value=v("sso_issuer_url") error=e("sso_issuer_url") required=true kind="url" hint="The provider's issuer; Mandate reads {issuer}/.well-known/openid-configuration." />
                <TextField name="sso_client_id" label="Client id" value=v("sso_client_id") error=e("sso_client_id") required=true />
                <div class="field">
                    <label for="sso-secret">"Client secret"</label>
                    <input id="sso-secret" name="sso_client_secret" type="password" autocomplete="off"
                        placeholder=if sso_configured { "Stored: leave empty to keep it" } else { "" } />
                    {e("sso_client_secret").map(|m| view! { <p class="error field-error" data-field="sso_client_secret">{m}</p> })}
                </div>
                <TextField name="sso_scopes" label="Provider scopes" value=v("sso_scopes") error=e("sso_scopes") hint="Space-separated; openid is always asked for." />
                <TextField name="sso_email_domains" label="Domains signed in through the provider" value=v("sso_email_domains") error=e("sso_email_domains") required=true hint="Comma-separated, e.g. globex.example." />
                <CheckField name="sso_enforce" label="Enforce: people of these domains sign in only through the provider (no password)" checked=enforce_on />
                <TextField name="sso_groups_claim" label="Groups claim" value=v("sso_groups_claim") error=e("sso_groups_claim") hint="The ID token claim with the person's groups; a dotted path reaches into objects." />
                <div class="field">
                    <label for="sso-mapping">"Groups to roles"</label>
                    <textarea id="sso-mapping" name="sso_role_mapping" rows="4" placeholder="finance = approver, member">{v("sso_role_mapping")}</textarea>
                    <p class="muted hint">"One line per group: group = role, role. Policies on user.roles follow these."</p>
                    {e("sso_role_mapping").map(|m| view! { <p class="error field-error" data-field="sso_role_mapping">{m}</p> })}
                </div>
                <div class="actions"><button class="button primary" type="submit">"Save single sign-on"</button></div>
            </form>
            {sso_configured.then(|| view! {
                <form method="post" action=sso_remove_action class="panel confirm">
                    <input type="hidden" name="csrf" value=csrf4 />
                    <input type="hidden" name="intent" value="sso_remove" />
                    <button class="button danger" type="submit">"Remove single sign-on"</button>
                </form>
            })}
        </AdminFrame>
    }
}

#[component]
fn People(facts: PeopleView) -> impl IntoView {
    let PeopleView {
        header,
        csrf,
        q,
        people,
        next_href,
        tenants,
        form,
        field_errors,
        link,
        error,
        info,
    } = facts;
    let tenant_select = select(
        "tenant",
        "Tenant",
        tenants,
        form.get("tenant").cloned().unwrap_or_default(),
    );
    let admin_box = form.get("is_tenant_admin").is_some_and(|v| v == "on");
    let v = move |k: &str| form.get(k).cloned().unwrap_or_default();
    let e = move |k: &str| field_errors.get(k).cloned();
    view! {
        <AdminFrame header current="/admin/users">
            <h1>"People"</h1>
            {notices(error, info)}
            {link_panel(link)}
            <form method="get" action="/admin/users" class="filters panel" role="search" aria-label="Find people">
                <div class="filter">
                    <label for="f-q">"Email or name"</label>
                    <input id="f-q" name="q" value=q autocomplete="off" />
                </div>
                <div class="actions"><button class="button primary" type="submit">"Search"</button></div>
            </form>
            <div class="table-wrap">
                <table class="events" data-testid="people">
                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Created (UTC)"</th></tr></thead>
                    <tbody>
                        {people.into_iter().map(|p| {
                            let href = format!("/admin/users/{}", p.id);
                            view! { <tr><td><a href=href>{p.email}</a></td><td>{p.name}</td><td>{p.status}</td><td class="nowrap">{p.created}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {next_href.map(|href| view! { <p><a class="button" href=href rel="next">"Next page"</a></p> })}
            <form method="post" action="/admin/users" class="form panel" aria-labelledby="invite-h">
                <h2 id="invite-h">"Invite someone"</h2>
                <p class="muted">"They get no password: you receive a link (shown once) where they choose one."</p>
                <input type="hidden" name="csrf" value=csrf />
                <TextField name="email" label="Email" value=v("email") error=e("email") required=true kind="email" />
                <TextField name="display_name" label="Name" value=v("display_name") error=e("display_name") />
                {tenant_select}
                {e("tenant").map(|m| view! { <p class="error field-error" data-field="tenant">{m}</p> })}
                <TextField name="roles" label="Roles" value=v("roles") error=e("roles") hint="Comma-separated; policies match user.roles." />
                <TextField name="permissions" label="Permissions" value=v("permissions") error=e("permissions") hint="Comma-separated; policies match user.permissions." />
                <CheckField name="is_tenant_admin" label="Tenant admin (manages this tenant's people)" checked=admin_box />
                <div class="actions"><button class="button primary" type="submit">"Invite"</button></div>
            </form>
        </AdminFrame>
    }
}

#[component]
fn Person(facts: PersonView) -> impl IntoView {
    let PersonView {
        header,
        csrf,
        id,
        email,
        name,
        disabled,
        is_project_admin,
        second_factors,
        memberships,
        tenants,
        form,
        field_errors,
        link,
        error,
        info,
    } = facts;
    let base = format!("/admin/users/{id}");
    let tenant_select = select(
        "tenant",
        "Tenant",
        tenants,
        form.get("tenant").cloned().unwrap_or_default(),
    );
    let v = move |k: &str| form.get(k).cloned().unwrap_or_default();
    let e = move |k: &str| field_errors.get(k).cloned();
    let hidden = move || view! { <input type="hidden" name="csrf" value=csrf.clone() /> };
    let rows = memberships
        .into_iter()
        .map(|m| {
            let remove = format!("{base}/memberships/remove");
            let confirm = format!("confirm-{}", m.tenant_slug);
            let confirm_for = confirm.clone();
            let key = m.tenant_slug.clone();
            view! {
                <tr data-tenant=key>
                    <td>{m.tenant_name}</td><td>{m.roles}</td><td>{m.permissions}</td>
                    <td>{if m.is_tenant_admin { "yes" } else { "no" }}</td>
                    <td>
                        <form method="post" action=remove class="inline confirm">
                            {hidden()}
                            <input type="hidden" name="tenant" value=m.tenant_slug />
                            <input type="checkbox" id=confirm name="confirm" value="yes" required />
                            <label for=confirm_for>"Yes, remove"</label>
                            <button class="button danger" type="submit">"Remove"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <AdminFrame header current="/admin/users">
            <p><a href="/admin/users">"← People"</a></p>
            <h1>{email.clone()} {disabled.then(|| view! { " " <span class="badge bad">"disabled"</span> })}</h1>
            {notices(error, info)}
            {link_panel(link)}
            <dl class="facts" data-testid="person-facts">
                <dt>"Name"</dt><dd>{name}</dd>
                <dt>"Second factors"</dt><dd>{second_factors}</dd>
                <dt>"Project admin"</dt><dd>{if is_project_admin { "yes" } else { "no" }}</dd>
            </dl>
            <h2>"Memberships"</h2>
            <div class="table-wrap">
                <table class="events" data-testid="memberships">
                    <thead><tr><th scope="col">"Tenant"</th><th scope="col">"Roles"</th><th scope="col">"Permissions"</th><th scope="col">"Tenant admin"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            <form method="post" action=format!("{base}/memberships") class="form panel" aria-labelledby="membership-h">
                <h2 id="membership-h">"Add to a tenant or change a membership"</h2>
                {hidden()}
                {tenant_select}
                {e("tenant").map(|m| view! { <p class="error field-error" data-field="tenant">{m}</p> })}
                <TextField name="roles" label="Roles" value=v("roles") error=e("roles") hint="Comma-separated." />
                <TextField name="permissions" label="Permissions" value=v("permissions") error=e("permissions") hint="Comma-separated." />
                <CheckField name="is_tenant_admin" label="Tenant admin" checked=false />
                <div class="actions"><button class="button primary" type="submit">"Save membership"</button></div>
            </form>
            <section class="panel" aria-labelledby="account-h">
                <h2 id="account-h">"Account"</h2>
                <form method="post" action=format!("{base}/disable") class="inline">
                    {hidden()}
                    <input type="hidden" name="disabled" value=if disabled { "no" } else { "yes" } />
                    <button class="button" type="submit">{if disabled { "Enable" } else { "Disable (ends their sessions and tokens)" }}</button>
                </form>
                <form method="post" action=format!("{base}/reset-mfa") class="inline">
                    {hidden()}
                    <button class="button" type="submit">"Reset second factors"</button>
                </form>
                <form method="post" action=format!("{base}/password-link") class="inline">
                    {hidden()}
                    <button class="button" type="submit">"New password link"</button>
                </form>
            </section>
        </AdminFrame>
    }
}
