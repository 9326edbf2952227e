//! Configuration: defaults → optional TOML file (`--config` / `MANDATE_CONFIG`) → `MANDATE_*`
//! environment variables. Loaded once into [`Config`] and passed by value; nothing global.
//! An invalid value stops start-up with a [`ConfigError`] that names the setting.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;
use url::Url;

/// A setting that cannot be used, named as the operator wrote it.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable; coloured when writing to a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `MANDATE_MASTER_KEY`: the base64 key itself.
    Inline(String),
    /// `MANDATE_MASTER_KEY_FILE`: a file holding it.
    File(PathBuf),
    /// Neither: `{data_dir}/master.key`, generated on first start.
    DataDir,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// The public base URL, without a trailing slash.
    pub public_url: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub master_key: MasterKeySource,
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `mandate_server=debug,info`.
    pub log_filter: String,
    pub metrics_bind: Option<SocketAddr>,
    /// Folder holding the built front-end (`pkg/mandate.js`, `.wasm`, `.css`).
    pub site_root: PathBuf,
    /// Test-only: let CIMD documents be fetched from loopback addresses. Off by default.
    pub cimd_allow_loopback: bool,
    /// Test-only: an extra CA certificate (PEM) trusted for CIMD fetches. Off by default.
    pub cimd_extra_ca_file: Option<PathBuf>,
    /// Which addresses the integrations admins configure (issuance hooks, tenants' identity
    /// providers) may be called at besides public ones (`MANDATE_INTEGRATIONS_NETWORK`:
    /// `public`, the default; `private` adds private networks; `loopback` adds loopback and
    /// plain http to it, for tests).
    pub integrations_network: crate::outbound::AddressPolicy,
    /// Audit events older than this many days are pruned (0: kept forever).
    pub audit_retention_days: u32,
    /// An active introspection's answer to the caller that already had the same token's
    /// answer recorded within this many seconds is counted, not recorded (0: every one is).
    pub audit_introspection_window_secs: u32,
    /// How often the token vault refreshes connections about to expire (seconds).
    pub vault_refresh_secs: u64,
    /// Where every audit event is also sent (a SIEM), if anywhere.
    pub audit_forward: Option<ForwardTarget>,
    /// Signs webhook deliveries (HMAC-SHA256), when set.
    pub audit_forward_secret: Option<String>,
    /// Where traces go over OTLP/HTTP (e.g. `http://collector:4318/v1/traces`); needs a build
    /// with the `otlp` feature.
    pub otlp_endpoint: Option<url::Url>,
    /// Warnings to log once logging is up (unknown variables, insecure choices).
    pub warnings: Vec<String>,
}

/// The optional TOML file; every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    public_url: Option<String>,
    database_url: Option<String>,
    data_dir: Option<String>,
    master_key: Option<String>,
    master_key_file: Option<String>,
    log_format: Option<String>,
    log: Option<String>,
    metrics_bind: Option<String>,
    site_root: Option<String>,
    cimd_allow_loopback: Option<bool>,
    cimd_extra_ca_file: Option<String>,
    integrations_network: Option<String>,
    audit_retention_days: Option<u32>,
    audit_introspection_window_secs: Option<u32>,
    vault_refresh_secs: Option<u64>,
    audit_forward: Option<String>,
    audit_forward_secret: Option<String>,
    otlp_endpoint: Option<String>,
}

/// Every `MANDATE_*` variable Mandate reads; others are warned about.
pub const KNOWN_VARIABLES: &[&str] = &[
    "MANDATE_CONFIG",
    "MANDATE_BIND",
    "MANDATE_PUBLIC_URL",
    "MANDATE_DATABASE_URL",
    "MANDATE_DATA_DIR",
    "MANDATE_MASTER_KEY",
    "MANDATE_MASTER_KEY_FILE",
    "MANDATE_LOG_FORMAT",
    "MANDATE_LOG",
    "MANDATE_METRICS_BIND",
    "MANDATE_SITE_ROOT",
    "MANDATE_CIMD_ALLOW_LOOPBACK",
    "MANDATE_CIMD_EXTRA_CA_FILE",
    "MANDATE_INTEGRATIONS_NETWORK",
    "MANDATE_AUDIT_RETENTION_DAYS",
    "MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS",
    "MANDATE_VAULT_REFRESH_SECS",
    "MANDATE_AUDIT_FORWARD",
    "MANDATE_AUDIT_FORWARD_SECRET",
    "MANDATE_OTLP_ENDPOINT",
    // read by `mandate seed demo`, `mandate user add` and the test suites, not by the server
    "MANDATE_DEMO_PASSWORD",
    "MANDATE_USER_PASSWORD",
    "MANDATE_TEST_POSTGRES_URL",
];

