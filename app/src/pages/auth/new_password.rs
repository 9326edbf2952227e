//! `/sign-in/new-password`: a person signed in with a one-time password chooses their own
//! before the sign-in completes.

use leptos::prelude::*;

use super::screen_page;
use crate::api::auth::{new_password_screen, NewPasswordView};
use crate::components::forms::{Alert, KeyFields};

#[component]
pub fn NewPasswordPage() -> impl IntoView {
    screen_page("Choose a password", new_password_screen, |facts| {
        view! { <NewPasswordForm facts /> }
    })
}

#[component]
fn NewPasswordForm(facts: NewPasswordView) -> impl IntoView {
    let NewPasswordView {
        keys,
        email,
        min_length,
        error,
    } = facts;
    let hint = format!("At least {min_length} characters.");
    // Checked in place once the page has hydrated; the server checks the same on submit.
    // Either field's input reads both fields: what was typed before the page hydrated (no
    // handler yet) counts too, so a match is never shown as a mismatch.
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let password_input = NodeRef::<leptos::html::Input>::new();
    let confirm_input = NodeRef::<leptos::html::Input>::new();
    let read_both = move |_| {
        if let Some(input) = password_input.get() {
            password.set(input.value());
        }
        if let Some(input) = confirm_input.get() {
            confirm.set(input.value());
        }
    };
    let check = move || {
        let (p, c) = (password.get(), confirm.get());
        if !p.is_empty() && p.chars().count() < min_length as usize {
            format!("Use at least {min_length} characters.")
        } else if !c.is_empty() && p != c {
            "The two passwords are not the same.".to_owned()
        } else {
            String::new()
        }
    };
    view! {
        <h1>"Choose a password"</h1>
        <p>"You signed in as " <strong>{email}</strong> " with a one-time password. Choose your own to continue."</p>
        <Alert message=error />
        <form class="form" method="post" action=keys.action("/sign-in/new-password")>
            <KeyFields keys=keys.clone() />
            <div class="field">
                <label for="new-password">"New password"</label>
                <input
                    id="new-password"
                    name="password"
                    type="password"
                    autocomplete="new-password"
                    minlength=min_length.to_string()
                    required
                    aria-describedby="new-password-hint"
                    node_ref=password_input
                    on:input=read_both
                />
                <span id="new-password-hint" class="muted">{hint}</span>
            </div>
            <div class="field">
                <label for="confirm-password">"Repeat it"</label>
                <input
                    id="confirm-password"
                    name="confirm"
                    type="password"
                    autocomplete="new-password"
                    required
                    node_ref=confirm_input
                    on:input=read_both
                />
            </div>
            <p class="error" aria-live="polite" data-testid="password-check">{check}</p>
            <div class="actions">
                <button class="button" type="submit">"Save and continue"</button>
            </div>
        </form>
    }
}
