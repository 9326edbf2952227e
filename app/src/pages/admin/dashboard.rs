//! `/admin`: the dashboard. Hourly charts of tokens, consents, sign-in failures and agent
//! registrations (SVG drawn on the server), and the busiest agents and MCP servers.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{console_page, AdminFrame};
use crate::api::admin::dashboard::{dashboard_screen, DashboardView, TopRow, RANGES};
use crate::components::chart::LineChart;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_query_map();
    console_page(
        "Dashboard",
        move || params.read().get("range"),
        dashboard_screen,
        |facts| view! { <Dashboard facts /> },
    )
}

#[component]
fn TopTable(title: &'static str, id: &'static str, rows: Vec<TopRow>) -> impl IntoView {
    let empty = rows.is_empty();
    view! {
        <section class="top" aria-labelledby=id>
            <h2 id=id>{title}</h2>
            {if empty {
                view! { <p class="muted">"No tokens issued in this range."</p> }.into_any()
            } else {
                view! {
                    <table data-testid=id>
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col" class="num">"Tokens"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <tr>
                                            <td>
                                                <a href=r.href title=r.id>{r.label}</a>
                                            </td>
                                            <td class="num">{r.count}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn Dashboard(facts: DashboardView) -> impl IntoView {
    let current = facts.range.clone();
    view! {
        <AdminFrame header=facts.header current="/admin">
            <h1>"Dashboard"</h1>
            <nav class="range-tabs" aria-label="Time range">
                {RANGES
                    .iter()
                    .map(|(key, label)| {
                        let here = current == *key;
                        view! {
                            <a
                                class="button"
                                href=format!("/admin?range={key}")
                                aria-current=here.then_some("page")
                            >
                                {*label}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <div class="charts">
                {facts
                    .charts
                    .into_iter()
                    .map(|chart| view! { <LineChart chart /> })
                    .collect_view()}
            </div>
            <div class="tops">
                <TopTable title="Top agents" id="top-agents" rows=facts.top_agents />
                <TopTable title="Top MCP servers" id="top-servers" rows=facts.top_servers />
            </div>
        </AdminFrame>
    }
}
