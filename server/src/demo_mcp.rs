//! `mandate demo-mcp`: a small notes MCP server protected by Mandate, to try real MCP clients
//! against. Streamable HTTP (the official Rust SDK, `rmcp`) at `/mcp`, behind
//! [`mandate_guard`]: `list_notes` needs `notes.read`, `create_note` `notes.write`,
//! `share_note` `notes.share`. Its RFC 9728 Protected Resource Metadata names its Mandate
//! issuer. Notes live in memory, per tenant (the token's `tenant` claim).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{Json, Router};
use mandate_guard::{Guard, GuardConfig, GuardLayer, Principal};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Map, Value};
use tower::Layer;

/// The tools and the scope each needs.
pub const TOOL_SCOPES: [(&str, &str); 3] = [
    ("list_notes", "notes.read"),
    ("create_note", "notes.write"),
    ("share_note", "notes.share"),
];

/// Where the demo is reached and who protects it.
#[derive(Debug, Clone)]
pub struct DemoMcpConfig {
    /// The MCP endpoint's public URL: the resource tokens must be for (`aud`).
    pub resource_url: url::Url,
    /// The Mandate issuer of its MCP server entry (`{base}/s/demo-notes`).
    pub issuer: String,
}

impl DemoMcpConfig {
    /// RFC 9728 §3.1: the metadata URL inserts the well-known segment before the resource's
    /// path.
    pub fn resource_metadata_url(&self) -> String {
        let mut url = self.resource_url.clone();
        let path = url.path().trim_start_matches('/').to_owned();
        url.set_path(&format!("/.well-known/oauth-protected-resource/{path}"));
        url.set_query(None);
        url.to_string()
    }
}

#[derive(Debug, Clone)]
struct Note {
    id: u64,
    title: String,
    body: String,
    author: String,
    shared_with: Vec<String>,
}

/// Notes by tenant.
#[derive(Default)]
struct Notebook {
    next_id: u64,
    by_tenant: BTreeMap<String, Vec<Note>>,
}

#[derive(Clone)]
struct NotesServer {
    notebook: Arc<Mutex<Notebook>>,
}

fn schema(properties: Value, required: &[&str]) -> Arc<Map<String, Value>> {
    let value = json!({ "type": "object", "properties": properties, "required": required });
    Arc::new(value.as_object().cloned().unwrap_or_default())
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "list_notes",
            "List the notes in your organization (needs notes.read).",
            schema(json!({}), &[]),
        ),
        Tool::new(
            "create_note",
            "Create a note in your organization (needs notes.write).",
            schema(
                json!({ "title": { "type": "string" }, "body": { "type": "string" } }),
                &["title"],
            ),
        ),
        Tool::new(
            "share_note",
            "Share a note with someone in your organization (needs notes.share).",
            schema(
                json!({ "id": { "type": "integer" }, "with": { "type": "string" } }),
                &["id", "with"],
            ),
        ),
    ]
}

/// The caller the guard let through (the guard put it in the HTTP request, which rmcp hands
/// to the tool).
fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("no authenticated caller", None))
}

