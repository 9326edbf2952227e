//! `/set-password?token=…`: choose a password from an admin's link.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::set_password::{set_password_screen, SetPasswordView};
use crate::components::forms::{show_screen, Alert};

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let screen = Resource::new(
        move || query.read().get("token").unwrap_or_default(),
        set_password_screen,
    );
    view! {
        <Title text="Choose your password" />
        <main class="page narrow">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    show_screen(screen.await, |facts| view! { <SetPasswordForm facts /> })
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn SetPasswordForm(facts: SetPasswordView) -> impl IntoView {
    let SetPasswordView {
        csrf,
        token,
        email,
        min_length,
        error,
    } = facts;
    view! {
        <h1>"Choose your password"</h1>
        <p>"For " <strong>{email}</strong> ". You sign in with it afterwards."</p>
        <Alert message=error />
        <form class="form" method="post" action="/set-password">
            <input type="hidden" name="csrf" value=csrf />
            <input type="hidden" name="token" value=token />
            <div class="field">
                <label for="new-password">"New password"</label>
                <input id="new-password" name="password" type="password" autocomplete="new-password"
                    minlength=min_length.to_string() required aria-describedby="new-password-hint" />
                <span id="new-password-hint" class="muted">{format!("At least {min_length} characters.")}</span>
            </div>
            <div class="field">
                <label for="confirm-password">"Repeat it"</label>
                <input id="confirm-password" name="confirm" type="password" autocomplete="new-password" required />
            </div>
            <div class="actions">
                <button class="button" type="submit">"Save password"</button>
            </div>
        </form>
    }
}
