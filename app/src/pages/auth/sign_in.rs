//! `/sign-in`: email and password, or a passkey.

use leptos::prelude::*;
use leptos_meta::Title;

use super::journey_param;
use crate::api::auth::{sign_in_screen, SignInView};
use crate::components::forms::{show_screen, Alert, KeyFields, PasskeyButton};

#[component]
pub fn SignInPage() -> impl IntoView {
    let journey = journey_param();
    let screen = Resource::new(move || journey.get(), sign_in_screen);
    view! {
        <Title text="Sign in" />
        <main class="page narrow">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    show_screen(screen.await, |facts| view! { <SignInForm facts /> })
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn SignInForm(facts: SignInView) -> impl IntoView {
    let SignInView {
        keys,
        email,
        error,
        passkeys,
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
            </div>
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
