//! A fleet's `up` data generated from a plan: nodes, planned outages and
//! data gaps. Expected counts are computed from the plan alone (never from
//! the program's output): a sample at `t` stands for the slot `(t − step, t]`
//! and an interval `(s, e]` holds the samples with `s < t ≤ e`.

use super::{Series, Span};
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub type Window = (DateTime<Utc>, DateTime<Utc>);

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub region: String,
    pub operator: String,
}

/// What happened to the fleet over `span`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub span: Span,
    pub nodes: Vec<Node>,
    /// Nodes down over `(start, end]`.
    pub outages: Vec<(Vec<String>, DateTime<Utc>, DateTime<Utc>)>,
    /// No samples over `(start, end]`: for one node, or all (`None`: Prometheus was down).
    pub gaps: Vec<(Option<String>, DateTime<Utc>, DateTime<Utc>)>,
}

/// Counts one node should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub up: u64,
    pub down: u64,
    pub expected: u64,
    pub maintenance: u64,
}

fn inside(t: DateTime<Utc>, s: DateTime<Utc>, e: DateTime<Utc>) -> bool {
    s < t && t <= e
}

impl Plan {
    /// `up` of `node` at `t`: `None` in a gap, 0 in an outage, else 1.
    pub fn up(&self, node: &str, t: DateTime<Utc>) -> Option<f64> {
        if self.gaps.iter().any(|(n, s, e)| n.as_deref().is_none_or(|n| n == node) && inside(t, *s, *e)) {
            return None;
        }
        let down = self.outages.iter().any(|(ns, s, e)| ns.iter().any(|n| n == node) && inside(t, *s, *e));
        Some(if down { 0.0 } else { 1.0 })
    }

    /// The `up{job, instance, region, operator}` series of every node.
    pub fn series(self: &Arc<Self>, job: &str) -> Vec<Series> {
        self.nodes
            .iter()
            .map(|n| {
                let (plan, name) = (self.clone(), n.name.clone());
                let labels = [("job", job), ("instance", &n.name), ("region", &n.region), ("operator", &n.operator)];
                Series::new("up", &labels, move |t| plan.up(&name, t))
            })
            .collect()
    }

    /// What `node` should read, with `maintenance` windows removed.
    pub fn expected(&self, node: &str, maintenance: &[Window]) -> Expected {
        let mut x = Expected { up: 0, down: 0, expected: 0, maintenance: 0 };
        for t in self.span.times() {
            if maintenance.iter().any(|(s, e)| inside(t, *s, *e)) {
                x.maintenance += 1;
                continue;
            }
            x.expected += 1;
            match self.up(node, t) {
                Some(v) if v == 0.0 => x.down += 1,
                Some(_) => x.up += 1,
                None => {}
            }
        }
        x
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
}
