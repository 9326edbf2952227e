//! Form pieces shared by the journey and account pages. Every form is a plain HTML form that
//! posts to the server (so it works before, or without, hydration) and carries the session's
//! CSRF token and the journey id.

use leptos::prelude::*;

use crate::api::auth::FormKeys;
use crate::api::screen::{ErrorView, Screen};

/// The CSRF token and, inside an authorization, the journey id.
#[component]
pub fn KeyFields(keys: FormKeys) -> impl IntoView {
    view! {
        <input type="hidden" name="csrf" value=keys.csrf />
        {keys.journey.map(|j| view! { <input type="hidden" name="journey" value=j /> })}
    }
}

/// A form with one button that posts to `action`, with optional extra hidden fields.
#[component]
pub fn PostButton(
    action: &'static str,
    keys: FormKeys,
    #[prop(into)] label: String,
    #[prop(optional)] class: &'static str,
    /// Extra hidden `(name, value)` fields.
    #[prop(optional)]
    fields: Vec<(&'static str, String)>,
    /// Words for screen readers after the label (which of several identical buttons).
    #[prop(optional, into)]
    hidden_label: Option<String>,
) -> impl IntoView {
    view! {
        <form method="post" action=keys.action(action) class="inline">
            <KeyFields keys=keys.clone() />
            {fields
                .into_iter()
                .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
                .collect_view()}
            <button class=format!("button {class}") type="submit">
                {label}
                {hidden_label.map(|h| view! { " " <span class="visually-hidden">{h}</span> })}
            </button>
        </form>
    }
}

/// An error announced to screen readers.
#[component]
pub fn Alert(message: Option<String>) -> impl IntoView {
    message.map(|m| view! { <p role="alert" class="error">{m}</p> })
}

/// A passkey ceremony button, driven by `/passkey.js` (WebAuthn needs the browser's
/// credential API). Hidden until the script finds the browser supports passkeys.
#[component]
pub fn PasskeyButton(
    /// `sign-in`, `verify` or `register`.
    action: &'static str,
    #[prop(into)] label: String,
    keys: FormKeys,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! {
        <div class="passkey" hidden data-passkey-hidden="">
            <button
                class=format!("button {class}")
                type="button"
                data-passkey=action
                data-csrf=keys.csrf
                data-journey=keys.journey.unwrap_or_default()
            >
                {label}
            </button>
            <p class="error" role="alert" data-passkey-error=""></p>
        </div>
        <script type="module" src="/passkey.js"></script>
    }
}

/// An error page's body.
#[component]
pub fn ErrorPanel(error: ErrorView) -> impl IntoView {
    view! {
        <h1>{error.title}</h1>
        <p role="alert" class="error">{error.message}</p>
        {match error.back_to {
            Some(to) => view! {
                <p>
                    <a class="button" href=to rel="external" data-testid="back-to-app">
                        "Back to the application"
                    </a>
                </p>
            }
            .into_any(),
            None => view! {
                <p class="muted">
                    "You can close this window and start again from the application."
                </p>
            }
            .into_any(),
        }}
    }
}

/// Renders a screen: the page, a link to the step that comes first (the server already
/// redirected a plain page load), or the error.
pub fn show_screen<T, V>(
    screen: Result<Screen<T>, ServerFnError>,
    page: impl FnOnce(T) -> V,
) -> AnyView
where
    V: IntoView + 'static,
{
    match screen {
        Ok(Screen::Show(facts)) => page(facts).into_any(),
        Ok(Screen::Redirect(to)) => view! {
            <p>"Continuing… " <a href=to rel="external">"Continue"</a></p>
        }
        .into_any(),
        Ok(Screen::Error(error)) => view! { <ErrorPanel error /> }.into_any(),
        Err(_) => view! {
            <ErrorPanel error=ErrorView::new(
                500,
                "This page cannot be shown",
                "Something went wrong on our side. Try again in a moment.",
            ) />
        }
        .into_any(),
    }
}