/// One raw value and the name of the setting it came from, for error messages.
struct Raw {
    value: String,
    setting: String,
}

impl Config {
    /// Loads from the process environment and the file it names (or `file`, if given).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("MANDATE_"))
            .collect();
        Self::from_sources(file, &env)
    }

    /// Loads from an explicit environment map (tests use this; no process state is read
    /// except the named file).
    pub fn from_sources(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut warnings: Vec<String> = env
            .keys()
            .filter(|k| k.starts_with("MANDATE_") && !KNOWN_VARIABLES.contains(&k.as_str()))
            .map(|k| format!("unknown environment variable {k} is ignored"))
            .collect();

        let file_path = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("MANDATE_CONFIG").map(PathBuf::from));
        let file_config = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let file_setting = |key: &str| match &file_path {
            Some(p) => format!("{key} in {}", p.display()),
            None => key.to_owned(),
        };
        let pick = |var: &str, key: &str, from_file: &Option<String>| -> Option<Raw> {
            env.get(var)
                .map(|v| Raw {
                    value: v.clone(),
                    setting: var.to_owned(),
                })
                .or_else(|| {
                    from_file.as_ref().map(|v| Raw {
                        value: v.clone(),
                        setting: file_setting(key),
                    })
                })
        };

        let bind = match pick("MANDATE_BIND", "bind", &file_config.bind) {
            Some(raw) => parse_socket_addr(&raw)?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let public_url = match pick("MANDATE_PUBLIC_URL", "public_url", &file_config.public_url) {
            Some(raw) => parse_public_url(&raw, &mut warnings)?,
            None => "http://localhost:3000".to_owned(),
        };
        let data_dir = pick("MANDATE_DATA_DIR", "data_dir", &file_config.data_dir)
            .map(|raw| non_empty(raw).map(PathBuf::from))
            .transpose()?
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = match pick(
            "MANDATE_DATABASE_URL",
            "database_url",
            &file_config.database_url,
        ) {
            Some(raw) => parse_database_url(raw)?,
            None => format!("sqlite://{}", data_dir.join("mandate.db").display()),
        };
        let master_key = match (
            pick("MANDATE_MASTER_KEY", "master_key", &file_config.master_key),
            pick(
                "MANDATE_MASTER_KEY_FILE",
                "master_key_file",
                &file_config.master_key_file,
            ),
        ) {
            (Some(inline), Some(file)) => {
                return Err(ConfigError::new(
                    format!("{} / {}", inline.setting, file.setting),
                    "set the master key or the file that holds it, not both",
                ))
            }
            (Some(inline), None) => MasterKeySource::Inline(non_empty(inline)?),
            (None, Some(file)) => MasterKeySource::File(PathBuf::from(non_empty(file)?)),
            (None, None) => MasterKeySource::DataDir,
        };
        let log_format = match pick("MANDATE_LOG_FORMAT", "log_format", &file_config.log_format) {
            Some(raw) => match raw.value.trim() {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        raw.setting,
                        format!("{other:?} is not a log format: use pretty or json"),
                    ))
                }
            },
            None => LogFormat::Pretty,
        };
        let log_filter = pick("MANDATE_LOG", "log", &file_config.log)
            .map(non_empty)
            .transpose()?
            .unwrap_or_else(|| "info".to_owned());
        let metrics_bind = pick(
            "MANDATE_METRICS_BIND",
            "metrics_bind",
            &file_config.metrics_bind,
        )
        .map(|raw| parse_socket_addr(&raw))
        .transpose()?;
        let site_root = pick("MANDATE_SITE_ROOT", "site_root", &file_config.site_root)
            .map(|raw| non_empty(raw).map(PathBuf::from))
            .transpose()?
            .unwrap_or_else(|| PathBuf::from("target/site"));

        let cimd_allow_loopback = match env.get("MANDATE_CIMD_ALLOW_LOOPBACK") {
            Some(v) => parse_bool(&Raw {
                value: v.clone(),
                setting: "MANDATE_CIMD_ALLOW_LOOPBACK".into(),
            })?,
            None => file_config.cimd_allow_loopback.unwrap_or(false),
        };
        let cimd_extra_ca_file = pick(
            "MANDATE_CIMD_EXTRA_CA_FILE",
            "cimd_extra_ca_file",
            &file_config.cimd_extra_ca_file,
        )
        .map(|raw| non_empty(raw).map(PathBuf::from))
        .transpose()?;
        let integrations_network = match pick(
            "MANDATE_INTEGRATIONS_NETWORK",
            "integrations_network",
            &file_config.integrations_network,
        ) {
            Some(raw) => parse_integrations_network(&raw)?,
            None => crate::outbound::AddressPolicy::default(),
        };
        if integrations_network.loopback {
            warnings.push("MANDATE_INTEGRATIONS_NETWORK is loopback: issuance hooks and tenants' identity providers may be called on loopback addresses over plain http. This is for tests only; never enable it in production".into());
        }
        let audit_retention_days = match env.get("MANDATE_AUDIT_RETENTION_DAYS") {
            Some(v) => parse_days(&Raw {
                value: v.clone(),
                setting: "MANDATE_AUDIT_RETENTION_DAYS".into(),
            })?,
            None => file_config.audit_retention_days.unwrap_or(365),
        };
        let audit_introspection_window_secs =
            match env.get("MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS") {
                Some(v) => parse_window_secs(&Raw {
                    value: v.clone(),
                    setting: "MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS".into(),
                })?,
                None => match file_config.audit_introspection_window_secs {
                    Some(secs) => parse_window_secs(&Raw {
                        value: secs.to_string(),
                        setting: "audit_introspection_window_secs".into(),
                    })?,
                    None => 60,
                },
            };
        let vault_refresh_secs = match env.get("MANDATE_VAULT_REFRESH_SECS") {
            Some(v) => parse_refresh_secs(&Raw {
                value: v.clone(),
                setting: "MANDATE_VAULT_REFRESH_SECS".into(),
            })?,
            None => file_config.vault_refresh_secs.unwrap_or(60),
        };
        let audit_forward = pick(
            "MANDATE_AUDIT_FORWARD",
            "audit_forward",
            &file_config.audit_forward,
        )
        .map(|raw| parse_forward(&raw))
        .transpose()?;
        let audit_forward_secret = pick(
            "MANDATE_AUDIT_FORWARD_SECRET",
            "audit_forward_secret",
            &file_config.audit_forward_secret,
        )
        .map(non_empty)
        .transpose()?;
        if let Some(ForwardTarget::Webhook(url)) = &audit_forward {
            if url.scheme() == "http" {
                warnings.push(
                    "MANDATE_AUDIT_FORWARD is a plain-http URL: audit events travel unencrypted"
                        .into(),
                );
            }
            if audit_forward_secret.is_none() {
                warnings.push(
                    "MANDATE_AUDIT_FORWARD_SECRET is not set: webhook deliveries are not signed"
                        .into(),
                );
            }
        }
        let otlp_endpoint = pick(
            "MANDATE_OTLP_ENDPOINT",
            "otlp_endpoint",
            &file_config.otlp_endpoint,
        )
        .map(|raw| parse_otlp(&raw))
        .transpose()?;
        if cimd_allow_loopback {
            warnings.push("MANDATE_CIMD_ALLOW_LOOPBACK is on: client metadata documents may be fetched from loopback addresses. This is for tests only; never enable it in production".into());
        }
        if let Some(ca) = &cimd_extra_ca_file {
            warnings.push(format!("MANDATE_CIMD_EXTRA_CA_FILE is set: {} is trusted for client metadata fetches. This is for tests only", ca.display()));
        }

        Ok(Config {
            bind,
            public_url,
            database_url,
            data_dir,
            master_key,
            log_format,
            log_filter,
            metrics_bind,
            site_root,
            cimd_allow_loopback,
            cimd_extra_ca_file,
            integrations_network,
            audit_retention_days,
            audit_introspection_window_secs,
            vault_refresh_secs,
            audit_forward,
            audit_forward_secret,
            otlp_endpoint,
            warnings,
        })
    }

    /// Whether the public URL is https (cookies get `Secure`, responses get HSTS).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let setting = format!("configuration file {}", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&setting, format!("cannot be read: {e}")))?;
    toml::from_str(&text).map_err(|e| ConfigError::new(setting, e.message().to_owned()))
}

