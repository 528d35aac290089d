//! A fleet's `up` data generated from a plan: nodes, planned outages and
//! data gaps. Expected counts are computed from the plan alone (never from
//! the program's output): a sample at `t` stands for the slot `(t − step, t]`
//! and an interval `(s, e]` holds the samples with `s < t ≤ e`.

use super::{Series, Span};
use chrono::{DateTime, Utc};

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

/// `up` at `t` given one node's outages and gaps: `None` in a gap, 0 in an outage, else 1.
fn up_at(outages: &[Window], gaps: &[Window], t: DateTime<Utc>) -> Option<f64> {
    if gaps.iter().any(|(s, e)| inside(t, *s, *e)) {
        return None;
    }
    Some(if outages.iter().any(|(s, e)| inside(t, *s, *e)) { 0.0 } else { 1.0 })
}

impl Plan {
    /// One node's outages and gaps.
    fn windows(&self, node: &str) -> (Vec<Window>, Vec<Window>) {
        let outages = self.outages.iter().filter(|(ns, ..)| ns.iter().any(|n| n == node)).map(|(_, s, e)| (*s, *e));
        let gaps = self.gaps.iter().filter(|(n, ..)| n.as_deref().is_none_or(|n| n == node)).map(|(_, s, e)| (*s, *e));
        (outages.collect(), gaps.collect())
    }

    /// `up` of `node` at `t`: `None` in a gap, 0 in an outage, else 1.
    pub fn up(&self, node: &str, t: DateTime<Utc>) -> Option<f64> {
        let (outages, gaps) = self.windows(node);
        up_at(&outages, &gaps, t)
    }

    /// The `up{job, instance, region, operator}` series of every node.
    pub fn series(&self, job: &str) -> Vec<Series> {
        self.nodes
            .iter()
            .map(|n| {
                let (outages, gaps) = self.windows(&n.name);
                let labels = [("job", job), ("instance", &n.name), ("region", &n.region), ("operator", &n.operator)];
                Series::new("up", &labels, move |t| up_at(&outages, &gaps, t))
            })
            .collect()
    }

    /// What `node` should read, with `maintenance` windows removed.
    pub fn expected(&self, node: &str, maintenance: &[Window]) -> Expected {
        let mut x = Expected { up: 0, down: 0, expected: 0, maintenance: 0 };
        let (outages, gaps) = self.windows(node);
        for t in self.span.times() {
            if maintenance.iter().any(|(s, e)| inside(t, *s, *e)) {
                x.maintenance += 1;
                continue;
            }
            x.expected += 1;
            match up_at(&outages, &gaps, t) {
                Some(0.0) => x.down += 1,
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

/// A large synthetic fleet for the benchmarks: `nodes` nodes in five
/// regions, 10 per operator, October 2026 up to `end` at 60 s, with a
/// fleet-wide outage on day 3, a 3-hour gap of all data on day 20, and three
/// short outages per node spread deterministically over the month.
pub fn synthetic(nodes: usize, end: DateTime<Utc>) -> Plan {
    use chrono::{Duration, TimeZone};
    let at = |d: usize, h: usize, m: u32| Utc.with_ymd_and_hms(2026, 10, d as u32, h as u32, m, 0).unwrap();
    let regions = ["eu", "us", "ap", "sa", "af"];
    let nodes: Vec<Node> = (0..nodes)
        .map(|i| Node {
            name: format!("node-{i:05}"),
            region: regions[i % regions.len()].into(),
            operator: format!("op-{:04}", i / 10),
        })
        .collect();
    let mut outages = vec![(nodes.iter().map(|n| n.name.clone()).collect(), at(3, 10, 0), at(3, 10, 30))];
    for (i, n) in nodes.iter().enumerate() {
        for k in 0..3 {
            let start = at((i * 7 + k * 11) % 31 + 1, (i * 5 + k * 3) % 24, 0);
            let minutes = 5 + ((i * 13 + k) % 55) as i64;
            outages.push((vec![n.name.clone()], start, start + Duration::minutes(minutes)));
        }
    }
    Plan {
        span: Span { start: at(1, 0, 0), end, step: 60 },
        nodes,
        outages,
        gaps: vec![(None, at(20, 6, 0), at(20, 9, 0))],
    }
}
