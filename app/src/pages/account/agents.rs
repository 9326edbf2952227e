//! The account page's connected agents: every grant, with "Revoke".

use leptos::prelude::*;

use crate::api::account::ConnectedAgent;
use crate::api::auth::FormKeys;
use crate::components::forms::PostButton;

#[component]
pub fn ConnectedAgents(agents: Vec<ConnectedAgent>, keys: FormKeys) -> impl IntoView {
    // Revoking is not part of an authorization: the form carries no journey.
    let keys = FormKeys {
        journey: None,
        ..keys
    };
    let body = if agents.is_empty() {
        view! { <p>"No agent can act for you yet."</p> }.into_any()
    } else {
        view! {
            <ul class="item-list" data-testid="connected-agents">
                {agents
                    .into_iter()
                    .map(|a| {
                        let scopes = a
                            .scopes
                            .into_iter()
                            .map(|s| view! { <code>{s}</code> " " })
                            .collect_view();
                        view! {
                            <li>
                                <span>
                                    <strong>{a.agent_name.clone()}</strong>
                                    {format!(" on {} in {}", a.server_name, a.tenant_name)}
                                    <br />
                                    <span class="muted">{scopes}</span>
                                    <br />
                                    <span class="muted">
                                        {format!("granted {} · last used {}", a.granted, a.last_used)}
                                    </span>
                                </span>
                                <PostButton
                                    action="/account/agents/revoke"
                                    keys=keys.clone()
                                    label="Revoke"
                                    class="danger"
                                    fields=vec![("grant", a.grant_id)]
                                    hidden_label=a.agent_name
                                />
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="agents-h">
            <h2 id="agents-h">"Connected agents"</h2>
            {body}
        </section>
    }
}
