//! Leakage (seed 003): roster nodes with no data, data nodes on no roster,
//! payees paid with no active node — found from the resolved nodes (see
//! [`super::availability::resolve_nodes`], which also writes the node
//! findings' warning lines) and the statements.
//!
//! A node is active when it was seen in the window (programme.md: "a node
//! never seen in a month is not active", [`NodeInfo::seen`]).

use super::availability::NodeInfo;
use crate::evaluation::{Leakage, LeakageNode, PaidWithoutActiveNode, Statement};
use crate::facts::Facts;
use crate::rules::Rules;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// The leakage of one evaluation. `operators` are the statements of the
/// operators in the programme this period; `partners` those of the partners.
pub(crate) fn find(
    facts: &Facts,
    rules: &Rules,
    nodes: &BTreeMap<String, NodeInfo>,
    operators: &[Statement],
    partners: &[Statement],
) -> Leakage {
    let with_data: BTreeMap<&str, Option<&str>> =
        facts.nodes.iter().map(|n| (n.node.as_str(), n.operator.as_deref())).collect();
    let active: BTreeSet<&str> = operators.iter().map(|s| s.id.as_str()).collect();
    let roster: BTreeSet<&str> = rules.operators.iter().map(|o| o.id.value.as_str()).collect();
    let on_roster = |op: &str| roster.contains(op);
    let finding = |n: &NodeInfo, operator: Option<&str>| LeakageNode {
        node: n.node.clone(),
        operator: operator.map(str::to_string),
        region: n.region.clone(),
    };
    let mut leakage = Leakage::default();
    for n in nodes.values() {
        match with_data.get(n.node.as_str()) {
            // Only roster nodes are resolved without data: an operator who left
            // (or has not started) is history, not leakage.
            None => {
                if n.operator.as_deref().is_some_and(|op| active.contains(op)) {
                    leakage.roster_nodes_without_data.push(finding(n, n.operator.as_deref()));
                }
            }
            // Resolved to nobody, or to a label that is no operator of the roster.
            Some(label) => {
                if !n.operator.as_deref().is_some_and(on_roster) {
                    leakage.unrostered_nodes.push(finding(n, *label));
                }
            }
        }
    }
    let payees = operators.iter().map(|s| ("operator", s)).chain(partners.iter().map(|s| ("partner", s)));
    for (kind, s) in payees {
        let seen = s.nodes.iter().filter_map(|n| nodes.get(n)).any(NodeInfo::seen);
        if s.total > Decimal::ZERO && !seen {
            leakage.paid_without_active_node.push(PaidWithoutActiveNode {
                payee_kind: kind.to_string(),
                payee: s.id.clone(),
                amount: s.total,
                nodes: s.nodes.clone(),
            });
        }
    }
    leakage.paid_without_active_node.sort_by(|a, b| (&a.payee_kind, &a.payee).cmp(&(&b.payee_kind, &b.payee)));
    leakage
}
