//! The admin API's OpenAPI 3.1 document, `GET /api/v1/openapi.json`: generated from the
//! handlers' annotations and the core types' schemas, so it cannot drift from what is served.
//! Public (it describes the API, it opens nothing); every operation needs an admin API key.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{agents, audit, connections, hooks, mcp_servers, people, policies, sso};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mandate admin API",
        description = "Manage MCP servers, agents and policies as code, and read the audit trail. \
                       Authenticate with an admin API key created on the console's API keys page: \
                       `Authorization: Bearer mdt_ak_…`. Read-only keys may call GETs and the \
                       simulator.",
        version = "1"
    ),
    paths(
        mcp_servers::list, mcp_servers::read, mcp_servers::create, mcp_servers::update,
        mcp_servers::delete,
        hooks::list, hooks::create, hooks::delete,
        agents::list, agents::read, agents::create, agents::update, agents::rotate_secret,
        agents::delete,
        policies::list, policies::create, policies::delete, policies::simulate,
        audit::events, audit::export,
        people::list_tenants, people::create_tenant, people::read_tenant, people::update_tenant,
        people::approvals, people::decide,
        sso::read, sso::put, sso::remove,
        connections::list_providers, connections::create_provider, connections::read_provider,
        connections::update_provider, connections::delete_provider, connections::put_shared,
        connections::delete_shared, connections::list_policies, connections::create_policy,
        connections::update_policy, connections::delete_policy, connections::read_agent,
        connections::put_agent,
        people::list_users, people::invite, people::read_user, people::update_user,
        people::password_link, people::reset_mfa, people::set_membership,
        people::remove_membership,
    ),
    modifiers(&ApiKeyAuth, &UnreadableRequests),
    tags(
        (name = "MCP servers", description = "The MCP servers Mandate issues tokens for, and their scopes"),
        (name = "Agents", description = "OAuth clients: manual, self-registered (DCR) and CIMD"),
        (name = "Policies", description = "Which scopes whom may be granted, and the simulator"),
        (name = "Audit", description = "The hash-chained audit trail"),
        (name = "Tenants and people", description = "Tenants, their decisions about agents, people and memberships"),
        (name = "Connections", description = "The token vault: connection providers, connections policies, agents' vault settings"),
    )
)]
pub struct AdminApiDoc;

/// Declares the bearer scheme the operations' `security` names.
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin API key (mdt_ak_…)"))
                    .build(),
            ),
        );
    }
}

/// Documents on every operation the `400 bad_request` any request can get: a URL that cannot
/// be read as text is refused before any handler runs (`middleware::unreadable_request`),
/// whatever the operation's own annotation lists.
struct UnreadableRequests;

impl Modify for UnreadableRequests {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bad_request = || {
            ResponseBuilder::new()
                .description("The request cannot be read")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("400".to_owned())
                    .or_insert_with(|| bad_request().into());
            }
        }
    }
}

pub async fn document() -> Response {
    let json = AdminApiDoc::openapi().to_pretty_json().unwrap_or_default();
    let mut response = json.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
