//! Charts drawn as SVG by the server: no script and no canvas, so they render in any browser,
//! print, and pass a strict CSP.

use leptos::prelude::*;

use crate::api::admin::dashboard::Chart;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// The polyline points of `values` scaled into the plot area with `max` at the top.
pub fn polyline(values: &[i64], max: i64) -> String {
    let n = values.len().max(2) - 1;
    let max = max.max(1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = PAD + (WIDTH - 2.0 * PAD) * i as f64 / n as f64;
            let y = HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * (*v as f64) / max;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A line chart of hourly counts, one line per series, with totals in the legend.
#[component]
pub fn LineChart(chart: Chart) -> impl IntoView {
    let max = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .max()
        .unwrap_or(0);
    let summary = chart
        .series
        .iter()
        .map(|s| format!("{}: {}", s.name, s.total))
        .collect::<Vec<_>>()
        .join(", ");
    let label = format!("{}, per hour. {summary}", chart.title);
    let aria = label.clone();
    let top = PAD;
    let bottom = HEIGHT - PAD;
    view! {
        <figure class="chart" data-chart=chart.id.clone()>
            <figcaption>
                <a href=chart.href.clone()>{chart.title.clone()}</a>
            </figcaption>
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=aria
                preserveAspectRatio="none"
            >
                <title>{label}</title>
                <line class="axis" x1=PAD y1=bottom x2=WIDTH - PAD y2=bottom />
                <line class="grid" x1=PAD y1=top x2=WIDTH - PAD y2=top />
                <text class="tick" x=PAD - 4.0 y=top + 4.0 text-anchor="end">
                    {max.to_string()}
                </text>
                <text class="tick" x=PAD - 4.0 y=bottom + 4.0 text-anchor="end">
                    "0"
                </text>
                <text class="tick" x=PAD y=HEIGHT - 6.0>
                    {chart.first_hour.clone()}
                </text>
                <text class="tick" x=WIDTH - PAD y=HEIGHT - 6.0 text-anchor="end">
                    {chart.last_hour.clone()}
                </text>
                {chart
                    .series
                    .iter()
                    .map(|s| {
                        view! {
                            <polyline
                                class=format!("line {}", s.tone)
                                data-series=s.name.clone()
                                points=polyline(&s.points, max)
                            />
                        }
                    })
                    .collect_view()}
            </svg>
            <ul class="legend">
                {chart
                    .series
                    .into_iter()
                    .map(|s| {
                        view! {
                            <li class=s.tone>
                                <span class="swatch" aria-hidden="true"></span>
                                {s.name}
                                ": "
                                <strong data-total="">{s.total}</strong>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::polyline;

    #[test]
    fn the_largest_value_touches_the_top_and_zero_the_bottom() {
        assert_eq!(polyline(&[0, 4, 2], 4), "24.0,136.0 300.0,24.0 576.0,80.0");
        assert_eq!(
            polyline(&[0, 0], 0),
            "24.0,136.0 576.0,136.0",
            "no division by zero"
        );
    }
}
