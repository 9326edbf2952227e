//! Structured logs through `tracing`: pretty (coloured in a terminal) or JSON lines.
//! Rule (STYLE.md §14): one event per request at the boundary; never a secret, token,
//! password, code or cookie in any field.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG` wins over `MANDATE_LOG` when set.
/// Safe to call more than once (later calls are no-ops), which tests rely on.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
}
