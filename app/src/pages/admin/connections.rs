//! `/admin/connections`: the token vault. Connection providers (OAuth 2.0 with its endpoints
//! and client, or API key), and the connections policies that decide which MCP servers may
//! get whose tokens by token exchange. Deleting needs a ticked confirmation.

use leptos::prelude::*;

use super::{console_page, AdminFrame};
use crate::api::admin::connections::{
    connections_screen, ConnectionPolicyRow, ConnectionsView, ProviderRow,
};

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    console_page(
        "Connections",
        || (),
        |()| connections_screen(),
        |facts| view! { <Connections facts /> },
    )
}

/// A delete button behind a ticked confirmation.
#[component]
fn DeleteForm(intent: &'static str, id: String, label: String, csrf: String) -> impl IntoView {
    let confirm_id = format!("confirm-{id}");
    view! {
        <form method="post" action="/admin/connections" class="inline confirm">
            <input type="hidden" name="csrf" value=csrf />
            <input type="hidden" name="intent" value=intent />
            <input type="hidden" name="id" value=id />
            <input type="checkbox" id=confirm_id.clone() name="confirm" value="yes" required />
            <label for=confirm_id>"Yes, delete"</label>
            <button class="button danger" type="submit">
                "Delete" <span class="visually-hidden">{label}</span>
            </button>
        </form>
    }
}

