//! Console form fields: a labelled input with its hint and the error the server found in it,
//! and a labelled checkbox. The value is what the form last held (stored, or as sent).

use leptos::prelude::*;

/// A labelled text input (`kind` is the input type; text by default).
#[component]
pub fn TextField(
    #[prop(into)] name: String,
    label: &'static str,
    #[prop(into)] value: String,
    /// The error under the field, if the server found one.
    #[prop(optional_no_strip)]
    error: Option<String>,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] kind: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    let id = format!("f-{}", name.replace(['[', ']', '.'], "-"));
    let hint_id = format!("{id}-hint");
    let kind = if kind.is_empty() { "text" } else { kind };
    let described = (!hint.is_empty()).then(|| hint_id.clone());
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name.clone()
                type=kind
                value=value
                required=required
                placeholder=placeholder
                aria-invalid=error.is_some().then_some("true")
                aria-describedby=described
            />
            {(!hint.is_empty()).then(|| view! { <p class="muted hint" id=hint_id>{hint}</p> })}
            {error.map(|m| view! { <p class="error field-error" data-field=name>{m}</p> })}
        </div>
    }
}

/// A labelled checkbox that sends `on` when ticked.
#[component]
pub fn CheckField(
    #[prop(into)] name: String,
    #[prop(into)] label: String,
    checked: bool,
) -> impl IntoView {
    let id = format!("f-{}", name.replace(['[', ']', '.'], "-"));
    view! {
        <div class="field check">
            <input type="checkbox" id=id.clone() name=name value="on" checked=checked />
            <label for=id>{label}</label>
        </div>
    }
}
