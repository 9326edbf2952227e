//! Finding the master key: given inline, read from a file, or generated into the data dir on
//! first start (with a warning: production should supply its own and keep it apart from the
//! database backups).

use mandate_core::crypto::MasterKey;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{Config, MasterKeySource};
use crate::startup::StartupError;

/// Where the key came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// Resolves the master key per the configuration.
pub fn load_or_generate(config: &Config) -> Result<(MasterKey, KeyOrigin), StartupError> {
    match &config.master_key {
        MasterKeySource::Inline(text) => MasterKey::from_base64(text)
            .map(|k| (k, KeyOrigin::Environment))
            .map_err(|why| StartupError::Config(format!("MANDATE_MASTER_KEY: {why}"))),
        MasterKeySource::File(path) => read_key_file(path, "MANDATE_MASTER_KEY_FILE")
            .map(|k| (k, KeyOrigin::File(path.clone()))),
        MasterKeySource::DataDir => {
            let path = config.data_dir.join("master.key");
            if path.exists() {
                read_key_file(&path, "the generated master key file")
                    .map(|k| (k, KeyOrigin::File(path)))
            } else {
                let key = MasterKey::generate();
                write_new_key_file(&path, &key)?;
                Ok((key, KeyOrigin::Generated(path)))
            }
        }
    }
}

fn read_key_file(path: &Path, setting: &str) -> Result<MasterKey, StartupError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StartupError::Config(format!("{setting}: cannot read {}: {e}", path.display()))
    })?;
    MasterKey::from_base64(&text)
        .map_err(|why| StartupError::Config(format!("{setting} {}: {why}", path.display())))
}

/// Writes a new key file readable by the owner only; never overwrites an existing one.
fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<(), StartupError> {
    let fail = |e: std::io::Error| {
        StartupError::Config(format!(
            "MANDATE_DATA_DIR: cannot write the master key to {}: {e}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(key.to_base64().as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)
}