#[component]
fn Providers(providers: Vec<ProviderRow>, csrf: String) -> impl IntoView {
    if providers.is_empty() {
        return view! { <p class="muted">"No connection providers yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="events" data-testid="providers">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Slug (audience)"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Offered on"</th>
                        <th scope="col">"Connected"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {providers
                        .into_iter()
                        .map(|p| view! {
                            <tr data-provider=p.slug.clone()>
                                <td>{p.name.clone()}</td>
                                <td><code>{p.slug.clone()}</code></td>
                                <td>{p.kind}</td>
                                <td>{p.scopes}</td>
                                <td>{p.servers}</td>
                                <td>{p.connections}</td>
                                <td>
                                    <DeleteForm
                                        intent="provider_delete"
                                        id=p.id
                                        label=p.name
                                        csrf=csrf.clone()
                                    />
                                </td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Policies(policies: Vec<ConnectionPolicyRow>, csrf: String) -> impl IntoView {
    if policies.is_empty() {
        return view! {
            <p class="muted">"No connections policy yet: no MCP server gets any connection's token."</p>
        }
        .into_any();
    }
    view! {
        <ul class="item-list" data-testid="connection-policies">
            {policies
                .into_iter()
                .map(|p| view! {
                    <li>
                        <span>
                            <strong>{p.name.clone()}</strong>
                            <br />
                            <span class="muted">{format!("When {} · allows {}", p.conditions, p.allows)}</span>
                        </span>
                        <DeleteForm intent="policy_delete" id=p.id label=p.name csrf=csrf.clone() />
                    </li>
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Connections(facts: ConnectionsView) -> impl IntoView {
    let ConnectionsView {
        header,
        csrf,
        may_manage,
        redirect_uri,
        providers,
        policies,
        error,
        fields,
        info,
    } = facts;
    let body = if may_manage {
        let (c1, c2, c3, c4) = (csrf.clone(), csrf.clone(), csrf.clone(), csrf);
        view! {
            <h2>"Providers"</h2>
            <Providers providers csrf=c1 />
            <form method="post" action="/admin/connections" class="form panel" aria-labelledby="new-provider-h">
                <h2 id="new-provider-h">"New provider"</h2>
                <p class="muted">
                    "For OAuth 2.0, register this redirect URI at the provider: "
                    <code data-testid="vault-redirect-uri">{redirect_uri}</code>
                </p>
                <input type="hidden" name="csrf" value=c2 />
                <input type="hidden" name="intent" value="provider_add" />
                <div class="field">
                    <label for="p-name">"Name"</label>
                    <input id="p-name" name="name" required maxlength="100" placeholder="GitHub" />
                </div>
                <div class="field">
                    <label for="p-slug">"Slug (what an MCP server names in a token exchange)"</label>
                    <input id="p-slug" name="slug" required maxlength="64" placeholder="github" />
                </div>
                <div class="field">
                    <label for="p-kind">"Kind"</label>
                    <select id="p-kind" name="kind">
                        <option value="oauth2">"OAuth 2.0 (people sign in at the provider)"</option>
                        <option value="api_key">"API key (people paste a key)"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="p-auth">"Authorization endpoint (OAuth 2.0)"</label>
                    <input id="p-auth" name="authorization_endpoint" type="url" />
                </div>
                <div class="field">
                    <label for="p-token">"Token endpoint (OAuth 2.0)"</label>
                    <input id="p-token" name="token_endpoint" type="url" />
                </div>
                <div class="field">
                    <label for="p-client">"Client id (OAuth 2.0)"</label>
                    <input id="p-client" name="client_id" />
                </div>
                <div class="field">
                    <label for="p-secret">"Client secret (OAuth 2.0; stored encrypted)"</label>
                    <input id="p-secret" name="client_secret" type="password" autocomplete="off" />
                </div>
                <div class="field">
                    <label for="p-scopes">"Provider scopes to ask for"</label>
                    <input id="p-scopes" name="scopes" placeholder="read:user repo" />
                </div>
                <div class="field">
                    <label for="p-servers">"Offer on the consent screen of (MCP server slugs, comma-separated)"</label>
                    <input id="p-servers" name="mcp_servers" placeholder="demo-notes" />
                </div>
                <div class="actions">
                    <button class="button primary" type="submit">"Add provider"</button>
                </div>
            </form>
            <h2>"Connections policies"</h2>
            <p class="muted">
                "A connection's token leaves the vault only when a policy whose conditions hold allows its "
                "provider (conditions as in MCP policies; " <code>"jwtClaims.aud"</code>
                " names the MCP server asking)."
            </p>
            <Policies policies csrf=c3 />
            <form method="post" action="/admin/connections" class="form panel" aria-labelledby="new-cpol-h">
                <h2 id="new-cpol-h">"New connections policy"</h2>
                <input type="hidden" name="csrf" value=c4 />
                <input type="hidden" name="intent" value="policy_add" />
                <div class="field">
                    <label for="c-name">"Name"</label>
                    <input id="c-name" name="name" required maxlength="100" />
                </div>
                <div class="field">
                    <label for="c-key">"Condition (leave empty for everyone)"</label>
                    <input id="c-key" name="condition_key" placeholder="user.roles" />
                </div>
                <div class="field">
                    <label for="c-op">"Operator"</label>
                    <select id="c-op" name="condition_operator">
                        <option value="Contains">"Contains"</option>
                        <option value="In">"In"</option>
                        <option value="Equal">"Equal"</option>
                        <option value="NotEqual">"NotEqual"</option>
                        <option value="NotIn">"NotIn"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="c-values">"Values (comma-separated)"</label>
                    <input id="c-values" name="condition_values" placeholder="engineer" />
                </div>
                <div class="field">
                    <label for="c-provider">"Provider (slug)"</label>
                    <input id="c-provider" name="provider" required placeholder="github" />
                </div>
                <div class="field">
                    <label for="c-scopes">"Provider scopes it may carry"</label>
                    <input id="c-scopes" name="scopes" placeholder="read:user" />
                </div>
                <div class="actions">
                    <button class="button primary" type="submit">"Add policy"</button>
                </div>
            </form>
        }
        .into_any()
    } else {
        view! { <p class="notice">"Connections are managed by project admins."</p> }.into_any()
    };
    view! {
        <AdminFrame header current="/admin/connections">
            <h1>"Connections"</h1>
            {error.map(|e| view! { <p role="alert" class="error">{e}</p> })}
            {(!fields.is_empty()).then(|| view! {
                <ul class="error" data-testid="field-errors">
                    {fields
                        .into_iter()
                        .map(|(k, v)| view! { <li><code>{k}</code> ": " {v}</li> })
                        .collect_view()}
                </ul>
            })}
            {info.map(|i| view! { <p role="status">{i}</p> })}
            {body}
        </AdminFrame>
    }
}