/// Where audit events are forwarded: `stdout` (one JSON line per event) or a webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardTarget {
    Stdout,
    Webhook(url::Url),
}

fn parse_forward(raw: &Raw) -> Result<ForwardTarget, ConfigError> {
    let value = raw.value.trim();
    if value == "stdout" {
        return Ok(ForwardTarget::Stdout);
    }
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {
            Ok(ForwardTarget::Webhook(url))
        }
        _ => Err(ConfigError::new(
            &raw.setting,
            "must be `stdout` or an http(s) URL to POST events to",
        )),
    }
}

fn parse_integrations_network(raw: &Raw) -> Result<crate::outbound::AddressPolicy, ConfigError> {
    use crate::outbound::AddressPolicy;
    match raw.value.trim() {
        "public" => Ok(AddressPolicy::default()),
        "private" => Ok(AddressPolicy {
            private: true,
            loopback: false,
        }),
        "loopback" => Ok(AddressPolicy {
            private: true,
            loopback: true,
        }),
        _ => Err(ConfigError::new(
            &raw.setting,
            "must be public, private or loopback",
        )),
    }
}

fn parse_otlp(raw: &Raw) -> Result<url::Url, ConfigError> {
    if !cfg!(feature = "otlp") {
        return Err(ConfigError::new(
            &raw.setting,
            "this build has no OpenTelemetry export: build with `cargo build --release -p server --features otlp`",
        ));
    }
    match url::Url::parse(raw.value.trim()) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(url),
        _ => Err(ConfigError::new(
            &raw.setting,
            "must be the collector's OTLP/HTTP traces URL, e.g. http://localhost:4318/v1/traces",
        )),
    }
}

