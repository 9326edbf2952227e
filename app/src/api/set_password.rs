//! `/set-password?token=…`: a person invited (or sent a new link) by an admin chooses their
//! password. The link works once and for 7 days; the form posts to the same address.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::screen::Screen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPasswordView {
    pub csrf: String,
    pub token: String,
    pub email: String,
    pub min_length: u32,
    pub error: Option<String>,
}

#[server(endpoint = "set_password_screen")]
pub async fn set_password_screen(token: String) -> Result<Screen<SetPasswordView>, ServerFnError> {
    Ok(ssr::view(token).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use mandate_core::identity::password::MIN_PASSWORD_LEN;
    use mandate_core::secret::Secret;

    use super::*;
    use crate::api::admin::{failed, form_page};
    use crate::api::screen::{respond, ErrorView};
    use crate::context::UiContext;

    pub async fn view(token: String) -> Screen<SetPasswordView> {
        let (csrf, notice) = match form_page().await {
            Ok(found) => found,
            Err(screen) => return screen,
        };
        // A refused form comes back at the form's address: its token is in the form.
        let token = notice
            .form
            .as_ref()
            .and_then(|f| f.iter().find(|(k, _)| k == "token").map(|(_, v)| v.clone()))
            .unwrap_or(token);
        let Some(ctx) = use_context::<UiContext>() else {
            return failed("no UI context");
        };
        let now = crate::api::admin::audit::now_ms();
        let hash = Secret::presented(token.trim()).hash();
        let user = match ctx.store.password_link_user(&hash, now).await {
            Ok(Some(user)) => ctx.store.user_by_id(&user).await,
            Ok(None) => Ok(None),
            Err(e) => return failed(e),
        };
        match user {
            Ok(Some(user)) if !user.disabled => respond(Screen::Show(SetPasswordView {
                csrf,
                token,
                email: user.email,
                min_length: u32::try_from(MIN_PASSWORD_LEN).unwrap_or(12),
                error: notice.error,
            })),
            Ok(_) => respond(Screen::Error(ErrorView::new(
                400,
                "This link does not work",
                "It has been used already, has expired, or a newer link replaced it. Ask your administrator for a new one.",
            ))),
            Err(e) => failed(e),
        }
    }
}
