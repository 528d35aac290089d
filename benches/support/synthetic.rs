//! The benchmarks' fleet.

use crate::common::Span;
use crate::common::fleet::{Node, Plan};
use chrono::{DateTime, Utc};

/// A large synthetic fleet for the benchmarks: `nodes` nodes in five
/// regions, 10 per operator, October 2026 up to `end` at 60 s, with a
/// fleet-wide outage on day 3, a 3-hour gap of all data on day 20, and three
/// short outages per node spread deterministically over the month.
pub fn fleet(nodes: usize, end: DateTime<Utc>) -> Plan {
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
