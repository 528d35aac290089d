//! The leakage families' label sets and samples, from an evaluation's
//! [`Leakage`] (registered by `evaluation.rs`, in the evaluation's order).

use crate::evaluation::{Leakage, LeakageNode};
use crate::money::to_f64;
use prometheus_client::encoding::EncodeLabelSet;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabels {
    /// `roster_node_without_data`, `unrostered_node` or `paid_without_active_node`.
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct NodeLabels {
    node: String,
    /// Roster nodes: the roster's operator; unrostered nodes: the series'
    /// operator label; `""` without one.
    operator: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PaidLabels {
    /// `operator` or `partner`.
    payee_kind: String,
    payee: String,
    currency: String,
}

/// How many findings of each kind: always the three samples, 0 included.
pub(super) fn findings(l: &Leakage) -> Vec<(KindLabels, f64)> {
    [
        ("roster_node_without_data", l.roster_nodes_without_data.len()),
        ("unrostered_node", l.unrostered_nodes.len()),
        ("paid_without_active_node", l.paid_without_active_node.len()),
    ]
    .into_iter()
    .map(|(kind, n)| (KindLabels { kind }, n as f64))
    .collect()
}

/// 1 per node of a finding.
pub(super) fn nodes(list: &[LeakageNode]) -> Vec<(NodeLabels, f64)> {
    list.iter()
        .map(|n| {
            let labels = NodeLabels {
                node: n.node.clone(),
                operator: n.operator.clone().unwrap_or_default(),
                region: n.region.clone().unwrap_or_default(),
            };
            (labels, 1.0)
        })
        .collect()
}

/// The total of every payee paid with no active node.
pub(super) fn paid(l: &Leakage, currency: &str) -> Vec<(PaidLabels, f64)> {
    l.paid_without_active_node
        .iter()
        .map(|p| {
            let labels =
                PaidLabels { payee_kind: p.payee_kind.clone(), payee: p.payee.clone(), currency: currency.to_string() };
            (labels, to_f64(p.amount))
        })
        .collect()
}
