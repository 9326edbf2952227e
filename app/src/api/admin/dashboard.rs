//! The dashboard's facts: hourly counts of what matters, drawn as SVG charts on the server,
//! and the busiest agents and MCP servers of the range.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminHeader;
use crate::api::screen::Screen;

/// One line of a chart: a count per hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    /// A style hook: `good`, `bad`, `neutral`.
    pub tone: String,
    pub points: Vec<i64>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub series: Vec<Series>,
    /// The first and last hour's labels (UTC).
    pub first_hour: String,
    pub last_hour: String,
    /// Where the viewer shows these events.
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRow {
    pub label: String,
    pub id: String,
    pub count: i64,
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub header: AdminHeader,
    /// `24h`, `7d` or `30d`.
    pub range: String,
    pub charts: Vec<Chart>,
    pub top_agents: Vec<TopRow>,
    pub top_servers: Vec<TopRow>,
}

/// The ranges the dashboard offers, with their labels.
pub const RANGES: [(&str, &str); 3] = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
];

#[server(endpoint = "dashboard_screen")]
pub async fn dashboard_screen(
    #[server(default)] range: Option<String>,
) -> Result<Screen<DashboardView>, ServerFnError> {
    let admin = match super::admin().await {
        Ok(admin) => admin,
        Err(screen) => return Ok(screen),
    };
    Ok(ssr::dashboard(admin, range)
        .await
        .map(Screen::Show)
        .unwrap_or_else(super::failed))
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::collections::HashMap;

    use mandate_core::audit::labels::{agent_names, mcp_server_names};
    use mandate_core::audit::query::{self, AuditFilter, HourlyCount, RankBy};
    use mandate_core::audit::EventType;
    use mandate_core::CoreResult;

    use super::*;
    use crate::api::admin::audit::{filter_of, AuditQuery};
    use crate::api::admin::{time_text, Admin};

    const HOUR_MS: i64 = 3_600_000;

    /// A chart: its lines, each the sum of some (type, outcome) pairs.
    struct ChartSpec {
        id: &'static str,
        title: &'static str,
        lines: &'static [(&'static str, &'static str, EventType, &'static str)],
    }

    /// (line name, tone, event type, outcome)
    const CHARTS: [ChartSpec; 4] = [
        ChartSpec {
            id: "tokens",
            title: "Tokens issued",
            lines: &[
                ("Issued", "good", EventType::TokenIssued, "success"),
                ("Refreshed", "neutral", EventType::TokenRefreshed, "success"),
            ],
        },
        ChartSpec {
            id: "consents",
            title: "Consents granted and denied",
            lines: &[
                ("Granted", "good", EventType::ConsentGranted, "success"),
                ("Denied", "bad", EventType::ConsentDenied, "success"),
            ],
        },
        ChartSpec {
            id: "sign-in-failures",
            title: "Sign-in failures",
            lines: &[
                ("Wrong password", "bad", EventType::SignInFailed, "failure"),
                (
                    "Wrong second factor",
                    "neutral",
                    EventType::MfaFailed,
                    "failure",
                ),
            ],
        },
        ChartSpec {
            id: "registrations",
            title: "Agent registrations (DCR and CIMD)",
            lines: &[
                ("Registered", "good", EventType::AgentRegistered, "success"),
                ("Refused", "bad", EventType::AgentRegistered, "failure"),
            ],
        },
    ];

    fn series(
        counts: &[HourlyCount],
        first: i64,
        hours: usize,
        (name, tone, kind, outcome): &(&str, &str, EventType, &str),
    ) -> Series {
        let mut points = vec![0i64; hours];
        for c in counts
            .iter()
            .filter(|c| c.event_type == kind.as_str() && c.outcome == *outcome)
        {
            let i = (c.hour - first) / HOUR_MS;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| points.get_mut(i)) {
                *slot += c.count;
            }
        }
        Series {
            name: (*name).to_owned(),
            tone: (*tone).to_owned(),
            total: points.iter().sum(),
            points,
        }
    }

    fn top_rows(
        ranked: Vec<(String, i64)>,
        names: &HashMap<String, String>,
        key: &str,
        range: &str,
    ) -> Vec<TopRow> {
        ranked
            .into_iter()
            .map(|(id, count)| {
                let mut s = url::form_urlencoded::Serializer::new(String::new());
                s.append_pair("range", range)
                    .append_pair("type", "token.issued")
                    .append_pair(key, &id);
                TopRow {
                    label: names.get(&id).cloned().unwrap_or_else(|| id.clone()),
                    href: format!("/admin/audit?{}", s.finish()),
                    id,
                    count,
                }
            })
            .collect()
    }

    pub async fn dashboard(admin: Admin, range: Option<String>) -> CoreResult<DashboardView> {
        let store = &admin.ctx.store;
        let range = range
            .filter(|r| RANGES.iter().any(|(k, _)| k == r))
            .unwrap_or_else(|| "24h".to_owned());
        let query = AuditQuery {
            range: Some(range.clone()),
            ..AuditQuery::default()
        };
        let filter: AuditFilter = filter_of(store, &admin.access, &query)
            .await?
            .unwrap_or_default();
        let from = filter.from.unwrap_or_default();
        let first = from / HOUR_MS * HOUR_MS;
        let now = from + (filter_span(&range));
        let hours = usize::try_from((now - first) / HOUR_MS + 1).unwrap_or(24);
        let types: Vec<EventType> = CHARTS
            .iter()
            .flat_map(|c| c.lines.iter().map(|l| l.2))
            .collect();
        let counts = query::hourly_counts(store, &filter, &types).await?;
        let charts = CHARTS
            .iter()
            .map(|spec| Chart {
                id: spec.id.to_owned(),
                title: spec.title.to_owned(),
                series: spec
                    .lines
                    .iter()
                    .map(|l| series(&counts, first, hours, l))
                    .collect(),
                first_hour: time_text::hour(first),
                last_hour: time_text::hour(first + (hours as i64 - 1) * HOUR_MS),
                href: format!(
                    "/admin/audit?range={range}&type={}",
                    spec.lines[0].2.as_str()
                ),
            })
            .collect();
        let issued = AuditFilter {
            event_types: vec![EventType::TokenIssued],
            ..filter.clone()
        };
        let agents = query::top(store, &issued, RankBy::Agent, 10).await?;
        let servers = query::top(store, &issued, RankBy::McpServer, 10).await?;
        let agent_labels = agent_names(
            store,
            &agents.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
        )
        .await?;
        let server_labels = mcp_server_names(
            store,
            &servers.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
        )
        .await?;
        Ok(DashboardView {
            header: admin.header,
            charts,
            top_agents: top_rows(agents, &agent_labels, "agent", &range),
            top_servers: top_rows(servers, &server_labels, "server", &range),
            range,
        })
    }

    /// The range's length in ms.
    fn filter_span(range: &str) -> i64 {
        match range {
            "7d" => 7 * 24 * HOUR_MS,
            "30d" => 30 * 24 * HOUR_MS,
            _ => 24 * HOUR_MS,
        }
    }
}
