//! The audit live tail: once the page is hydrated, a switch subscribes to the server's event
//! stream (server-sent events, filtered on the server exactly as the table is) and new events
//! appear at the top of the table as they are recorded.

use leptos::prelude::*;

use crate::api::admin::audit::EventRow;

/// How many live rows are kept on the page.
#[cfg(feature = "hydrate")]
const KEEP: usize = 500;

/// The switch and the live rows' state, shared with the table.
#[derive(Clone, Copy)]
pub struct Tail {
    pub rows: RwSignal<Vec<EventRow>>,
    pub on: RwSignal<bool>,
    pub status: RwSignal<String>,
}

impl Tail {
    /// Subscribes to `href` while the switch is on (in the browser only).
    pub fn new(href: String) -> Self {
        let tail = Self {
            rows: RwSignal::new(Vec::new()),
            on: RwSignal::new(false),
            status: RwSignal::new(String::new()),
        };
        #[cfg(feature = "hydrate")]
        browser::follow(tail, href);
        #[cfg(not(feature = "hydrate"))]
        let _ = href;
        tail
    }

    #[cfg(feature = "hydrate")]
    fn push(self, row: EventRow) {
        self.rows.update(|rows| {
            if rows.iter().any(|r| r.seq == row.seq) {
                return;
            }
            rows.insert(0, row);
            rows.truncate(KEEP);
        });
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::Tail;
    use crate::api::admin::audit::EventRow;

    pub fn follow(tail: Tail, href: String) {
        let source: StoredValue<Option<EventSource>, LocalStorage> = StoredValue::new_local(None);
        Effect::new(move |_| {
            if let Some(open) = source.get_value() {
                open.close();
                source.set_value(None);
            }
            if !tail.on.get() {
                tail.status.set(String::new());
                return;
            }
            let Ok(es) = EventSource::new(&href) else {
                tail.status.set("The live tail could not start.".into());
                return;
            };
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Some(row) = e
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<EventRow>(&text).ok())
                {
                    tail.push(row);
                }
            });
            es.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            let on_open = Closure::<dyn FnMut()>::new(move || {
                tail.status
                    .set("Live: new events appear at the top.".into());
            });
            es.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            on_open.forget();
            let on_error = Closure::<dyn FnMut()>::new(move || {
                tail.status.set("Connection lost; reconnecting…".into());
            });
            es.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
            source.set_value(Some(es));
        });
        on_cleanup(move || {
            if let Some(open) = source.try_get_value().flatten() {
                open.close();
            }
        });
    }
}

/// The live tail's switch: disabled until the page is hydrated (it needs the browser's
/// EventSource); "Refresh" works without it.
#[component]
pub fn TailSwitch(tail: Tail) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <button
            type="button"
            class="button"
            data-testid="live-tail"
            disabled=move || !hydrated.get()
            aria-pressed=move || if tail.on.get() { "true" } else { "false" }
            on:click=move |_| tail.on.update(|on| *on = !*on)
        >
            {move || if tail.on.get() { "Stop live tail" } else { "Live tail" }}
        </button>
        <span class="muted" role="status">{move || tail.status.get()}</span>
    }
}
