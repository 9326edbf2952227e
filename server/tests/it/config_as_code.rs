//! `mandate config export` / `mandate config apply FILE [--dry-run]`: the document round-trips,
//! apply shows its changes first, is idempotent, refuses a wrong document as a whole, and
//! rebuilds the same configuration in a fresh database.

use std::path::Path;
use std::process::{Command, Stdio};

use mandate_core::testing::{each_backend, sqlite, temp_dir};

fn mandate(dir: &Path, database: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mandate"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MANDATE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env("MANDATE_DATABASE_URL", database);
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run mandate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ADDITIONS: &str = r#"
[[mcp_servers]]
slug = "calendar"
name = "Calendar"
resource_url = "https://calendar.example.com/mcp"

[[mcp_servers.scopes]]
name = "calendar.read"
display_name = "Read your calendar"

[[mcp_servers.scopes]]
name = "calendar.write"
sensitive = true

[[policies]]
name = "Calendar: read only"

[[policies.allows]]
mcp_server = "calendar"
scopes = ["calendar.read"]

[[agents]]
client_id = "nightly-sync"
name = "Nightly sync"
client_type = "confidential"
tags = ["ops"]

[agents.allowances]
calendar = ["calendar.read"]
"#;

#[tokio::test]
async fn the_configuration_exports_applies_idempotently_and_rebuilds_elsewhere() {
    for db in each_backend().await {
        let dir = temp_dir("config");
        let (code, _, stderr) = run(mandate(&dir, &db.url).args(["seed", "demo"]));
        assert_eq!(code, 0, "{stderr}");
        let (code, exported, stderr) = run(mandate(&dir, &db.url).args(["config", "export"]));
        assert_eq!(code, 0, "{stderr}");
        assert!(exported.contains("slug = \"demo-notes\""), "{exported}");
        assert!(exported.contains("client_id = \"demo-agent\""));
        assert!(!exported.contains("mdt_cs_"), "no secrets");

        let file = dir.join("mandate.toml");
        std::fs::write(&file, format!("{exported}{ADDITIONS}")).expect("write");
        let (code, out, stderr) = run(mandate(&dir, &db.url)
            .args(["config", "apply", "--dry-run"])
            .arg(&file));
        assert_eq!(code, 0, "{stderr}");
        for line in [
            "+ mcp_server calendar",
            "+ policy \"Calendar: read only\"",
            "+ agent nightly-sync",
            "= mcp_server demo-notes",
            "Dry run: 3 change(s) would be made",
        ] {
            assert!(out.contains(line), "{line:?} in:\n{out}");
        }
        let (_, unchanged, _) = run(mandate(&dir, &db.url).args(["config", "export"]));
        assert_eq!(unchanged, exported, "a dry run changes nothing");

        let (code, out, stderr) = run(mandate(&dir, &db.url).args(["config", "apply"]).arg(&file));
        assert_eq!(code, 0, "{stderr}");
        assert!(out.contains("Applied 3 change(s)."), "{out}");
        assert!(
            out.contains("agent nightly-sync: client secret mdt_cs_"),
            "{out}"
        );
        let (code, again, _) = run(mandate(&dir, &db.url).args(["config", "apply"]).arg(&file));
        assert_eq!(code, 0);
        assert!(again.contains("Nothing to change."), "idempotent:\n{again}");
        assert!(
            again.lines().filter(|l| l.starts_with(['+', '~'])).count() == 0,
            "{again}"
        );

        // A wrong document is refused as a whole: every mistake named, nothing applied.
        let broken = format!(
            "{exported}{}",
            ADDITIONS
                .replace("calendar.example.com", "calendar.example.com#frag")
                .replace("slug = \"calendar\"", "slug = \"calendar-2\"")
        ) + "\n[[tenants]]\nslug = \"Bad Slug\"\nname = \"x\"\n";
        let bad = dir.join("broken.toml");
        std::fs::write(&bad, broken).expect("write");
        let (code, _, stderr) = run(mandate(&dir, &db.url).args(["config", "apply"]).arg(&bad));
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("resource_url"), "{stderr}");
        assert!(stderr.contains("tenant \"Bad Slug\""), "{stderr}");
        let (_, after_bad, _) = run(mandate(&dir, &db.url).args(["config", "export"]));
        assert!(!after_bad.contains("calendar-2"));

        // The exported document rebuilds the same configuration in an empty database.
        let (_, full, _) = run(mandate(&dir, &db.url).args(["config", "export"]));
        let copy = sqlite();
        let full_file = dir.join("full.toml");
        std::fs::write(&full_file, &full).expect("write");
        let (code, out, stderr) = run(mandate(&dir, &copy.url)
            .args(["config", "apply"])
            .arg(&full_file));
        assert_eq!(code, 0, "{stderr}");
        assert!(out.contains("+ tenant acme"), "{out}");
        let (_, rebuilt, _) = run(mandate(&dir, &copy.url).args(["config", "export"]));
        assert_eq!(
            mandate_core::admin::config::parse(&rebuilt),
            mandate_core::admin::config::parse(&full),
            "same configuration"
        );
        let (code, _, stderr) = run(mandate(&dir, &db.url)
            .args(["config", "apply"])
            .arg(dir.join("missing.toml")));
        assert_eq!(code, 1);
        assert!(stderr.contains("cannot read"), "{stderr}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
