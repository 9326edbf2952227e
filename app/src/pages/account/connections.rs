//! Connected accounts (the token vault): connect through the provider's own sign-in, or
//! paste an API key; disconnect deletes the stored tokens. The consent page shows the same
//! rows for the providers an MCP server uses, so a person can connect before allowing.

use leptos::prelude::*;

use crate::api::account::ConnectionRow;
use crate::api::auth::FormKeys;
use crate::components::forms::{KeyFields, PostButton};

/// One provider: connected (what it holds, "Disconnect") or not ("Connect", or a key field).
#[component]
fn ConnectionItem(row: ConnectionRow, keys: FormKeys, offer_disconnect: bool) -> impl IntoView {
    let ConnectionRow {
        slug,
        name,
        api_key,
        connected,
    } = row;
    let field_id = format!("api-key-{slug}");
    let action = match (&connected, api_key) {
        (Some(_), _) if offer_disconnect => view! {
            <PostButton
                action="/account/connections/disconnect"
                keys=keys
                label="Disconnect"
                class="danger"
                fields=vec![("provider", slug.clone())]
                hidden_label=name.clone()
            />
        }
        .into_any(),
        (Some(_), _) => view! { <span class="badge">"Connected"</span> }.into_any(),
        (None, false) => view! {
            <PostButton
                action="/account/connections/connect"
                keys=keys
                label="Connect"
                fields=vec![("provider", slug.clone())]
                hidden_label=name.clone()
            />
        }
        .into_any(),
        (None, true) => view! {
            <form method="post" action=keys.action("/account/connections/api-key") class="inline">
                <KeyFields keys=keys.clone() />
                <input type="hidden" name="provider" value=slug.clone() />
                <label class="visually-hidden" for=field_id.clone()>{format!("{name} API key")}</label>
                <input
                    id=field_id
                    type="password"
                    name="api_key"
                    autocomplete="off"
                    placeholder="API key"
                    required
                />
                <button class="button" type="submit">"Save key"</button>
            </form>
        }
        .into_any(),
    };
    view! {
        <li data-connection=slug.clone()>
            <span>
                <strong>{name.clone()}</strong>
                <br />
                <span class="muted">
                    {connected.unwrap_or_else(|| "Not connected".to_owned())}
                </span>
            </span>
            {action}
        </li>
    }
}

/// The account page's section.
#[component]
pub fn Connections(connections: Vec<ConnectionRow>, keys: FormKeys) -> impl IntoView {
    (!connections.is_empty()).then(|| {
        let keys = FormKeys {
            journey: None,
            ..keys
        };
        view! {
            <section aria-labelledby="connections-h">
                <h2 id="connections-h">"Connected accounts"</h2>
                <p class="muted">
                    "MCP servers may use these accounts for you, as far as your administrators' "
                    "policies allow. Disconnecting deletes what Mandate holds."
                </p>
                <ul class="item-list" data-testid="connections">
                    {connections
                        .into_iter()
                        .map(|row| view! {
                            <ConnectionItem row keys=keys.clone() offer_disconnect=true />
                        })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}

/// The consent page's section: connecting returns to the consent page.
#[component]
pub fn ConnectionOffers(connections: Vec<ConnectionRow>, keys: FormKeys) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="offers-h">
            <h2 id="offers-h">"Accounts this server can use"</h2>
            <ul class="item-list" data-testid="connection-offers">
                {connections
                    .into_iter()
                    .map(|row| view! {
                        <ConnectionItem row keys=keys.clone() offer_disconnect=false />
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