fn non_empty(raw: Raw) -> Result<String, ConfigError> {
    let value = raw.value.trim();
    if value.is_empty() {
        Err(ConfigError::new(raw.setting, "must not be empty"))
    } else {
        Ok(value.to_owned())
    }
}

fn parse_bool(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(ConfigError::new(
            &raw.setting,
            format!("{other:?} is not true or false"),
        )),
    }
}

fn parse_refresh_secs(raw: &Raw) -> Result<u64, ConfigError> {
    match raw.value.trim().parse::<u64>() {
        Ok(secs) if (1..=3600).contains(&secs) => Ok(secs),
        _ => Err(ConfigError::new(
            &raw.setting,
            format!("{:?} is not a number of seconds from 1 to 3600", raw.value),
        )),
    }
}

fn parse_window_secs(raw: &Raw) -> Result<u32, ConfigError> {
    match raw.value.trim().parse::<u32>() {
        Ok(secs) if secs <= 3600 => Ok(secs),
        _ => Err(ConfigError::new(
            &raw.setting,
            format!(
                "{:?} is not a number of seconds from 0 to 3600 (0 records every introspection)",
                raw.value
            ),
        )),
    }
}

fn parse_days(raw: &Raw) -> Result<u32, ConfigError> {
    raw.value.trim().parse().map_err(|_| {
        ConfigError::new(
            &raw.setting,
            format!(
                "{:?} is not a number of days (0 keeps events forever)",
                raw.value
            ),
        )
    })
}

fn parse_socket_addr(raw: &Raw) -> Result<SocketAddr, ConfigError> {
    raw.value.trim().parse().map_err(|_| {
        ConfigError::new(
            &raw.setting,
            format!("{:?} is not an address like 127.0.0.1:3000", raw.value),
        )
    })
}

