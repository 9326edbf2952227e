//! The errors `core` returns outside the OAuth protocol (whose errors live in `oauth::error`).

use thiserror::Error;

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, Error)]
pub enum CoreError {
    /// A unique constraint refused the change (e.g. an email or slug already taken).
    #[error("{what} already exists")]
    AlreadyExists { what: &'static str },
    /// The row asked for does not exist.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// Input that breaks a domain rule; the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The master key does not decrypt what this database holds.
    #[error("the master key does not match the one this database was set up with")]
    MasterKeyMismatch,
    /// Encryption or decryption failed for a reason other than a wrong key.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The database failed; the detail is for logs, never for users.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A JSON column held something we cannot read.
    #[error("corrupt stored JSON: {0}")]
    CorruptJson(#[from] serde_json::Error),
}
