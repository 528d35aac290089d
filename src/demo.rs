//! A demo fleet: a generated month of `up` series (and revenue counters)
//! for the nodes of a roster, backfilled into a [`crate::local_prometheus`]
//! by `fleet-incentives demo` and the `serve` integration tests.

use crate::local_prometheus::Series;
use crate::rules::Rules;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

type Window = (DateTime<Utc>, DateTime<Utc>);

/// A sample at `t` covers `(t − step, t]`: it falls in `(start, end]`.
fn inside(t: DateTime<Utc>, windows: &[Window]) -> bool {
    windows.iter().any(|(s, e)| *s < t && t <= *e)
}

const DEMO_REGIONS: &[&str] = &["eu", "us", "ap"];

/// A month of demo data for the nodes on `rules`' roster, with scripted
/// events (times from the period start): a 20-minute fleet-wide outage on
/// day 3, a 90-minute outage of the first region on day 8, a 26-hour
/// outage of the first node from day 12, a 45-minute outage of the second
/// node on day 20, a 3-hour data gap on the third node on day 15, and an
/// outage of the fourth node inside the first Sunday maintenance window.
/// Revenue counters per region and per operator feed the revenue inputs.
///
/// Samples are 0/1 for `up` (none in a gap) and `rate × k` at the k-th step
/// after `start` for the counters (the step of the rules' source).
pub fn demo_fleet(rules: &Rules, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Series> {
    let at = |day: i64, h: i64, m: i64| start + Duration::days(day - 1) + Duration::hours(h) + Duration::minutes(m);
    let src = &rules.source;
    let region_label = src.region_label.clone().unwrap_or_else(|| "region".into());
    let mut nodes: Vec<(String, Option<String>, String)> = vec![];
    for op in &rules.operators {
        for n in &op.nodes {
            nodes.push((n.value.clone(), op.region.as_ref().map(|r| r.value.clone()), op.id.value.clone()));
        }
    }
    nodes.sort();
    // Nodes without a roster region are spread over three demo regions.
    let nodes: Vec<(String, String, String)> = nodes
        .into_iter()
        .enumerate()
        .map(|(i, (n, r, o))| (n, r.unwrap_or_else(|| DEMO_REGIONS[i % DEMO_REGIONS.len()].to_string()), o))
        .collect();
    let first_region = nodes.first().map(|n| n.1.clone()).unwrap_or_default();
    let maintenance = rules.maintenance_intervals(start, end);
    let step = src.step.seconds();
    let counter = |rate: f64| move |t: DateTime<Utc>| Some(rate * ((t - start).num_seconds() / step) as f64);
    let mut plans = vec![];
    for (i, (node, region, operator)) in nodes.iter().enumerate() {
        let mut down = vec![(at(3, 10, 0), at(3, 10, 20))];
        if *region == first_region {
            down.push((at(8, 14, 0), at(8, 15, 30)));
        }
        let mut gaps = vec![];
        match i {
            0 => down.push((at(12, 9, 0), at(13, 11, 0))),
            1 => down.push((at(20, 6, 0), at(20, 6, 45))),
            2 => gaps.push((at(15, 1, 0), at(15, 4, 0))),
            3 => {
                if let Some((ms, _)) = maintenance.first() {
                    down.push((*ms + Duration::minutes(30), *ms + Duration::minutes(90)));
                }
            }
            _ => {}
        }
        let mut labels = vec![
            ("instance".to_string(), node.clone()),
            (region_label.clone(), region.clone()),
            ("job".to_string(), "fleet-node".to_string()),
        ];
        if let Some(l) = &src.operator_label {
            labels.push((l.clone(), operator.clone()));
        }
        labels.sort();
        if src.node_label != "instance" {
            labels.retain(|(k, _)| k != "instance");
            labels.push((src.node_label.clone(), node.clone()));
        }
        let value = move |t| (!inside(t, &gaps)).then_some(if inside(t, &down) { 0.0 } else { 1.0 });
        plans.push(Series { name: "up".into(), labels, value: Arc::new(value) });
    }
    let mut regions: Vec<&String> = nodes.iter().map(|n| &n.1).collect();
    regions.sort();
    regions.dedup();
    for (i, r) in regions.iter().enumerate() {
        let labels = [(region_label.as_str(), r.as_str())];
        plans.push(Series::new("fleet_partner_revenue_usd_total", &labels, counter(0.5 + i as f64 * 0.25)));
    }
    for (i, op) in rules.operators.iter().enumerate() {
        let labels = [("operator", op.id.value.as_str())];
        plans.push(Series::new("fleet_operator_revenue_usd_total", &labels, counter(0.1 + (i % 4) as f64 * 0.05)));
    }
    plans
}
