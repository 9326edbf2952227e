//! The home page: what Mandate is, and the MCP servers this hub authorizes for, with their
//! issuer and discovery URLs. The filter box works once the page has hydrated; without
//! JavaScript every server is listed.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::directory::{list_mcp_servers, McpServerCard};

#[component]
pub fn Home() -> impl IntoView {
    let servers = Resource::new(|| (), |_| list_mcp_servers());
    let query = RwSignal::new(String::new());

    view! {
        <Title text="" />
        <main class="page">
            <section class="hero">
                <h1>"Mandate"</h1>
                <p class="lede">
                    "The authorization hub between AI agents and MCP servers: agents ask, people "
                    "approve scope by scope, admins' policies decide what is granted, and every "
                    "step is on the record."
                </p>
            </section>
            <section class="directory" aria-labelledby="servers-heading">
                <div class="directory-head">
                    <h2 id="servers-heading">"MCP servers on this hub"</h2>
                    <div class="field">
                        <label for="server-filter">"Filter"</label>
                        <input
                            id="server-filter"
                            type="search"
                            placeholder="name, slug or scope"
                            autocomplete="off"
                            bind:value=query
                        />
                    </div>
                </div>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match servers.await {
                            Ok(cards) => view! { <ServerList cards query /> }.into_any(),
                            Err(_) => view! {
                                <p class="error" role="alert">
                                    "The list of MCP servers cannot be shown right now."
                                </p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

#[component]
fn ServerList(cards: Vec<McpServerCard>, query: RwSignal<String>) -> impl IntoView {
    let total = cards.len();
    let cards = StoredValue::new(cards);
    let visible = move || {
        let q = query.get();
        cards.with_value(|all| {
            all.iter()
                .filter(|c| c.matches(&q))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let status = move || {
        let shown = visible().len();
        let q = query.get();
        if total == 0 {
            "No MCP server is registered yet.".to_owned()
        } else if shown == 0 {
            format!("No MCP server matches “{}”.", q.trim())
        } else {
            format!("Showing {shown} of {total}.")
        }
    };
    view! {
        <p id="filter-status" class="muted" aria-live="polite">{status}</p>
        <ul class="cards">
            <For each=visible key=|c| c.slug.clone() let:card>
                <ServerCard card />
            </For>
        </ul>
    }
}

#[component]
fn ServerCard(card: McpServerCard) -> impl IntoView {
    view! {
        <li class="card" data-slug=card.slug.clone()>
            <h3>{card.name}</h3>
            <p>{card.description}</p>
            <dl class="facts">
                <dt>"Issuer"</dt>
                <dd><code>{card.issuer}</code></dd>
                <dt>"Discovery"</dt>
                <dd><code>{card.discovery_url}</code></dd>
            </dl>
            <ul class="chips" aria-label="Scopes">
                {card
                    .scopes
                    .into_iter()
                    .map(|s| {
                        let class = if s.sensitive { "chip sensitive" } else { "chip" };
                        view! {
                            <li class=class title=s.display_name>
                                {s.name}
                                {s.sensitive.then_some(view! { <span class="tag">"sensitive"</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </li>
    }
}
