//! Names for the ids in a page of events: an operator reads "Ada (ada@example.com) let
//! Claude Desktop act in Acme", not four UUIDs. One query per kind of id, for the whole page.

use std::collections::{BTreeSet, HashMap};

use super::query::StoredEvent;
use crate::error::CoreResult;
use crate::store::Store;

/// Readable names by id. An id with no entry (a deleted agent) is shown as the id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub agents: HashMap<String, String>,
    pub users: HashMap<String, String>,
    pub tenants: HashMap<String, String>,
    pub mcp_servers: HashMap<String, String>,
}

/// Looks up `ids` in `table`: `id → label`.
async fn names(
    store: &Store,
    table: &str,
    label: &str,
    ids: BTreeSet<&str>,
) -> CoreResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, {label} FROM {table} WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(store.pool()).await?.into_iter().collect())
}

/// The names of every agent, user, tenant and MCP server that `events` mention.
pub async fn labels_for(store: &Store, events: &[StoredEvent]) -> CoreResult<Labels> {
    let collect = |pick: fn(&StoredEvent) -> Option<&str>| -> BTreeSet<&str> {
        events.iter().filter_map(pick).collect()
    };
    Ok(Labels {
        agents: names(store, "agents", "name", collect(|e| e.agent_id.as_deref())).await?,
        users: names(store, "users", "email", collect(|e| e.user_id.as_deref())).await?,
        tenants: names(
            store,
            "tenants",
            "name",
            collect(|e| e.tenant_id.as_deref()),
        )
        .await?,
        mcp_servers: names(
            store,
            "mcp_servers",
            "name",
            collect(|e| e.mcp_server_id.as_deref()),
        )
        .await?,
    })
}

/// The names of these ids of one kind (a dashboard's top table).
pub async fn agent_names(store: &Store, ids: &[String]) -> CoreResult<HashMap<String, String>> {
    names(
        store,
        "agents",
        "name",
        ids.iter().map(String::as_str).collect(),
    )
    .await
}

pub async fn mcp_server_names(
    store: &Store,
    ids: &[String],
) -> CoreResult<HashMap<String, String>> {
    names(
        store,
        "mcp_servers",
        "name",
        ids.iter().map(String::as_str).collect(),
    )
    .await
}
