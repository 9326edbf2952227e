//! The API keys page's facts: every key (never the key itself), and a new key's secret in the
//! one response that creates it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminHeader;
use crate::api::screen::Screen;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub scope: String,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeysView {
    pub header: AdminHeader,
    pub csrf: String,
    /// Whether the caller may make keys (every admin: a key acts with its creator's rights).
    pub may_manage: bool,
    pub keys: Vec<ApiKeyRow>,
    /// The key just created, shown this once.
    pub new_secret: Option<String>,
    pub error: Option<String>,
    pub info: Option<String>,
}

#[server(endpoint = "api_keys_screen")]
pub async fn api_keys_screen() -> Result<Screen<ApiKeysView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    let (csrf, notice) = match super::form_page().await {
        Ok(found) => found,
        Err(screen) => return Ok(screen),
    };
    // Every admin makes keys with their own rights; a tenant admin sees only theirs.
    let may_manage = true;
    let keys: Vec<_> = match admin.ctx.store.list_api_keys().await {
        Ok(keys) => keys
            .into_iter()
            .filter(|k| admin.access.is_project_admin() || &k.created_by == admin.access.user())
            .collect(),
        Err(e) => return Ok(super::failed(e)),
    };
    let when = |ms: Option<i64>| ms.map(super::time_text::utc);
    Ok(crate::api::screen::respond(Screen::Show(ApiKeysView {
        header: admin.header,
        csrf,
        may_manage,
        keys: keys
            .into_iter()
            .map(|k| ApiKeyRow {
                id: k.id,
                name: k.name,
                hint: k.hint,
                scope: k.scope.as_str().to_owned(),
                created: super::time_text::utc(k.created_at),
                last_used: when(k.last_used_at).unwrap_or_else(|| "never".into()),
                revoked: when(k.revoked_at),
            })
            .collect(),
        new_secret: notice.secret,
        error: notice.error,
        info: notice.info,
    })))
}