fn parse_public_url(raw: &Raw, warnings: &mut Vec<String>) -> Result<String, ConfigError> {
    let bad = |message: String| ConfigError::new(&raw.setting, message);
    let url = Url::parse(raw.value.trim())
        .map_err(|e| bad(format!("{:?} is not a URL: {e}", raw.value)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http or https URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials".into()));
    }
    let host = url.host_str().unwrap_or_default();
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    if url.scheme() == "http" && !local {
        warnings.push(format!(
            "{} is plain http on a non-loopback host: OAuth 2.1 requires https in production",
            raw.setting
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn parse_database_url(raw: Raw) -> Result<String, ConfigError> {
    let value = raw.value.trim().to_owned();
    if value.starts_with("sqlite:") {
        let path = value
            .trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err(ConfigError::new(
                raw.setting,
                "a SQLite URL needs a file path, e.g. sqlite://data/mandate.db",
            ));
        }
        return Ok(value);
    }
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let url = Url::parse(&value).map_err(|e| {
            ConfigError::new(&raw.setting, format!("is not a valid PostgreSQL URL: {e}"))
        })?;
        if url.host_str().unwrap_or_default().is_empty() {
            return Err(ConfigError::new(
                raw.setting,
                "a PostgreSQL URL needs a host",
            ));
        }
        return Ok(value);
    }
    Err(ConfigError::new(
        raw.setting,
        "must start with sqlite:// (embedded) or postgres:// (PostgreSQL)",
    ))
}

/// The database URL with any password replaced, for messages and logs.
pub fn redact_database_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_run_with_nothing_set() {
        let c = Config::from_sources(None, &env(&[])).expect("defaults");
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url, "http://localhost:3000");
        assert_eq!(c.database_url, "sqlite://data/mandate.db");
        assert_eq!(c.master_key, MasterKeySource::DataDir);
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.audit_retention_days, 365);
        assert_eq!(c.vault_refresh_secs, 60);
        assert_eq!(c.audit_introspection_window_secs, 60);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn the_introspection_window_is_zero_to_an_hour() {
        for (value, secs) in [("0", 0), ("1", 1), (" 3600 ", 3600)] {
            let c = Config::from_sources(
                None,
                &env(&[("MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS", value)]),
            )
            .expect(value);
            assert_eq!(c.audit_introspection_window_secs, secs);
        }
        for value in ["3601", "-1", "a minute", ""] {
            let e = Config::from_sources(
                None,
                &env(&[("MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS", value)]),
            )
            .expect_err(value);
            assert_eq!(e.setting, "MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS");
        }
        let dir = std::env::temp_dir().join(format!("mandate-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("mandate.toml");
        std::fs::write(&file, "audit_introspection_window_secs = 7200\n").expect("write");
        let e = Config::from_sources(Some(&file), &env(&[])).expect_err("over an hour");
        assert_eq!(e.setting, "audit_introspection_window_secs");
        std::fs::write(&file, "audit_introspection_window_secs = 0\n").expect("write");
        let c = Config::from_sources(Some(&file), &env(&[])).expect("zero");
        assert_eq!(c.audit_introspection_window_secs, 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn env_overrides_file_and_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("mandate-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("mandate.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:4000\"\npublic_url = \"https://auth.example.com/\"\nlog_format = \"json\"\naudit_retention_days = 30\n")
            .expect("write");
        let c = Config::from_sources(Some(&file), &env(&[("MANDATE_BIND", "0.0.0.0:5000")]))
            .expect("load");
        assert_eq!(c.bind.to_string(), "0.0.0.0:5000", "env wins");
        assert_eq!(
            c.public_url, "https://auth.example.com",
            "file value, slash trimmed"
        );
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.audit_retention_days, 30);
        assert!(c.is_https());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn audit_forwarding_is_stdout_or_a_url_and_unsigned_webhooks_are_warned_about() {
        let c = Config::from_sources(None, &env(&[("MANDATE_AUDIT_FORWARD", "stdout")]))
            .expect("stdout");
        assert_eq!(c.audit_forward, Some(ForwardTarget::Stdout));
        let c = Config::from_sources(
            None,
            &env(&[("MANDATE_AUDIT_FORWARD", "http://siem.internal:8088/mandate")]),
        )
        .expect("url");
        assert!(matches!(c.audit_forward, Some(ForwardTarget::Webhook(_))));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        let e = Config::from_sources(None, &env(&[("MANDATE_AUDIT_FORWARD", "syslog")]))
            .expect_err("refused");
        assert_eq!(e.setting, "MANDATE_AUDIT_FORWARD");
    }

    #[test]
    fn an_otlp_endpoint_needs_the_otlp_build_and_a_url() {
        let set = |v: &str| Config::from_sources(None, &env(&[("MANDATE_OTLP_ENDPOINT", v)]));
        let result = set("http://localhost:4318/v1/traces");
        if cfg!(feature = "otlp") {
            assert!(result.is_ok());
            let e = set("collector:4318").expect_err("not a URL");
            assert_eq!(e.setting, "MANDATE_OTLP_ENDPOINT");
        } else {
            let e = result.expect_err("this build cannot export");
            assert_eq!(e.setting, "MANDATE_OTLP_ENDPOINT");
            assert!(e.message.contains("--features otlp"), "{}", e.message);
        }
    }

    #[test]
    fn data_dir_moves_the_default_database() {
        let c = Config::from_sources(None, &env(&[("MANDATE_DATA_DIR", "/var/lib/mandate")]))
            .expect("load");
        assert_eq!(c.database_url, "sqlite:///var/lib/mandate/mandate.db");
    }

    #[test]
    fn invalid_values_name_their_setting() {
        let cases = [
            ("MANDATE_BIND", "localhost"),
            ("MANDATE_PUBLIC_URL", "not a url"),
            ("MANDATE_PUBLIC_URL", "ftp://example.com"),
            ("MANDATE_PUBLIC_URL", "https://example.com/?x=1"),
            ("MANDATE_DATABASE_URL", "mysql://db/mandate"),
            ("MANDATE_DATABASE_URL", "postgres://"),
            ("MANDATE_DATABASE_URL", "sqlite::memory:"),
            ("MANDATE_LOG_FORMAT", "xml"),
            ("MANDATE_METRICS_BIND", "nine"),
            ("MANDATE_AUDIT_RETENTION_DAYS", "a year"),
            ("MANDATE_AUDIT_RETENTION_DAYS", "-1"),
            ("MANDATE_VAULT_REFRESH_SECS", "0"),
            ("MANDATE_VAULT_REFRESH_SECS", "3601"),
            ("MANDATE_VAULT_REFRESH_SECS", "soon"),
            ("MANDATE_MASTER_KEY", "  "),
        ];
        for (var, value) in cases {
            let err = Config::from_sources(None, &env(&[(var, value)]))
                .expect_err(&format!("{var}={value} must be refused"));
            assert_eq!(err.setting, var);
            assert!(err
                .to_string()
                .starts_with(&format!("invalid configuration: {var}: ")));
        }
    }

    #[test]
    fn master_key_and_key_file_together_are_refused() {
        let err = Config::from_sources(
            None,
            &env(&[
                ("MANDATE_MASTER_KEY", "x"),
                ("MANDATE_MASTER_KEY_FILE", "/k"),
            ]),
        )
        .expect_err("both");
        assert!(err.setting.contains("MANDATE_MASTER_KEY"));
    }

    #[test]
    fn unknown_file_keys_and_missing_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("mandate-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "bnid = \"x\"\n").expect("write");
        let err = Config::from_sources(Some(&file), &env(&[])).expect_err("unknown key");
        assert!(err.message.contains("bnid"), "{err}");
        let err = Config::from_sources(Some(&dir.join("missing.toml")), &env(&[]))
            .expect_err("missing file");
        assert!(err.message.contains("cannot be read"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_variables_and_plain_http_are_warned_about() {
        let c = Config::from_sources(
            None,
            &env(&[
                ("MANDATE_BINDD", "x"),
                ("MANDATE_PUBLIC_URL", "http://auth.example.com"),
            ]),
        )
        .expect("load");
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("MANDATE_BINDD"));
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_database_url("postgres://u:secret@db:5432/m"),
            "postgres://u:***@db:5432/m"
        );
        assert_eq!(
            redact_database_url("sqlite://data/m.db"),
            "sqlite://data/m.db"
        );
    }
}