fn text_argument(arguments: &Map<String, Value>, name: &str) -> Option<String> {
    arguments
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl NotesServer {
    fn list(&self, tenant: &str) -> Result<String, ErrorData> {
        let notebook = self
            .notebook
            .lock()
            .map_err(|_| ErrorData::internal_error("the notebook is unavailable", None))?;
        let notes = notebook.by_tenant.get(tenant).cloned().unwrap_or_default();
        if notes.is_empty() {
            return Ok("No notes yet.".to_owned());
        }
        Ok(notes
            .iter()
            .map(|n| {
                let shared = if n.shared_with.is_empty() {
                    String::new()
                } else {
                    format!(" (shared with {})", n.shared_with.join(", "))
                };
                format!("#{} {}: {}{shared}", n.id, n.title, n.body)
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn create(&self, tenant: &str, author: &str, title: String, body: String) -> String {
        let Ok(mut notebook) = self.notebook.lock() else {
            return "The notebook is unavailable.".to_owned();
        };
        notebook.next_id += 1;
        let id = notebook.next_id;
        notebook
            .by_tenant
            .entry(tenant.to_owned())
            .or_default()
            .push(Note {
                id,
                title,
                body,
                author: author.to_owned(),
                shared_with: Vec::new(),
            });
        format!("Created note #{id}.")
    }

    fn share(&self, tenant: &str, id: u64, with: String) -> Result<String, ErrorData> {
        let mut notebook = self
            .notebook
            .lock()
            .map_err(|_| ErrorData::internal_error("the notebook is unavailable", None))?;
        let note = notebook
            .by_tenant
            .get_mut(tenant)
            .and_then(|notes| notes.iter_mut().find(|n| n.id == id))
            .ok_or_else(|| ErrorData::invalid_params(format!("no note #{id}"), None))?;
        note.shared_with.push(with.clone());
        Ok(format!(
            "Shared note #{id} ({} by {}) with {with}.",
            note.title, note.author
        ))
    }
}

impl ServerHandler for NotesServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mandate-demo-notes",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Notes for your organization. Protected by Mandate.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = principal(&context)?;
        // Scopes were checked by the guard before the call reached here; the tenant scopes
        // the data.
        let tenant = caller
            .tenant
            .clone()
            .unwrap_or_else(|| caller.subject.clone());
        let arguments = request.arguments.unwrap_or_default();
        let text = match request.name.as_ref() {
            "list_notes" => self.list(&tenant)?,
            "create_note" => {
                let title = text_argument(&arguments, "title")
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| ErrorData::invalid_params("title is required", None))?;
                let body = text_argument(&arguments, "body").unwrap_or_default();
                self.create(&tenant, &caller.subject, title, body)
            }
            "share_note" => {
                let id = arguments
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| ErrorData::invalid_params("id is required", None))?;
                let with = text_argument(&arguments, "with")
                    .ok_or_else(|| ErrorData::invalid_params("with is required", None))?;
                self.share(&tenant, id, with)?
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named {other}"),
                    None,
                ))
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// The demo's whole HTTP application.
pub fn router(config: &DemoMcpConfig) -> Router {
    let metadata_url = config.resource_metadata_url();
    // Agents start with reading and step up when a tool needs more.
    let mut guard_config = GuardConfig::new(
        config.issuer.clone(),
        config.resource_url.to_string(),
        metadata_url,
    )
    .initial_scope("notes.read");
    for (tool, scope) in TOOL_SCOPES {
        guard_config = guard_config.tool_scope(tool, scope);
    }
    let guard = Guard::new(guard_config);
    let notebook = Arc::new(Mutex::new(Notebook::default()));
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = config.resource_url.host_str() {
        hosts.push(host.to_owned());
    }
    let mcp = StreamableHttpService::new(
        move || {
            Ok(NotesServer {
                notebook: notebook.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts(hosts),
    );
    let document = json!({
        "resource": config.resource_url.to_string(),
        "authorization_servers": [config.issuer],
        "scopes_supported": TOOL_SCOPES.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Mandate demo notes",
    });
    let metadata = get(move || {
        let document = document.clone();
        async move { Json(document) }
    });
    let path = config.resource_url.path().to_owned();
    Router::new()
        .route(
            &format!("/.well-known/oauth-protected-resource{path}"),
            metadata.clone(),
        )
        .route("/.well-known/oauth-protected-resource", metadata)
        .route_service(&path, GuardLayer::new(guard).layer(mcp))
}

/// Serves the demo on `bind` until the process is stopped.
pub async fn serve(bind: std::net::SocketAddr, config: DemoMcpConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(
        %bind,
        resource = %config.resource_url,
        issuer = %config.issuer,
        "demo MCP server listening"
    );
    axum::serve(listener, router(&config)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_inserts_the_well_known_segment_before_the_path() {
        let config = DemoMcpConfig {
            resource_url: url::Url::parse("http://localhost:4000/mcp").expect("url"),
            issuer: "http://localhost:3000/s/demo-notes".into(),
        };
        assert_eq!(
            config.resource_metadata_url(),
            "http://localhost:4000/.well-known/oauth-protected-resource/mcp"
        );
    }
}
