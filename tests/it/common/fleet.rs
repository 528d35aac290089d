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

/// Rules for the series of [`Plan::series`]`("fleet")`: `up` by instance,
/// operator and region at 1 m, and a 2-hour maintenance window from 02:00
/// every Sunday. `source:` comes last: a test may append source keys, then
/// other sections.
pub const RULES: &str = r#"
version: 1
maintenance:
  - name: sunday
    weekday: sunday
    at: "02:00"
    duration: 2h
source:
  up: up{job="fleet"}
  node_label: instance
  operator_label: operator
  region_label: region
  step: 1m
"#;

/// The source (`up{job="fleet-node"}` by instance and region at 1 m, a
/// failure after 5 m), the Sunday maintenance window (02:00, 2 h) and the
/// P0–P2 severities of the rules the [`six_nodes`] month is read with.
pub const SIX_NODE_RULES: &str = r#"source: {up: 'up{job="fleet-node"}', node_label: instance, region_label: region, step: 1m, failure_after: 5m}
maintenance:
  - {name: weekly, weekday: sunday, at: "02:00", duration: 2h}
severities:
  - {id: P0, name: Fleet-wide, definition: no node operational, when: "fleet_down_ratio >= 1", respond_within: 15m, resolve_within: 4h, major: true}
  - {id: P1, name: Region, definition: more than half a region down, when: "region_down_ratio > 0.5", respond_within: 30m, resolve_within: 8h, major: true}
  - {id: P2, name: Node, definition: a single node, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
"#;

/// The six-node month of the evaluate and close tests: `days` days from
/// `start` at 60 s, n1–n3 in eu (op-eu), n4–n6 in us (op-us). Outages, in
/// this order: all six for 30 minutes on day 2 (a P0); n1 and n2 for an
/// hour on day 5 (a P1: two of eu's three); n4 for 10 minutes on day 9 (a
/// P2); n5 for exactly 5 minutes on day 10 (downtime, but not a failure);
/// n6 for 26 hours from `long_day` (a P2 over its 24 h target); n2 from
/// 02:30 to 03:30 on `sunday` (inside the maintenance window: not counted).
/// Six hours without samples for n3 on `gap_day`: unknown, neither up nor down.
pub fn six_nodes(start: DateTime<Utc>, days: i64, sunday: i64, long_day: i64, gap_day: i64) -> Plan {
    use chrono::Duration;
    let at = |day: i64, h: i64, m: i64| start + Duration::days(day - 1) + Duration::hours(h) + Duration::minutes(m);
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let region = |n: &str| if ["n1", "n2", "n3"].contains(&n) { "eu" } else { "us" };
    let operator = |n: &str| if region(n) == "eu" { "op-eu" } else { "op-us" };
    let all = ["n1", "n2", "n3", "n4", "n5", "n6"];
    Plan {
        span: Span { start, end: at(days + 1, 0, 0), step: 60 },
        nodes: all
            .iter()
            .map(|n| Node { name: n.to_string(), region: region(n).into(), operator: operator(n).into() })
            .collect(),
        outages: vec![
            (names(&all), at(2, 10, 0), at(2, 10, 30)),
            (names(&["n1", "n2"]), at(5, 8, 0), at(5, 9, 0)),
            (names(&["n4"]), at(9, 12, 0), at(9, 12, 10)),
            (names(&["n5"]), at(10, 12, 0), at(10, 12, 5)),
            (names(&["n6"]), at(long_day, 0, 0), at(long_day + 1, 2, 0)),
            (names(&["n2"]), at(sunday, 2, 30), at(sunday, 3, 30)),
        ],
        gaps: vec![(Some("n3".into()), at(gap_day, 0, 0), at(gap_day, 6, 0))],
    }
}
