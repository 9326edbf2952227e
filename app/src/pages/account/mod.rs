//! `/account`: the person's second factors (authenticator app, recovery codes, passkeys) and
//! the agents that can act for them, and their connected accounts (the token vault). Reached from an authorization that needs a second factor
//! the person does not have yet (`?journey=`): setting one up leads straight back to it.

mod agents;
pub mod connections;
mod factors;

use leptos::prelude::*;

use crate::api::account::{account_screen, AccountView};
use crate::components::forms::{Alert, PostButton};
use crate::pages::auth::screen_page;

#[component]
pub fn AccountPage() -> impl IntoView {
    screen_page(
        "Your account",
        account_screen,
        |facts| view! { <Account facts /> },
    )
}

#[component]
fn Account(facts: AccountView) -> impl IntoView {
    let AccountView {
        keys,
        email,
        error,
        info,
        totp,
        offer_continue,
        new_recovery_codes,
        recovery_codes_left,
        passkeys,
        passkeys_available,
        agents,
        connections,
    } = facts;
    let in_journey = keys.journey.is_some();
    let sign_out_keys = crate::api::auth::FormKeys {
        csrf: keys.csrf.clone(),
        journey: None,
    };
    view! {
        <h1>"Your account"</h1>
        <div class="panel account-who">
            <p>"Signed in as " <strong>{email}</strong></p>
            <PostButton action="/sign-out" keys=sign_out_keys label="Sign out" class="secondary" />
        </div>
        {in_journey.then(|| view! {
            <p class="panel notice" role="status">
                "The application you are authorizing asks for access marked sensitive, which "
                "needs a second factor. Set up an authenticator app or a passkey below; you "
                "will go straight back to it."
            </p>
        })}
        <Alert message=error />
        {info.map(|i| view! { <p role="status" class="notice">{i}</p> })}
        <factors::AuthenticatorApp totp keys=keys.clone() />
        {(offer_continue && in_journey).then(|| view! {
            <PostButton
                action="/account/continue"
                keys=keys.clone()
                label="Continue to the application"
            />
        })}
        <factors::RecoveryCodes
            codes=new_recovery_codes
            left=recovery_codes_left
            keys=keys.clone()
        />
        <factors::Passkeys passkeys available=passkeys_available keys=keys.clone() />
        <agents::ConnectedAgents agents keys=keys.clone() />
        <connections::Connections connections keys />
    }
}
