//! `/authorize/tenant`: which organization the agent acts in (the token's `tenant` claim).

use leptos::prelude::*;

use super::screen_page;
use crate::api::auth::{tenant_screen, TenantView};
use crate::components::forms::KeyFields;

#[component]
pub fn TenantPage() -> impl IntoView {
    screen_page(
        "Choose an organization",
        tenant_screen,
        |facts| view! { <TenantForm facts /> },
    )
}

/// The first letter of a name, for the round mark beside it.
pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default()
}

#[component]
fn TenantForm(facts: TenantView) -> impl IntoView {
    let TenantView { keys, tenants } = facts;
    view! {
        <h1>"Choose an organization"</h1>
        <p>
            "Which organization should the application act in? "
            "Its access will be limited to that organization."
        </p>
        <form class="form" method="post" action=keys.action("/authorize/tenant")>
            <KeyFields keys=keys.clone() />
            <fieldset>
                <legend class="visually-hidden">"Organization"</legend>
                <ul class="choice-list">
                    {tenants
                        .into_iter()
                        .enumerate()
                        .map(|(i, t)| {
                            view! {
                                <li>
                                    <label>
                                        <input
                                            type="radio"
                                            name="tenant"
                                            value=t.id
                                            checked=i == 0
                                            required
                                        />
                                        <span class="brand-mark" aria-hidden="true">
                                            {initial(&t.name)}
                                        </span>
                                        <span>
                                            <strong>{t.name}</strong>
                                            <br />
                                            <span class="muted">"Your role: " {t.roles}</span>
                                        </span>
                                    </label>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </fieldset>
            <div class="actions">
                <button class="button" type="submit">"Continue"</button>
            </div>
        </form>
    }
}
