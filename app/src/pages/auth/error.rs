//! Error pages for requests that cannot continue (an unknown client, a tampered form, an
//! expired journey). They are answers to one request at whatever URL it was sent to, so they
//! render as a complete static document with no hydration.

/// The whole HTML document for an error.
#[cfg(feature = "ssr")]
pub fn error_document(error: crate::api::screen::ErrorView) -> String {
    use crate::components::forms::ErrorPanel;
    use crate::components::layout::TopBar;
    use crate::DocumentMeta;
    use leptos::prelude::*;
    use leptos::tachys::view::RenderHtml;
    let owner = Owner::new();
    owner.with(|| {
        let title = format!("{} · Mandate", error.title);
        view! {
            <!DOCTYPE html>
            <html lang="en">
                <head>
                    <DocumentMeta />
                    <title>{title}</title>
                    <link rel="stylesheet" href="/pkg/mandate.css" />
                </head>
                <body>
                    <TopBar />
                    <main class="page narrow">
                        <ErrorPanel error />
                    </main>
                </body>
            </html>
        }
        .to_html()
    })
}
