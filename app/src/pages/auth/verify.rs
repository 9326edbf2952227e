//! `/sign-in/verify`: the second factor, to finish a sign-in or to step up before sensitive
//! scopes. A code from the authenticator app, a passkey, or a recovery code.

use leptos::prelude::*;

use super::screen_page;
use crate::api::auth::{verify_screen, FormKeys, VerifyView};
use crate::components::forms::{Alert, KeyFields, PasskeyButton};

#[component]
pub fn VerifyPage() -> impl IntoView {
    screen_page(
        "Confirm it is you",
        verify_screen,
        |facts| view! { <VerifyForms facts /> },
    )
}

#[component]
fn VerifyForms(facts: VerifyView) -> impl IntoView {
    let VerifyView {
        keys,
        email,
        completing_sign_in,
        totp,
        passkeys,
        recovery_codes_left,
        error,
    } = facts;
    let lead = if completing_sign_in {
        "Your account is protected with a second factor. Confirm it is you to finish signing in."
    } else {
        "The application asks for access marked sensitive. Confirm it is you to continue."
    };
    let none = !totp && !passkeys && recovery_codes_left == 0;
    let (totp_keys, passkey_keys, recovery_keys) = (keys.clone(), keys.clone(), keys);
    view! {
        <h1>"Confirm it is you"</h1>
        <p>{lead}</p>
        <p class="muted">"Signed in as " {email}</p>
        <Alert message=error />
        {totp.then(|| view! {
            <CodeForm
                keys=totp_keys
                method="totp"
                label="Code from your authenticator app"
                id="totp-code"
                autocomplete="one-time-code"
                inputmode="numeric"
            />
        })}
        {passkeys.then(|| view! {
            <PasskeyButton action="verify" label="Use a passkey" keys=passkey_keys class="secondary" />
        })}
        {(recovery_codes_left > 0).then(|| view! {
            <details class="panel">
                <summary>"Use a recovery code"</summary>
                <CodeForm
                    keys=recovery_keys
                    method="recovery"
                    label="Recovery code"
                    id="recovery-code"
                    autocomplete="off"
                    inputmode="text"
                />
            </details>
        })}
        {none.then(|| view! {
            <p>"You have no second factor yet. Set one up on your account page first."</p>
        })}
    }
}

#[component]
fn CodeForm(
    keys: FormKeys,
    method: &'static str,
    label: &'static str,
    id: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
) -> impl IntoView {
    view! {
        <form class="form" method="post" action=keys.action("/sign-in/verify")>
            <KeyFields keys=keys.clone() />
            <input type="hidden" name="method" value=method />
            <div class="field">
                <label for=id>{label}</label>
                <input
                    id=id
                    name="code"
                    type="text"
                    autocomplete=autocomplete
                    inputmode=inputmode
                    required
                />
            </div>
            <div class="actions">
                <button class="button" type="submit">"Verify"</button>
            </div>
        </form>
    }
}
