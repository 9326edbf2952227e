//! `/sign-in`: email and password, or a passkey.

use leptos::prelude::*;

use super::screen_page;
use crate::api::auth::{sign_in_screen, SignInView};
use crate::components::forms::{Alert, KeyFields, PasskeyButton};

#[component]
pub fn SignInPage() -> impl IntoView {
    screen_page(
        "Sign in",
        sign_in_screen,
        |facts| view! { <SignInForm facts /> },
    )
}

#[component]
fn SignInForm(facts: SignInView) -> impl IntoView {
    let SignInView {
        keys,
        email,
        error,
        passkeys,
        sso,
    } = facts;
    let passkey_keys = keys.clone();
    view! {
        <h1>"Sign in"</h1>
        <Alert message=error />
        <form class="form" method="post" action=keys.action("/sign-in")>
            <KeyFields keys=keys.clone() />
            <div class="field">
                <label for="email">"Email"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username webauthn"
                    required
                    value=email
                />
            </div>
            <div class="field">
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                />
            </div>
            <div class="actions">
                <button class="button" type="submit">"Sign in"</button>
                {sso.then(|| view! {
                    <button class="button secondary" type="submit" name="sso" value="1" formnovalidate=true>
                        "Continue with single sign-on"
                    </button>
                })}
            </div>
            {sso.then(|| view! {
                <p class="muted">"If your organization uses single sign-on, type your email and continue: no password here."</p>
            })}
        </form>
        {passkeys.then(|| view! {
            <p class="divider"><span>"or"</span></p>
            <PasskeyButton
                action="sign-in"
                label="Sign in with a passkey"
                keys=passkey_keys
                class="secondary"
            />
        })}
    }
}
