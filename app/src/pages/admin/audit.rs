//! `/admin/audit`: the audit trail. Filters are a GET form (the view's address is the
//! filter), pages are keyset cursors, an event opens in a drawer (`?event=`), and the live
//! tail adds new events at the top once hydrated.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{console_page, AdminFrame};
use crate::api::admin::audit::{audit_screen, AuditQuery, AuditView, EventDetail, EventRow, Named};
use crate::api::admin::Choice;
use crate::components::live_tail::{Tail, TailSwitch};

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    console_page(
        "Audit trail",
        move || AuditQuery::from_params(|k| params.read().get(k)),
        audit_screen,
        |facts| view! { <Audit facts /> },
    )
}

const RANGES: [(&str, &str); 6] = [
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("all", "Everything"),
    ("custom", "Custom range (UTC)"),
];

#[component]
pub(crate) fn Select(
    name: &'static str,
    label: &'static str,
    options: Vec<Choice>,
    current: Option<String>,
    /// The label of "no filter".
    any: &'static str,
) -> impl IntoView {
    let id = format!("f-{name}");
    view! {
        <label for=id.clone()>{label}</label>
        <select id=id name=name>
            <option value="">{any}</option>
            {options
                .into_iter()
                .map(|c| {
                    let selected = current.as_deref() == Some(c.value.as_str());
                    view! {
                        <option value=c.value selected=selected>
                            {c.label}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
fn TextFilter(
    name: &'static str,
    label: &'static str,
    value: Option<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] kind: &'static str,
) -> impl IntoView {
    let id = format!("f-{name}");
    let kind = if kind.is_empty() { "text" } else { kind };
    view! {
        <label for=id.clone()>{label}</label>
        <input
            id=id
            type=kind
            name=name
            value=value.unwrap_or_default()
            placeholder=placeholder
            autocomplete="off"
        />
    }
}

fn choices(pairs: &[(&str, &str)]) -> Vec<Choice> {
    pairs
        .iter()
        .map(|(v, l)| Choice {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
        })
        .collect()
}

#[component]
fn Filters(view: AuditView) -> impl IntoView {
    let q = view.query;
    let range = Some(q.range.clone().unwrap_or_else(|| "24h".to_owned()));
    let types = view
        .event_types
        .into_iter()
        .map(|t| Choice {
            value: t.clone(),
            label: t,
        })
        .collect();
    view! {
        <form method="get" action="/admin/audit" class="filters" aria-label="Filters">
            <div class="filter-grid">
                <div>
                    <label for="f-range">"Time"</label>
                    <select id="f-range" name="range">
                        {RANGES
                            .iter()
                            .map(|(v, l)| {
                                view! {
                                    <option value=*v selected=range.as_deref() == Some(*v)>
                                        {*l}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                <div>
                    <TextFilter name="from" label="From" value=q.from kind="datetime-local" />
                </div>
                <div>
                    <TextFilter name="to" label="To" value=q.to kind="datetime-local" />
                </div>
                <div>
                    <Select name="type" label="Event type" options=types current=q.event_type any="Any type" />
                </div>
                <div>
                    <Select
                        name="outcome"
                        label="Outcome"
                        options=choices(&[("success", "Success"), ("failure", "Failure")])
                        current=q.outcome
                        any="Any outcome"
                    />
                </div>
                <div>
                    <TextFilter name="user" label="User" value=q.user placeholder="email or id" />
                </div>
                <div>
                    <TextFilter name="agent" label="Agent" value=q.agent placeholder="client id" />
                </div>
                <div>
                    <Select name="tenant" label="Tenant" options=view.tenants current=q.tenant any="Any tenant" />
                </div>
                <div>
                    <Select
                        name="server"
                        label="MCP server"
                        options=view.servers
                        current=q.server
                        any="Any MCP server"
                    />
                </div>
                <div>
                    <TextFilter name="q" label="Any id" value=q.q placeholder="request id, IP, event id…" />
                </div>
            </div>
            <div class="actions">
                <button type="submit" class="button primary">"Apply filters"</button>
                <a class="button" href="/admin/audit">"Clear"</a>
            </div>
        </form>
    }
}

fn cell(named: Option<Named>) -> impl IntoView {
    named.map(|n| {
        view! {
            <a href=n.filter_href title=format!("Only events of {}", n.id)>
                {n.label}
            </a>
        }
    })
}

#[component]
pub fn Row(row: EventRow) -> impl IntoView {
    let failed = row.outcome == "failure";
    let kind = row.event_type.clone();
    view! {
        <tr data-seq=row.seq data-type=kind>
            <td class="nowrap">
                <a href=row.detail_href>{row.time}</a>
            </td>
            <td>
                <code>{row.event_type}</code>
            </td>
            <td class=if failed { "outcome bad" } else { "outcome good" }>{row.outcome}</td>
            <td>{row.actor}</td>
            <td data-col="agent">{cell(row.agent)}</td>
            <td data-col="user">{cell(row.user)}</td>
            <td>{cell(row.tenant)}</td>
            <td>{cell(row.server)}</td>
            <td class="scopes">{row.scopes}</td>
        </tr>
    }
}

#[component]
fn Drawer(detail: EventDetail) -> impl IntoView {
    view! {
        <aside class="drawer" aria-labelledby="drawer-h" data-testid="event-detail">
            <header>
                <h2 id="drawer-h">
                    <code>{detail.event_type}</code>
                    {format!(" · #{}", detail.seq)}
                </h2>
                <a class="button" href=detail.close_href>
                    "Close"
                </a>
            </header>
            <p class="muted">{format!("{} UTC", detail.time)}</p>
            <ul class="links">
                {detail
                    .links
                    .into_iter()
                    .map(|(label, href)| view! { <li><a href=href>{label}</a></li> })
                    .collect_view()}
            </ul>
            <pre class="json">{detail.json}</pre>
        </aside>
    }
}

#[component]
fn Audit(facts: AuditView) -> impl IntoView {
    let tail = Tail::new(facts.live_href.clone());
    let rows = facts.rows.clone();
    let empty = rows.is_empty();
    view! {
        <AdminFrame header=facts.header.clone() current="/admin/audit">
            <h1>"Audit trail"</h1>
            <Filters view=facts.clone() />
            {facts.error.clone().map(|e| view! { <p role="alert" class="error">{e}</p> })}
            <div class="toolbar">
                <TailSwitch tail />
                <a class="button" href="">"Refresh"</a>
                <span class="spacer"></span>
                <a class="button" href=facts.export_csv.clone() download="">"Export CSV"</a>
                <a class="button" href=facts.export_jsonl.clone() download="">"Export JSON Lines"</a>
            </div>
            <div class="table-wrap">
                <table class="events" data-testid="audit-events">
                    <thead>
                        <tr>
                            <th scope="col">"Time (UTC)"</th>
                            <th scope="col">"Event"</th>
                            <th scope="col">"Outcome"</th>
                            <th scope="col">"Actor"</th>
                            <th scope="col">"Agent"</th>
                            <th scope="col">"User"</th>
                            <th scope="col">"Tenant"</th>
                            <th scope="col">"MCP server"</th>
                            <th scope="col">"Scopes"</th>
                        </tr>
                    </thead>
                    <tbody data-testid="live-rows">
                        <For
                            each=move || tail.rows.get()
                            key=|row| row.seq
                            children=|row| view! { <Row row /> }
                        />
                    </tbody>
                    <tbody>{rows.into_iter().map(|row| view! { <Row row /> }).collect_view()}</tbody>
                </table>
            </div>
            {empty.then(|| view! { <p class="muted">"No events match these filters."</p> })}
            <nav class="pager" aria-label="Pages">
                {facts.newest_href.clone().map(|h| view! { <a class="button" href=h>"Newest"</a> })}
                {facts
                    .older_href
                    .clone()
                    .map(|h| view! { <a class="button" href=h rel="next">"Older events"</a> })}
            </nav>
            {facts.detail.clone().map(|detail| view! { <Drawer detail /> })}
        </AdminFrame>
    }
}
