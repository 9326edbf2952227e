//! `/admin/api-keys`: keys for the admin REST API (`/api/v1`). A key is shown once, when it is
//! created; revoking needs a ticked confirmation (no script needed).

use leptos::prelude::*;

use super::{console_page, AdminFrame};
use crate::api::admin::api_keys::{api_keys_screen, ApiKeyRow, ApiKeysView};

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    console_page(
        "API keys",
        || (),
        |()| api_keys_screen(),
        |facts| view! { <ApiKeys facts /> },
    )
}

#[component]
fn KeyRow(key: ApiKeyRow, csrf: String) -> impl IntoView {
    let status = match &key.revoked {
        Some(when) => format!("revoked {when}"),
        None => "active".to_owned(),
    };
    let live = key.revoked.is_none();
    let confirm_id = format!("confirm-{}", key.id);
    view! {
        <tr data-key=key.id.clone()>
            <td>{key.name.clone()}</td>
            <td><code>{format!("{}…", key.hint)}</code></td>
            <td>{key.scope}</td>
            <td class="nowrap">{key.created}</td>
            <td class="nowrap">{key.last_used}</td>
            <td>{status}</td>
            <td>
                {live.then(|| view! {
                    <form method="post" action="/admin/api-keys/revoke" class="inline confirm">
                        <input type="hidden" name="csrf" value=csrf.clone() />
                        <input type="hidden" name="key" value=key.id.clone() />
                        <input type="checkbox" id=confirm_id.clone() name="confirm" value="yes" required />
                        <label for=confirm_id.clone()>"Yes, revoke"</label>
                        <button class="button danger" type="submit">
                            "Revoke" <span class="visually-hidden">{key.name.clone()}</span>
                        </button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
fn ApiKeys(facts: ApiKeysView) -> impl IntoView {
    let ApiKeysView {
        header,
        csrf,
        may_manage,
        keys,
        new_secret,
        error,
        info,
    } = facts;
    let body = if !may_manage {
        view! {
            <p class="notice">
                "API keys are not available to you."
            </p>
        }
        .into_any()
    } else {
        let empty = keys.is_empty();
        let list_csrf = csrf.clone();
        view! {
            {new_secret.map(|secret| view! {
                <div class="panel" role="status" data-testid="new-api-key">
                    <p><strong>"Copy this key now: it is not shown again."</strong></p>
                    <p><code class="manual-key">{secret}</code></p>
                    <p class="muted">"Send it as " <code>"Authorization: Bearer <key>"</code> " to " <code>"/api/v1/…"</code></p>
                </div>
            })}
            <form method="post" action="/admin/api-keys" class="form panel" aria-labelledby="new-key-h">
                <h2 id="new-key-h">"New key"</h2>
                <p class="muted">"A key acts with your admin rights (a tenant admin's key reaches only your tenants), and stops working if you lose them."</p>
                <input type="hidden" name="csrf" value=csrf />
                <div class="field">
                    <label for="key-name">"Name"</label>
                    <input id="key-name" name="name" required maxlength="80" placeholder="e.g. SIEM export" />
                </div>
                <div class="field">
                    <label for="key-scope">"Access"</label>
                    <select id="key-scope" name="scope">
                        <option value="read">"Read only"</option>
                        <option value="full">"Full (everything you may do as an admin)"</option>
                    </select>
                </div>
                <div class="actions">
                    <button class="button primary" type="submit">"Create key"</button>
                </div>
            </form>
            <h2>"Keys"</h2>
            {if empty {
                view! { <p class="muted">"No API keys yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="events" data-testid="api-keys">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Key"</th>
                                    <th scope="col">"Access"</th>
                                    <th scope="col">"Created (UTC)"</th>
                                    <th scope="col">"Last used"</th>
                                    <th scope="col">"Status"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {keys
                                    .into_iter()
                                    .map(|key| view! { <KeyRow key csrf=list_csrf.clone() /> })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any()
            }}
        }
        .into_any()
    };
    view! {
        <AdminFrame header current="/admin/api-keys">
            <h1>"API keys"</h1>
            {error.map(|e| view! { <p role="alert" class="error">{e}</p> })}
            {info.map(|i| view! { <p role="status">{i}</p> })}
            {body}
        </AdminFrame>
    }
}
