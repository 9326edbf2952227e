//! The account page's second factors.

use leptos::prelude::*;

use crate::api::account::{PasskeyRow, TotpState};
use crate::api::auth::FormKeys;
use crate::components::forms::{KeyFields, PasskeyButton, PostButton};

#[component]
pub fn AuthenticatorApp(totp: TotpState, keys: FormKeys) -> impl IntoView {
    let body = match totp {
        TotpState::On => view! {
            <p>
                <span class="badge ok">"on"</span>
                " Codes from your authenticator app are your second factor."
            </p>
            <PostButton
                action="/account/totp/remove"
                keys
                label="Remove authenticator app"
                class="secondary"
            />
        }
        .into_any(),
        TotpState::Pending { qr_svg, manual_key } => view! {
            <ol class="steps">
                <li>
                    "Scan this code with your authenticator app:"
                    // Drawn on the server by the `qrcode` crate from the otpauth URL.
                    <div class="qr" inner_html=qr_svg></div>
                </li>
                <li>
                    "Or type this key: "
                    <code class="manual-key" data-testid="totp-key">{manual_key}</code>
                </li>
                <li>"Enter the 6-digit code the app shows:"</li>
            </ol>
            <form class="form" method="post" action=keys.action("/account/totp/confirm")>
                <KeyFields keys=keys.clone() />
                <div class="field">
                    <label for="totp-confirm">"Code"</label>
                    <input
                        id="totp-confirm"
                        name="code"
                        type="text"
                        inputmode="numeric"
                        autocomplete="one-time-code"
                        required
                    />
                </div>
                <div class="actions">
                    <button class="button" type="submit">"Turn on"</button>
                </div>
            </form>
        }
        .into_any(),
        TotpState::Off => view! {
            <p>"Use an app such as your phone's authenticator for one-time codes."</p>
            <PostButton action="/account/totp/start" keys label="Set up authenticator app" />
        }
        .into_any(),
    };
    view! {
        <section aria-labelledby="totp-h">
            <h2 id="totp-h">"Authenticator app"</h2>
            {body}
        </section>
    }
}

#[component]
pub fn RecoveryCodes(codes: Option<Vec<String>>, left: u32, keys: FormKeys) -> impl IntoView {
    let body = match codes {
        Some(codes) => view! {
            <p role="status">
                <strong>"Save these codes now: they are shown only once."</strong>
                " Each works once, if you lose your authenticator."
            </p>
            <ul class="recovery-codes" data-testid="recovery-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
        }
        .into_any(),
        None => view! { <p>{left} " unused recovery codes."</p> }.into_any(),
    };
    view! {
        <section aria-labelledby="rec-h">
            <h2 id="rec-h">"Recovery codes"</h2>
            {body}
            <PostButton
                action="/account/recovery"
                keys
                label="Generate new recovery codes"
                class="secondary"
            />
        </section>
    }
}

#[component]
pub fn Passkeys(passkeys: Vec<PasskeyRow>, available: bool, keys: FormKeys) -> impl IntoView {
    let list = if passkeys.is_empty() {
        view! { <p>"No passkeys yet. A passkey signs you in with your device's screen lock."</p> }
            .into_any()
    } else {
        let row_keys = keys.clone();
        view! {
            <ul class="item-list" data-testid="passkeys">
                {passkeys
                    .into_iter()
                    .map(|key| {
                        view! {
                            <li>
                                <span>
                                    <strong>{key.name}</strong>
                                    <br />
                                    <span class="muted">"added " {key.added}</span>
                                </span>
                                <PostButton
                                    action="/account/passkeys/remove"
                                    keys=row_keys.clone()
                                    label="Remove"
                                    class="secondary"
                                    fields=vec![("credential", key.credential_id)]
                                />
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let add = if available {
        view! {
            <div class="field">
                <label for="passkey-name">"Name for the new passkey"</label>
                <input
                    id="passkey-name"
                    name="passkey-name"
                    type="text"
                    maxlength="60"
                    placeholder="e.g. Work laptop"
                    data-passkey-name=""
                />
            </div>
            <PasskeyButton action="register" label="Add a passkey" keys />
        }
        .into_any()
    } else {
        view! {
            <p class="muted">
                "Passkeys need Mandate to be served from a domain name, not an IP address."
            </p>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="pk-h">
            <h2 id="pk-h">"Passkeys"</h2>
            {list}
            {add}
        </section>
    }
}
