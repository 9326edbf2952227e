//! `mandate config export` and `mandate config apply FILE [--dry-run]`: the deployment's
//! tenants, MCP servers, policies and admin-made agents as a TOML document
//! (`mandate_core::admin::config`). Apply prints every change first; each change it makes is an
//! `admin.changed` event by the system, with before / after.

use std::path::{Path, PathBuf};

use mandate_core::access::AdminAccess;
use mandate_core::admin::config::{self, ChangeKind};
use mandate_core::admin::AdminError;
use mandate_core::audit::{ActorKind, AuditEvent, AuditLog, EventType, Outcome};
use mandate_core::clock::{Clock, SystemClock};
use mandate_core::ids::UserId;

use crate::config::Config;
use crate::startup::{self, StartupError};

fn runtime_error(what: &str, e: impl std::fmt::Display) -> StartupError {
    StartupError::Runtime(format!("{what}: {e}"))
}

pub async fn export(config: Config, output: Option<PathBuf>) -> Result<(), StartupError> {
    let (store, _, _, _) = startup::open_store(&config).await?;
    let file = config::export(&store)
        .await
        .map_err(|e| runtime_error("cannot read the configuration", e))?;
    store.close().await;
    let text = config::render(&file).map_err(|e| runtime_error("cannot write TOML", e))?;
    let header =
        "# Mandate configuration: `mandate config apply` this file (secrets are not included).\n";
    match output {
        Some(path) => std::fs::write(&path, format!("{header}{text}"))
            .map_err(|e| runtime_error(&format!("cannot write {}", path.display()), e))?,
        None => print!("{header}{text}"),
    }
    Ok(())
}

pub async fn apply(config: Config, path: &Path, dry_run: bool) -> Result<(), StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| runtime_error(&format!("cannot read {}", path.display()), e))?;
    let desired = config::parse(&text).map_err(|e| {
        runtime_error(
            &format!("{} is not a valid configuration", path.display()),
            e,
        )
    })?;
    let (store, _, _, _) = startup::open_store(&config).await?;
    // The command line acts with the database's own rights: a project admin's.
    let access = AdminAccess::Project {
        user: UserId::from_string("cli"),
    };
    let now = SystemClock.now_ms();
    let applied = config::apply(&store, &access, &desired, dry_run, now)
        .await
        .map_err(|e| match e {
            AdminError::Invalid(fields) => {
                StartupError::Runtime(fields.into_values().collect::<Vec<_>>().join("; "))
            }
            AdminError::Store(e) => runtime_error("the database failed", e),
            AdminError::Forbidden(m) | AdminError::NotFound(m) => StartupError::Runtime(m.into()),
        })?;
    for change in &applied.plan.changes {
        println!("{change}");
    }
    if !applied.plan.errors.is_empty() {
        for error in &applied.plan.errors {
            eprintln!("error: {error}");
        }
        store.close().await;
        return Err(StartupError::Runtime(format!(
            "{} is not applied: {} error(s)",
            path.display(),
            applied.plan.errors.len()
        )));
    }
    let pending = applied
        .plan
        .changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Unchanged)
        .count();
    if dry_run {
        println!("Dry run: {pending} change(s) would be made; nothing changed.");
    } else if pending == 0 {
        println!("Nothing to change.");
    } else {
        let audit = AuditLog::spawn(store.clone(), std::sync::Arc::new(SystemClock));
        for (action, before, after) in &applied.records {
            let event =
                AuditEvent::new(EventType::AdminChanged, Outcome::Success, ActorKind::System)
                    .with("action", action)
                    .with("source", "config apply")
                    .with("before", before)
                    .with("after", after);
            audit
                .record(event)
                .await
                .map_err(|e| runtime_error("cannot record the change", e))?;
        }
        println!("Applied {pending} change(s).");
        for (client_id, secret) in &applied.secrets {
            println!(
                "  agent {client_id}: client secret {}  (shown once)",
                secret.expose()
            );
        }
    }
    store.close().await;
    Ok(())
}
