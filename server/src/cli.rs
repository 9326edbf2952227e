//! The `mandate` command line.

use clap::{Parser, Subcommand};
use mandate_core::bootstrap::{create_admin, NewAdmin};
use mandate_core::seed::{
    seed_demo_with_password, DEMO_AGENT_ID, DEMO_RESOURCE_URL, DEMO_SERVER_SLUG,
};
use mandate_core::{Clock, CoreError, SystemClock};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::master_key::KeyOrigin;
use crate::startup::{self, StartupError};

#[derive(Debug, Parser)]
#[command(
    name = "mandate",
    version,
    about = "Mandate: the authorization hub for AI agents and MCP servers"
)]
struct Cli {
    /// A TOML configuration file (also MANDATE_CONFIG); environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default): migrates, seeds the first admin on an empty database.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage people who approve agents.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Load sample data.
    Seed {
        #[command(subcommand)]
        command: SeedCommand,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Export or apply the declarative configuration (TOML): tenants, MCP servers with their
    /// scopes, policies and admin-made agents.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the demo notes MCP server, protected by this Mandate.
    DemoMcp {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4000")]
        bind: std::net::SocketAddr,
        /// The MCP endpoint's public URL (the audience its tokens must name).
        #[arg(long, default_value = DEMO_RESOURCE_URL)]
        resource_url: url::Url,
        /// The Mandate issuer that protects it (default: this Mandate's public URL +
        /// /s/demo-notes).
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a project admin and print a one-time password.
    Create {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a person to one or more tenants; prints the password once when it is generated.
    Add {
        #[arg(long)]
        email: String,
        /// A tenant slug; repeat for several tenants.
        #[arg(long = "tenant", required = true)]
        tenants: Vec<String>,
        /// A role in those tenants (policies match `user.roles`); repeat for several.
        #[arg(long = "role", default_value = "member")]
        roles: Vec<String>,
        /// The password; random (and printed once) if not given.
        #[arg(long, env = "MANDATE_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and name the first event that does not hold (exit 1).
    Verify {
        /// First sequence number to check (default: the start of the chain).
        #[arg(long)]
        from: Option<i64>,
        /// Last sequence number to check (default: the end of the chain).
        #[arg(long)]
        to: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the stored configuration as TOML (secrets are never exported).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Show what a TOML document changes, then make the changes (idempotent; things it does
    /// not name are left alone).
    Apply {
        file: std::path::PathBuf,
        /// Only show the changes.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new ES256 key the signing key; the old one stays published for verification.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// Two tenants, a user in both, the "demo-notes" MCP server and a public agent.
    Demo {
        /// The resource URL of the demo MCP server.
        #[arg(long, default_value = DEMO_RESOURCE_URL)]
        resource_url: String,
        /// The demo user's password (when this run creates the user); random if not given.
        #[arg(long, env = "MANDATE_DEMO_PASSWORD", hide_env_values = true)]
        user_password: Option<String>,
    },
}

/// The scheduler for a process that may run on `cpus` processors (its affinity and cgroup
/// quota counted). On one, a single-threaded scheduler: a multi-threaded one would still have
/// one worker, and pay for the machinery that lets workers steal tasks and wake each other on
/// every wake-up from another thread (each SQLite query's answer comes from the connection's
/// own thread). Measured on one pinned core: client_credentials +13 %, introspection +8–19 %,
/// refresh and JWKS level. Blocking work (password hashing) still goes to the blocking pool.
fn runtime_builder(cpus: usize) -> tokio::runtime::Builder {
    if cpus <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// Parses the command line, loads the configuration and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mandate: {e}");
            return ExitCode::from(2);
        }
    };
    // A command whose standard output is its result keeps the logs out of it.
    let output_is_result = matches!(cli.command, Some(Command::Config { .. }));
    crate::telemetry::init_to(&config, output_is_result);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let runtime = match runtime_builder(cpus).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mandate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Admin {
                command: AdminCommand::Create { email },
            } => admin_create(config, &email).await,
            Command::Seed {
                command:
                    SeedCommand::Demo {
                        resource_url,
                        user_password,
                    },
            } => seed(config, &resource_url, user_password).await,
            Command::Keys {
                command: KeysCommand::Rotate,
            } => rotate_keys(config).await,
            Command::User {
                command:
                    UserCommand::Add {
                        email,
                        tenants,
                        roles,
                        password,
                    },
            } => user_add(config, &email, &tenants, &roles, password).await,
            Command::Audit {
                command: AuditCommand::Verify { from, to },
            } => audit_verify(config, from, to).await,
            Command::Config {
                command: ConfigCommand::Export { output },
            } => crate::config_cli::export(config, output).await,
            Command::Config {
                command: ConfigCommand::Apply { file, dry_run },
            } => crate::config_cli::apply(config, &file, dry_run).await,
            Command::DemoMcp {
                bind,
                resource_url,
                issuer,
            } => {
                let issuer =
                    issuer.unwrap_or_else(|| format!("{}/s/{DEMO_SERVER_SLUG}", config.public_url));
                let demo = crate::demo_mcp::DemoMcpConfig {
                    resource_url,
                    issuer,
                };
                crate::demo_mcp::serve(bind, demo)
                    .await
                    .map_err(|e| StartupError::Runtime(format!("demo MCP server: {e}")))
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("mandate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn serve(config: Config) -> Result<(), StartupError> {
    let listener = startup::bind(&config).await?;
    let public_url = config.public_url.clone();
    let prepared = startup::prepare(config).await?;
    log_store_ready(&prepared.migrations, &prepared.key_origin);
    if let Some(admin) = &prepared.first_admin {
        print_new_admin("First admin created", admin, &public_url);
    }
    // Install the signal handlers before announcing that we listen.
    let shutdown = startup::shutdown_signal();
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(address = %local, public_url = %public_url, "Mandate is listening");
    let served = startup::serve(prepared, listener, shutdown).await;
    tracing::info!("stopped");
    // Buffered traces leave before the process does (the exporter blocks: off the runtime).
    let _ = tokio::task::spawn_blocking(crate::telemetry::flush).await;
    served
}

async fn migrate(config: Config) -> Result<(), StartupError> {
    let (store, report, _, origin) = startup::open_store(&config).await?;
    log_store_ready(&report, &origin);
    println!(
        "Applied {} migration(s); the database has {} of {}.",
        report.applied.len(),
        report.total,
        report.total
    );
    store.close().await;
    Ok(())
}

async fn admin_create(config: Config, email: &str) -> Result<(), StartupError> {
    let public_url = config.public_url.clone();
    let (store, _, _, _) = startup::open_store(&config).await?;
    let hasher = startup::password_hasher();
    let admin = create_admin(&store, &hasher, email, SystemClock.now_ms())
        .await
        .map_err(|e| match e {
            CoreError::AlreadyExists { .. } => {
                StartupError::Runtime(format!("a user with the email {email} already exists"))
            }
            CoreError::Invalid(why) => StartupError::Runtime(why),
            other => StartupError::Runtime(format!("cannot create the admin: {other}")),
        })?;
    print_new_admin("Admin created", &admin, &public_url);
    store.close().await;
    Ok(())
}

async fn user_add(
    config: Config,
    email: &str,
    tenants: &[String],
    roles: &[String],
    password: Option<String>,
) -> Result<(), StartupError> {
    let (store, _, _, _) = startup::open_store(&config).await?;
    let hasher = startup::password_hasher();
    let generated = password.is_none();
    let (user, password) = mandate_core::bootstrap::create_member(
        &store,
        &hasher,
        email,
        password,
        tenants,
        roles,
        SystemClock.now_ms(),
    )
    .await
    .map_err(|e| match e {
        CoreError::AlreadyExists { .. } => {
            StartupError::Runtime(format!("a user with the email {email} already exists"))
        }
        CoreError::Invalid(why) => StartupError::Runtime(why),
        other => StartupError::Runtime(format!("cannot add the user: {other}")),
    })?;
    println!("User added: {} in {}", user.email, tenants.join(", "));
    if generated {
        println!("  password: {password}  (shown once)");
    }
    store.close().await;
    Ok(())
}

async fn seed(
    config: Config,
    resource_url: &str,
    user_password: Option<String>,
) -> Result<(), StartupError> {
    let public_url = config.public_url.clone();
    let (store, _, _, _) = startup::open_store(&config).await?;
    let hasher = startup::password_hasher();
    let report = seed_demo_with_password(
        &store,
        &hasher,
        resource_url,
        user_password,
        SystemClock.now_ms(),
    )
    .await
    .map_err(|e| StartupError::Runtime(format!("cannot seed the demo: {e}")))?;
    println!("Demo data for Mandate:");
    println!(
        "  tenants:     acme (Acme Corp), globex (Globex){}",
        created_note(!report.tenants_created.is_empty())
    );
    match &report.user_password {
        Some(password) => println!("  user:        demo@example.com / {password}  (shown once)"),
        None => println!("  user:        demo@example.com (exists; password unchanged)"),
    }
    println!(
        "  MCP server:  {DEMO_SERVER_SLUG} at {resource_url}, issuer {public_url}/s/{DEMO_SERVER_SLUG}{}",
        created_note(report.server_created)
    );
    println!(
        "  agent:       {DEMO_AGENT_ID} (public, PKCE, loopback redirects){}",
        created_note(report.agent_created)
    );
    store.close().await;
    Ok(())
}

async fn audit_verify(
    config: Config,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(), StartupError> {
    let (store, _, _, _) = startup::open_store(&config).await?;
    let report = mandate_core::audit::verify::verify_chain(&store, from, to)
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot read the audit trail: {e}")));
    store.close().await;
    let report = report?;
    let range = match (report.first_seq, report.last_seq) {
        (Some(first), Some(last)) => format!(" (seq {first}..{last})"),
        _ => String::new(),
    };
    match report.broken {
        None => {
            println!(
                "Audit chain intact: {} events checked{range}.",
                report.checked
            );
            Ok(())
        }
        Some(link) => Err(StartupError::Runtime(format!(
            "audit chain broken at event seq {} (id {}): {}; {} events before it hold{range}",
            link.seq, link.id, link.reason, report.checked
        ))),
    }
}

async fn rotate_keys(config: Config) -> Result<(), StartupError> {
    let (store, _, master, _) = startup::open_store(&config).await?;
    let now = SystemClock.now_ms();
    // Make sure a first key exists, so rotation always leaves the previous one published.
    mandate_core::oauth::keyring::load_or_create(&store, &master, now)
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot load the signing keys: {e}")))?;
    let kid = mandate_core::oauth::keyring::rotate(&store, &master, now)
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot rotate the signing keys: {e}")))?;
    let audit =
        mandate_core::audit::AuditLog::spawn(store.clone(), std::sync::Arc::new(SystemClock));
    audit
        .record(
            mandate_core::audit::AuditEvent::new(
                mandate_core::audit::EventType::KeysRotated,
                mandate_core::audit::Outcome::Success,
                mandate_core::audit::ActorKind::System,
            )
            .with("kid", &kid),
        )
        .await
        .map_err(|e| StartupError::Runtime(format!("cannot record the rotation: {e}")))?;
    println!("New signing key {kid} is active; the previous key stays published until its tokens expire.");
    println!("Running servers switch to it within 30 seconds.");
    store.close().await;
    Ok(())
}

fn created_note(created: bool) -> &'static str {
    if created {
        ""
    } else {
        "  [already there]"
    }
}

fn log_store_ready(report: &mandate_core::store::MigrationReport, origin: &KeyOrigin) {
    if report.applied.is_empty() {
        tracing::info!(migrations = report.total, "database is up to date");
    } else {
        tracing::info!(applied = ?report.applied, total = report.total, "applied database migrations");
    }
    if let KeyOrigin::Generated(path) = origin {
        tracing::warn!(
            path = %path.display(),
            "generated a new master key; in production supply MANDATE_MASTER_KEY or \
             MANDATE_MASTER_KEY_FILE and back it up apart from the database"
        );
    }
}

/// Prints a new admin's one-time password on the console (never into the logs).
fn print_new_admin(title: &str, admin: &NewAdmin, public_url: &str) {
    println!();
    println!("  {title}");
    println!("    email:     {}", admin.user.email);
    println!(
        "    password:  {}  (one-time: you will choose a new one at first sign-in)",
        admin.one_time_password
    );
    println!("    sign in:   {public_url}/sign-in");
    println!();
}

#[cfg(test)]
mod tests {
    use super::runtime_builder;
    use tokio::runtime::RuntimeFlavor;

    #[test]
    fn one_processor_gets_the_single_threaded_scheduler_and_more_get_workers() {
        for (cpus, flavor) in [
            (0, RuntimeFlavor::CurrentThread),
            (1, RuntimeFlavor::CurrentThread),
            (2, RuntimeFlavor::MultiThread),
            (8, RuntimeFlavor::MultiThread),
        ] {
            let runtime = runtime_builder(cpus).enable_all().build().expect("runtime");
            let (seen, hashed) = runtime.block_on(async {
                let seen = tokio::runtime::Handle::current().runtime_flavor();
                // Spawned tasks, timers and the blocking pool (password hashing) all run.
                let task = tokio::spawn(async {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    tokio::task::spawn_blocking(|| 6 * 7).await
                });
                (seen, task.await.expect("task").expect("blocking"))
            });
            assert_eq!((seen, hashed), (flavor, 42), "{cpus} processors");
        }
    }
}
