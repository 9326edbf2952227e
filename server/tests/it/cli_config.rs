//! The `mandate` binary as an operator runs it: bad configuration stops it with a message
//! naming the setting, the maintenance commands work, SIGTERM stops it cleanly.

use mandate_core::crypto::MasterKey;
use mandate_core::testing::{sqlite, temp_dir};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `mandate` command in its own working folder, with no MANDATE_* from the test's process.
fn mandate(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mandate"));
    for (key, _) in std::env::vars() {
        if key.starts_with("MANDATE_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run mandate");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn invalid_settings_stop_start_up_naming_the_setting() {
    let dir = temp_dir("cli");
    let cases = [
        ("MANDATE_DATABASE_URL", "postgres://"),
        ("MANDATE_DATABASE_URL", "mysql://db/mandate"),
        ("MANDATE_PUBLIC_URL", "::not a url::"),
        ("MANDATE_BIND", "everywhere"),
        ("MANDATE_LOG_FORMAT", "yaml"),
    ];
    for (var, value) in cases {
        let (code, _, stderr) = run(mandate(&dir).arg("serve").env(var, value));
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid configuration: {var}: ")),
            "{var}={value}: {stderr}"
        );
    }
    assert!(!dir.join("data").exists(), "nothing was created");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unreachable_database_exits_non_zero_with_a_clear_message() {
    let dir = temp_dir("cli");
    let (code, _, stderr) = run(mandate(&dir)
        .arg("serve")
        .env("MANDATE_BIND", "127.0.0.1:0")
        .env(
            "MANDATE_DATABASE_URL",
            "postgres://mandate:hunter2@127.0.0.1:1/nowhere",
        ));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot open the database at MANDATE_DATABASE_URL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postgres://mandate:***@127.0.0.1:1/nowhere"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password is never printed: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_config_file_keys_are_refused() {
    let dir = temp_dir("cli");
    std::fs::write(dir.join("mandate.toml"), "public_urll = \"http://x\"\n").expect("write");
    let (code, _, stderr) = run(mandate(&dir).args(["--config", "mandate.toml", "migrate"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("configuration file mandate.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("public_urll"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn another_master_key_is_refused_for_an_existing_database() {
    let dir = temp_dir("cli");
    let db = sqlite();
    let key_a = MasterKey::generate().to_base64();
    let key_b = MasterKey::generate().to_base64();
    let (code, _, stderr) = run(mandate(&dir)
        .arg("migrate")
        .env("MANDATE_DATABASE_URL", &db.url)
        .env("MANDATE_MASTER_KEY", &key_a));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(mandate(&dir)
        .arg("migrate")
        .env("MANDATE_DATABASE_URL", &db.url)
        .env("MANDATE_MASTER_KEY", &key_b));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("MANDATE_MASTER_KEY: the master key does not match"),
        "{stderr}"
    );
    let (code, _, stderr) = run(mandate(&dir)
        .arg("migrate")
        .env("MANDATE_DATABASE_URL", &db.url)
        .env("MANDATE_MASTER_KEY", "too-short"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("MANDATE_MASTER_KEY: must"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_applies_once_and_generates_the_master_key_file() {
    let dir = temp_dir("cli");
    let (code, stdout, stderr) = run(mandate(&dir).arg("migrate"));
    assert_eq!(code, 0, "{stderr}");
    let applied = stdout
        .split("Applied ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok())
        .expect("applied count");
    assert!(
        applied >= 1 && stdout.contains(&format!("the database has {applied} of {applied}")),
        "{stdout}"
    );
    assert!(
        dir.join("data/mandate.db").is_file(),
        "SQLite file under ./data"
    );
    let key = std::fs::read_to_string(dir.join("data/master.key")).expect("key file");
    assert_eq!(key.trim().len(), 44, "32 bytes in base64");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("data/master.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key file is private to its owner");
    }
    let (code, stdout, _) = run(mandate(&dir).arg("migrate"));
    assert_eq!(code, 0);
    assert!(stdout.contains("Applied 0 migration(s)"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn admin_create_prints_a_one_time_password_and_refuses_duplicates() {
    let dir = temp_dir("cli");
    let (code, stdout, stderr) =
        run(mandate(&dir).args(["admin", "create", "--email", "Ops@Example.com"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ops@example.com"), "{stdout}");
    let password = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("password line");
    assert!(password.len() >= 20, "{password}");
    assert!(
        !stderr.contains(&password),
        "the password is not in the logs"
    );
    let (code, _, stderr) =
        run(mandate(&dir).args(["admin", "create", "--email", "ops@example.com"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, _, stderr) = run(mandate(&dir).args(["admin", "create", "--email", "not-an-email"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("is not an email address"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn seed_demo_is_idempotent() {
    let dir = temp_dir("cli");
    let (code, stdout, stderr) = run(mandate(&dir).args(["seed", "demo"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("demo@example.com / "), "{stdout}");
    assert!(
        stdout.contains("issuer http://localhost:3000/s/demo-notes"),
        "{stdout}"
    );
    let (code, stdout, _) = run(mandate(&dir).args(["seed", "demo"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("password unchanged"), "{stdout}");
    assert_eq!(stdout.matches("[already there]").count(), 3, "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serve_logs_json_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("cli");
    let log = dir.join("out.log");
    let out = std::fs::File::create(&log).expect("log file");
    let mut child = mandate(&dir)
        .arg("serve")
        .env("MANDATE_BIND", "127.0.0.1:0")
        .env("MANDATE_LOG_FORMAT", "json")
        .stdout(out.try_clone().expect("clone"))
        .stderr(out)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    while !read().contains("Mandate is listening") {
        assert!(Instant::now() < deadline, "never started: {}", read());
        assert!(
            child.try_wait().expect("wait").is_none(),
            "exited early: {}",
            read()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        assert!(Instant::now() < deadline, "did not stop: {}", read());
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = read();
    assert_eq!(code, Some(0), "{output}");
    let listening = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every log line is JSON"))
        .find(|v| v["message"] == "Mandate is listening")
        .expect("listening event");
    assert_eq!(listening["level"], "INFO");
    assert!(output.contains("\"message\":\"stopped\""), "{output}");
    assert!(
        output.contains("First admin created"),
        "first start prints the admin: {output}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn audit_verify_checks_the_chain_and_names_the_first_edited_event() {
    let dir = temp_dir("cli");
    for _ in 0..2 {
        let (code, _, stderr) = run(mandate(&dir).args(["keys", "rotate"]));
        assert_eq!(code, 0, "{stderr}");
    }
    let (code, stdout, stderr) = run(mandate(&dir).args(["audit", "verify"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("Audit chain intact: 2 events checked (seq 1..2)."),
        "{stdout}"
    );

    let url = format!("sqlite://{}", dir.join("data/mandate.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
    sqlx::query("UPDATE audit_events SET detail = '{\"kid\":\"forged\"}' WHERE seq = 2")
        .execute(&pool)
        .await
        .expect("tamper");
    pool.close().await;

    let (code, _, stderr) = run(mandate(&dir).args(["audit", "verify"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("audit chain broken at event seq 2") && stderr.contains("edited"),
        "{stderr}"
    );
    let (code, stdout, _) = run(mandate(&dir).args(["audit", "verify", "--to", "1"]));
    assert_eq!(code, 0, "a range before the edit holds");
    assert!(stdout.contains("1 events checked"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// The `jti` of a JWT, read without verifying (the test only needs the id).
fn jti_of(jwt: &str) -> String {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("claims");
    claims["jti"].as_str().expect("jti").to_owned()
}

/// §2 of the audit design: an event is durable before the response that caused it completes.
/// A server killed (SIGKILL: no shutdown, no flush) right after answering a token request
/// leaves that token's event in the database.
#[tokio::test]
async fn killing_the_server_right_after_a_token_response_keeps_its_event() {
    for db in mandate_core::testing::each_backend().await {
        let dir = temp_dir("cli");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let configure = |cmd: &mut Command| {
            cmd.env("MANDATE_DATABASE_URL", &db.url)
                .env("MANDATE_BIND", format!("127.0.0.1:{port}"))
                .env("MANDATE_PUBLIC_URL", &base);
        };
        let mut seed = mandate(&dir);
        configure(seed.args(["seed", "demo"]));
        let (code, _, stderr) = run(&mut seed);
        assert_eq!(code, 0, "{stderr}");
        let mut serve = mandate(&dir);
        configure(
            serve
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let mut child = serve.spawn().expect("spawn");

        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < deadline, "never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let registered: serde_json::Value = http
            .post(format!("{base}/s/demo-notes/register"))
            .json(&serde_json::json!({
                "client_name": "Machine",
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_post"
            }))
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("json");
        let id = registered["client_id"].as_str().expect("id");
        let secret = registered["client_secret"].as_str().expect("secret");
        let token: serde_json::Value = http
            .post(format!("{base}/s/demo-notes/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "notes.read"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let jti = jti_of(token["access_token"].as_str().expect("access token"));

        let store = db.store().await;
        let filter = mandate_core::audit::query::AuditFilter {
            event_types: vec![mandate_core::audit::EventType::TokenIssued],
            ..Default::default()
        };
        let issued = mandate_core::audit::query::newest_first(&store, &filter, None, 10)
            .await
            .expect("events");
        assert!(
            issued.iter().any(|e| e.detail["jti"] == jti.as_str()),
            "{:?}: the token's event survived the kill: {issued:?}",
            db.backend
        );
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
