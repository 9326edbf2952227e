//! Forwarding the audit trail to a SIEM: every committed event, in sequence order, as one
//! JSON line on stdout (syslog-style, for a log shipper) or POSTed in batches to a webhook.
//!
//! Delivery is at-least-once: the forwarder reads committed events after a cursor kept in the
//! database (`deployment` key `audit_forward_cursor`), delivers a batch, then moves the cursor,
//! so a restart or a webhook outage resumes where it stopped (a receiver deduplicates on
//! `id`). A failing webhook is retried with backoff up to a minute; request handling never
//! waits on it. Webhook bodies are signed when a secret is set:
//! `Mandate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

use std::io::Write;
use std::time::Duration;

use mandate_core::audit::query::{head_seq, oldest_first, AuditFilter, StoredEvent};
use mandate_core::audit::AuditLog;
use mandate_core::store::Store;
use serde_json::{json, Value};

use crate::config::ForwardTarget;

/// Where the last delivered event's `seq` is kept.
pub const CURSOR_KEY: &str = "audit_forward_cursor";
/// Events per delivery.
const BATCH: u32 = 500;
/// How often to look for events other instances committed.
const POLL: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One event as a forwarded JSON line.
pub fn line(event: &StoredEvent) -> Value {
    let mut value = event.to_json();
    if let Value::Object(map) = &mut value {
        map.insert("source".into(), json!("mandate.audit"));
    }
    value
}

/// `t=…,v1=…` for `body` at `timestamp` (the scheme issuance hooks are signed with too).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    mandate_core::enrich::signature(secret.as_bytes(), timestamp, body)
}

struct Forwarder {
    store: Store,
    target: ForwardTarget,
    secret: Option<String>,
    http: reqwest::Client,
}

impl Forwarder {
    async fn deliver(&self, events: &[StoredEvent]) -> Result<(), String> {
        match &self.target {
            ForwardTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                for e in events {
                    serde_json::to_writer(&mut out, &line(e)).map_err(|e| e.to_string())?;
                    out.write_all(b"\n").map_err(|e| e.to_string())?;
                }
                out.flush().map_err(|e| e.to_string())
            }
            ForwardTarget::Webhook(url) => {
                let lines: Vec<Value> = events.iter().map(line).collect();
                let body =
                    serde_json::to_vec(&json!({ "events": lines })).map_err(|e| e.to_string())?;
                let mut request = self
                    .http
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json");
                if let Some(secret) = &self.secret {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    request = request.header("Mandate-Signature", signature(secret, now, &body));
                }
                let response = request
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.without_url().to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("the webhook answered {}", response.status()))
                }
            }
        }
    }

    async fn cursor(&self) -> mandate_core::CoreResult<i64> {
        // First start with forwarding on: from now, not the whole history (an export covers
        // the past).
        let start = head_seq(&self.store).await?.to_string();
        let stored = self
            .store
            .deployment_value_or_insert(CURSOR_KEY, &start)
            .await?;
        Ok(stored.parse().unwrap_or(0))
    }

    async fn run(self, audit: AuditLog) {
        let mut committed = audit.committed();
        let mut cursor = loop {
            match self.cursor().await {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(error = %e, "audit forwarding cannot read its cursor");
                    tokio::time::sleep(POLL).await;
                }
            }
        };
        let mut backoff = Duration::from_secs(1);
        loop {
            let events =
                match oldest_first(&self.store, &AuditFilter::default(), Some(cursor), BATCH).await
                {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::warn!(error = %e, "audit forwarding cannot read events");
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                };
            let Some(last) = events.last().map(|e| e.seq) else {
                tokio::select! {
                    _ = committed.changed() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
                continue;
            };
            match self.deliver(&events).await {
                Ok(()) => {
                    cursor = last;
                    backoff = Duration::from_secs(1);
                    if let Err(e) = self
                        .store
                        .set_deployment_value(CURSOR_KEY, &cursor.to_string())
                        .await
                    {
                        tracing::warn!(error = %e, "audit forwarding cannot store its cursor");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "audit forwarding failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Starts forwarding to `target`.
pub fn spawn(
    store: Store,
    audit: AuditLog,
    target: ForwardTarget,
    secret: Option<String>,
) -> tokio::task::JoinHandle<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Mandate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let forwarder = Forwarder {
        store,
        target,
        secret,
        http,
    };
    tokio::spawn(forwarder.run(audit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let s = signature("secret", 1_700_000_000, b"{\"events\":[]}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature("secret", 1_700_000_001, b"{\"events\":[]}"));
        assert_ne!(s, signature("other", 1_700_000_000, b"{\"events\":[]}"));
        assert_eq!(s, signature("secret", 1_700_000_000, b"{\"events\":[]}"));
    }
}
