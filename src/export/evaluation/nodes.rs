//! The per-node availability families: four series per node, most of the
//! series of a large fleet; left out with `serve --metrics.per-node=false`
//! ([`crate::export::Families`]).

use super::builder::{Builder, coverage, uptime};
use crate::evaluation::Evaluation;
use crate::export::unix;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Unit;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    operator: String,
    region: String,
}

/// The per-node availability families (`node_*`): four series per node,
/// left out with `--metrics.per-node=false`.
pub(super) fn families(b: &mut Builder, eval: &Evaluation) {
    let seconds = || Some(Unit::Seconds);
    let ratio = || Some(Unit::Other("ratio".into()));
    let nodes: Vec<_> = eval
        .nodes
        .iter()
        .map(|n| {
            let labels = NodeLabels {
                node: n.node.clone(),
                operator: n.operator.clone().unwrap_or_default(),
                region: n.region.clone().unwrap_or_default(),
            };
            (labels, n)
        })
        .collect();
    b.per(
        "node_uptime",
        "Node uptime this period: up / (up + down), maintenance excluded; absent without data",
        ratio(),
        &nodes,
        |n| uptime(&n.availability),
    );
    b.per("node_coverage", "Node coverage this period: (up + down) / expected", ratio(), &nodes, |n| {
        coverage(&n.availability)
    });
    b.per("node_down", "Node downtime this period, maintenance excluded", seconds(), &nodes, |n| {
        Some(n.availability.down_seconds as f64)
    });
    b.per(
        "node_offline_since_timestamp",
        "Start of the node's outage still going on at the window end; absent for nodes that are not down",
        seconds(),
        &nodes,
        |n| n.offline_since.map(unix),
    );
}
