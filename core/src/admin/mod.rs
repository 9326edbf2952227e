//! Use-cases behind the console and the admin REST API. Each takes the caller's
//! [`AdminAccess`] and refuses what it does not allow, so the console and the API cannot
//! disagree about rights; errors are one enum both map to their own format.

pub mod agents;
pub mod config;
pub mod connections;
pub mod hooks;
pub mod mcp_servers;
pub mod policies;
pub mod sso;
pub mod tenants;
pub mod users;

use crate::access::AdminAccess;
use crate::error::CoreError;
use crate::policy::draft::FieldErrors;

/// Why an admin operation did not happen.
#[derive(Debug)]
pub enum AdminError {
    /// The caller's rights do not cover it.
    Forbidden(&'static str),
    /// Nothing with that id (or nothing the caller may see).
    NotFound(&'static str),
    /// The input is wrong; the message for each field.
    Invalid(FieldErrors),
    /// The store failed.
    Store(CoreError),
}

impl From<CoreError> for AdminError {
    fn from(e: CoreError) -> Self {
        Self::Store(e)
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

/// Policies, MCP servers and agents govern every tenant: project admins only; anyone else
/// gets `refusal`.
fn project_only(access: &AdminAccess, refusal: &'static str) -> AdminResult<()> {
    if access.is_project_admin() {
        Ok(())
    } else {
        Err(AdminError::Forbidden(refusal))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid(FieldErrors::from([(field.to_owned(), message.into())]))
}
