//! `/authorize/consent`: the agent, the MCP server, the tenant, and one switch per requested
//! scope. Mandatory scopes are locked on, sensitive ones marked, scopes the policies do not
//! allow shown as unavailable with the reason, and scopes a remembered grant does not cover
//! marked new. The server checks the answer against the same facts.

use std::collections::BTreeSet;

use leptos::prelude::*;

use super::screen_page;
use super::tenant::initial;
use crate::api::auth::{consent_screen, AgentCard, ConsentView, ScopeRow};
use crate::components::forms::KeyFields;

#[component]
pub fn ConsentPage() -> impl IntoView {
    screen_page(
        "Allow access",
        consent_screen,
        |facts| view! { <ConsentForm facts /> },
    )
}

#[component]
fn AgentMark(agent: AgentCard) -> impl IntoView {
    match agent.logo_uri {
        Some(src) => {
            view! { <img class="agent-logo" src=src alt="" width="40" height="40" /> }.into_any()
        }
        None => view! {
            <span class="brand-mark" aria-hidden="true">{initial(&agent.name)}</span>
        }
        .into_any(),
    }
}

#[component]
fn ConsentForm(facts: ConsentView) -> impl IntoView {
    let ConsentView {
        keys,
        agent,
        redirect_host,
        server_name,
        tenant_name,
        remembered,
        scopes,
        grantable,
        connections,
    } = facts;
    let connection_keys = keys.clone();
    let name = agent.name.clone();
    let trust = agent.trust;
    // How many scopes the answer would grant, kept up to date as switches move (once the
    // page has hydrated; the server renders the starting count).
    let available = scopes.iter().filter(|s| s.unavailable.is_none()).count();
    let chosen = RwSignal::new(
        scopes
            .iter()
            .filter(|s| s.unavailable.is_none() && s.default_on)
            .map(|s| s.name.clone())
            .collect::<BTreeSet<_>>(),
    );
    let summary = move || match chosen.with(BTreeSet::len) {
        0 => "Nothing selected: Allow grants nothing optional.".to_owned(),
        n if n == available => format!("All {available} available scopes selected."),
        n => format!("{n} of {available} available scopes selected."),
    };
    view! {
        <h1>"Allow " {name.clone()} " to act for you?"</h1>
        <div class="panel consent-who">
            <AgentMark agent />
            <p>
                <strong>{name}</strong>
                " "
                <span class=trust.class()>{trust.label()}</span>
                <br />
                <span class="muted">"will return to " {redirect_host}</span>
            </p>
            <p>
                "On " <strong>{server_name}</strong>
                {tenant_name.map(|t| view! { ", in " <strong>{t}</strong> })}
            </p>
        </div>
        {remembered.then(|| view! {
            <p class="muted">
                "You allowed this application before. The scopes marked "
                <span class="badge new">"new"</span>
                " are what it asks for now."
            </p>
        })}
        {(!connections.is_empty()).then(|| view! {
            <crate::pages::account::connections::ConnectionOffers
                connections
                keys=connection_keys
            />
        })}
        <form class="form" method="post" action=keys.action("/authorize/consent")>
            <KeyFields keys=keys.clone() />
            <fieldset>
                <legend>"It asks to:"</legend>
                <ul class="scope-list">
                    {scopes
                        .into_iter()
                        .map(|scope| view! { <ScopeSwitch scope chosen /> })
                        .collect_view()}
                </ul>
                <p class="muted consent-summary" aria-live="polite">{summary}</p>
            </fieldset>
            <div class="field check">
                <input type="checkbox" id="remember" name="remember" value="1" checked />
                <label for="remember">
                    "Remember this decision: don't ask again for the same access"
                </label>
            </div>
            <div class="actions">
                {if grantable {
                    view! {
                        <button class="button" type="submit" name="decision" value="allow">
                            "Allow"
                        </button>
                    }
                        .into_any()
                } else {
                    view! {
                        <p role="alert" class="error">
                            "Nothing this application asks for can be granted to you here."
                        </p>
                    }
                        .into_any()
                }}
                <button class="button secondary" type="submit" name="decision" value="deny">
                    "Deny"
                </button>
            </div>
        </form>
    }
}

/// One scope: a native checkbox with `role="switch"` (keyboard operable, announced as a
/// switch).
#[component]
fn ScopeSwitch(
    scope: ScopeRow,
    /// The scopes switched on; this switch's changes keep its own entry up to date.
    chosen: RwSignal<BTreeSet<String>>,
) -> impl IntoView {
    let id = scope.element_id();
    // Mandatory scopes, and scopes allowed before, are not decided again here: locked on,
    // posted through a hidden field (a disabled checkbox is not sent).
    let locked = scope.mandatory || scope.allowed_before;
    let badges = view! {
        {scope.new.then(|| view! { " " <span class="badge new">"new"</span> })}
        {(scope.mandatory && scope.unavailable.is_none())
            .then(|| view! { " " <span class="badge">"required"</span> })}
        {scope.allowed_before.then(|| view! { " " <span class="badge ok">"allowed before"</span> })}
        {scope.sensitive.then(|| view! { " " <span class="badge warn">"sensitive"</span> })}
    };
    match scope.unavailable {
        Some(reason) => {
            let why = format!("{id}-why");
            view! {
                <li class="scope unavailable">
                    <input
                        type="checkbox"
                        id=id.clone()
                        role="switch"
                        disabled
                        aria-describedby=why.clone()
                    />
                    <label for=id>
                        <span class="scope-name">{scope.display_name}</span>
                        " "
                        <code>{scope.name}</code>
                        " "
                        <span class="badge">"unavailable"</span>
                        {badges}
                        <br />
                        <span class="scope-description">{scope.description}</span>
                        <br />
                        <span class="scope-reason" id=why>{reason}</span>
                    </label>
                </li>
            }
            .into_any()
        }
        None => view! {
            <li class="scope">
                <input
                    type="checkbox"
                    id=id.clone()
                    role="switch"
                    name="scope"
                    value=scope.name.clone()
                    checked=scope.default_on
                    disabled=locked
                    on:change={
                        let name = scope.name.clone();
                        move |ev| {
                            let on = event_target_checked(&ev);
                            chosen.update(|set| {
                                if on {
                                    set.insert(name.clone());
                                } else {
                                    set.remove(&name);
                                }
                            });
                        }
                    }
                />
                {locked.then(|| view! {
                    <input type="hidden" name="scope" value=scope.name.clone() />
                })}
                <label for=id>
                    <span class="scope-name">{scope.display_name}</span>
                    " "
                    <code>{scope.name.clone()}</code>
                    {badges}
                    <br />
                    <span class="scope-description">{scope.description}</span>
                </label>
            </li>
        }
        .into_any(),
    }
}
