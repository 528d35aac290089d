//! Who runs which node, in which region, and availability over sets of nodes.
//!
//! The roster (`operators[].nodes`, or `operators[].region` meaning every node
//! labelled with that region) wins over the series labels. Unknown time (no
//! sample) is never up nor down: it only lowers coverage.

use crate::evaluation::Availability;
use crate::facts::Facts;
use crate::money::ratio;
use crate::rules::Rules;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One node as the engine sees it: roster applied, samples counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeInfo {
    pub node: String,
    /// Operator id: from the roster, else the series label.
    pub operator: Option<String>,
    pub region: Option<String>,
    pub up: u64,
    pub down: u64,
    /// Slots outside maintenance (up + down + unknown).
    pub expected: u64,
    pub maintenance: u64,
}

impl NodeInfo {
    /// Seen in the window: at least one sample, up or down, outside
    /// maintenance (the facts count no samples inside maintenance windows).
    pub fn seen(&self) -> bool {
        self.up + self.down > 0
    }
}

/// Seconds of `[start, end)` inside the (sorted, merged) maintenance intervals.
pub(crate) fn overlap_seconds(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    maint: &[(DateTime<Utc>, DateTime<Utc>)],
) -> i64 {
    maint.iter().map(|(ms, me)| ((*me).min(end) - (*ms).max(start)).num_seconds().max(0)).sum()
}

/// Resolve every node of the fleet: the nodes in the facts plus roster nodes
/// that have no data at all. Sorted by node id.
pub(crate) fn resolve_nodes(
    facts: &Facts,
    rules: &Rules,
    maint: &[(DateTime<Utc>, DateTime<Utc>)],
    warnings: &mut Vec<String>,
) -> BTreeMap<String, NodeInfo> {
    // Explicit node lists first, then region rosters (for operators without a list).
    let mut listed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut by_region: BTreeMap<&str, &str> = BTreeMap::new();
    for op in &rules.operators {
        if !op.nodes.is_empty() {
            for n in &op.nodes {
                match listed.get(n.value.as_str()) {
                    Some(other) if *other != op.id.value => warnings.push(format!(
                        "node {} is on the roster of both {} and {}; counted for {}",
                        n.value, other, op.id.value, other
                    )),
                    Some(_) => {}
                    None => {
                        listed.insert(&n.value, &op.id.value);
                    }
                }
            }
        } else if let Some(r) = &op.region {
            match by_region.get(r.value.as_str()) {
                Some(other) => warnings.push(format!(
                    "region {} is on the roster of both {} and {}; counted for {}",
                    r.value, other, op.id.value, other
                )),
                None => {
                    by_region.insert(&r.value, &op.id.value);
                }
            }
        }
    }
    let by_id: BTreeMap<&str, &_> = rules.operators.iter().map(|o| (o.id.value.as_str(), o)).collect();
    let op_spec = |id: &str| by_id.get(id).copied();
    let has_roster = |id: &str| op_spec(id).is_some_and(|o| !o.nodes.is_empty() || o.region.is_some());

    let mut out = BTreeMap::new();
    for nf in &facts.nodes {
        let roster_op = listed
            .get(nf.node.as_str())
            .copied()
            .or_else(|| nf.region.as_deref().and_then(|r| by_region.get(r).copied()));
        let operator = match (roster_op, nf.operator.as_deref()) {
            (Some(op), _) => Some(op.to_string()),
            (None, Some(label)) if op_spec(label).is_none() => {
                warnings.push(format!("node {} is labelled operator {}, who is not on the roster", nf.node, label));
                Some(label.to_string())
            }
            (None, Some(label)) if has_roster(label) => {
                warnings.push(format!(
                    "node {} is labelled operator {} but is not on {}'s roster; not counted for {}",
                    nf.node, label, label, label
                ));
                None
            }
            (None, Some(label)) => Some(label.to_string()),
            (None, None) => {
                warnings.push(format!("node {} is not on the roster and has no operator label", nf.node));
                None
            }
        };
        let roster_region = roster_op.and_then(op_spec).and_then(|o| o.region.as_ref()).map(|r| r.value.clone());
        out.insert(
            nf.node.clone(),
            NodeInfo {
                node: nf.node.clone(),
                operator,
                region: roster_region.or_else(|| nf.region.clone()),
                up: nf.up_samples,
                down: nf.down_samples,
                expected: nf.expected_samples,
                maintenance: nf.maintenance_samples,
            },
        );
    }

    // Roster nodes without any data: zero coverage over the whole window.
    let step = facts.step_seconds.max(1);
    let window = (facts.end - facts.start).num_seconds().max(0);
    let maint_secs = overlap_seconds(facts.start, facts.end, maint);
    let expected = ((window - maint_secs).max(0) / step) as u64;
    for (node, op) in &listed {
        if out.contains_key(*node) {
            continue;
        }
        warnings.push(format!("node {node} of operator {op} has no data in the window"));
        out.insert(
            node.to_string(),
            NodeInfo {
                node: node.to_string(),
                operator: Some(op.to_string()),
                region: op_spec(op).and_then(|o| o.region.as_ref()).map(|r| r.value.clone()),
                up: 0,
                down: 0,
                expected,
                maintenance: (maint_secs / step) as u64,
            },
        );
    }
    out
}

/// Nodes still down at the window end: node → start of that (last, ongoing) outage.
pub(crate) fn offline_since(facts: &Facts) -> BTreeMap<&str, DateTime<Utc>> {
    facts
        .nodes
        .iter()
        .filter_map(|n| n.outages.iter().rev().find(|o| o.ongoing).map(|o| (n.node.as_str(), o.start)))
        .collect()
}

/// Availability over a set of nodes.
pub(crate) fn availability<'a>(nodes: impl IntoIterator<Item = &'a NodeInfo>, step: i64) -> Availability {
    let (mut n, mut up, mut down, mut expected, mut maint) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for x in nodes {
        n += 1;
        up += x.up;
        down += x.down;
        expected += x.expected.max(x.up + x.down);
        maint += x.maintenance;
    }
    let unknown = expected - (up + down);
    let secs = |s: u64| s as i64 * step;
    Availability {
        nodes: n,
        up_seconds: secs(up),
        down_seconds: secs(down),
        unknown_seconds: secs(unknown),
        maintenance_seconds: secs(maint),
        uptime: ratio(up, up + down),
        coverage: ratio(up + down, expected).unwrap_or_default(),
    }
}

/// An operator's region: its roster `region`, else the most common region of
/// its nodes (ties: the first by name).
pub(crate) fn operator_region(field: Option<&str>, nodes: &[&NodeInfo]) -> Option<String> {
    if let Some(r) = field {
        return Some(r.to_string());
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for n in nodes {
        if let Some(r) = &n.region {
            *counts.entry(r).or_default() += 1;
        }
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|(_, c)| *c == best).map(|(r, _)| r.to_string())
}
