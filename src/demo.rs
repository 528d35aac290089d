//! A demo fleet: a generated month of `up` series (and revenue counters)
//! for the nodes of a roster, written as OpenMetrics for
//! `promtool tsdb create-blocks-from openmetrics`, one file per 2-hour
//! window (promtool reads its whole input once per block). Used by
//! `fleet-incentives demo`, the integration tests and the benchmarks.

use chrono::{DateTime, Duration, Utc};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use crate::rules::Rules;

/// One series to generate: labels, and when it is down or has no samples.
#[derive(Debug, Clone, Default)]
pub struct SeriesPlan {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    /// `[start, end)` intervals with value 0 (for `up`-like series).
    pub down: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// `[start, end)` intervals without samples.
    pub gaps: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// For counters: increase per step; `None` for 0/1 series.
    pub counter_rate: Option<f64>,
}

impl SeriesPlan {
    /// The value at sample time `t` (`None` in a gap). A sample at `t`
    /// covers `(t − step, t]`; it is down if `t` falls in a down interval's `(start, end]`.
    pub fn value_at(&self, t: DateTime<Utc>, step_index: i64) -> Option<f64> {
        let inside = |(s, e): &(DateTime<Utc>, DateTime<Utc>)| *s < t && t <= *e;
        if self.gaps.iter().any(inside) {
            return None;
        }
        Some(match self.counter_rate {
            Some(rate) => rate * step_index as f64,
            None if self.down.iter().any(inside) => 0.0,
            None => 1.0,
        })
    }

    fn selector(&self) -> String {
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        format!("{}{{{}}}", self.metric, labels.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Write samples at `start + step, start + 2·step, …, end` as OpenMetrics,
/// one file per 2-hour window, into `dir`. Returns the files written.
pub fn write_openmetrics(
    dir: &Path,
    series: &[SeriesPlan],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step_seconds: i64,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let block = Duration::hours(2);
    let mut files = vec![];
    let mut block_start = start;
    while block_start < end {
        let block_end = (block_start + block).min(end);
        let path = dir.join(format!("block-{}.om", block_start.timestamp()));
        let mut text = String::new();
        let mut metrics: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
        metrics.dedup();
        for metric in metrics {
            let kind = if series.iter().any(|s| s.metric == metric && s.counter_rate.is_some()) { "counter" } else { "gauge" };
            let _ = writeln!(text, "# TYPE {metric} {kind}");
            for s in series.iter().filter(|s| s.metric == metric) {
                let sel = s.selector();
                let mut i = (block_start - start).num_seconds() / step_seconds + 1;
                loop {
                    let t = start + Duration::seconds(i * step_seconds);
                    if t > block_end || (t == block_end && block_end != end) {
                        break;
                    }
                    if let Some(v) = s.value_at(t, i) {
                        let _ = writeln!(text, "{sel} {v} {}", t.timestamp());
                    }
                    i += 1;
                }
            }
        }
        text.push_str("# EOF\n");
        std::fs::File::create(&path)?.write_all(text.as_bytes())?;
        files.push(path);
        block_start = block_end;
    }
    Ok(files)
}

/// A month of demo data for the nodes on `rules`' roster, with scripted
/// events (times from the period start): a 20-minute fleet-wide outage on
/// day 3, a 90-minute outage of the first region on day 8, a 26-hour
/// outage of the first node from day 12, a 45-minute outage of the second
/// node on day 20, a 3-hour data gap on the third node on day 15, and an
/// outage of the fourth node inside the first Sunday maintenance window.
/// Revenue counters per region and per operator feed the revenue inputs.
pub fn demo_fleet(rules: &Rules, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<SeriesPlan> {
    let at = |day: i64, h: i64, m: i64| start + Duration::days(day - 1) + Duration::hours(h) + Duration::minutes(m);
    let src = &rules.source;
    let region_label = src.region_label.clone().unwrap_or_else(|| "region".into());
    let mut nodes: Vec<(String, String, String)> = vec![];
    for op in &rules.operators {
        let region = op.region.as_ref().map(|r| r.value.clone()).unwrap_or_else(|| "default".into());
        for n in &op.nodes {
            nodes.push((n.value.clone(), region.clone(), op.id.value.clone()));
        }
    }
    nodes.sort();
    let first_region = nodes.first().map(|n| n.1.clone()).unwrap_or_default();
    let maintenance = rules.maintenance_intervals(start, end);
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
        plans.push(SeriesPlan { metric: "up".into(), labels, down, gaps, counter_rate: None });
    }
    let mut regions: Vec<&String> = nodes.iter().map(|n| &n.1).collect();
    regions.sort();
    regions.dedup();
    for (i, r) in regions.iter().enumerate() {
        plans.push(SeriesPlan {
            metric: "fleet_partner_revenue_usd_total".into(),
            labels: vec![(region_label.clone(), (*r).clone())],
            counter_rate: Some(0.5 + i as f64 * 0.25),
            ..Default::default()
        });
    }
    for (i, op) in rules.operators.iter().enumerate() {
        plans.push(SeriesPlan {
            metric: "fleet_operator_revenue_usd_total".into(),
            labels: vec![("operator".into(), op.id.value.clone())],
            counter_rate: Some(0.1 + (i % 4) as f64 * 0.05),
            ..Default::default()
        });
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_step_is_written_once_across_block_borders() {
        let dir = std::env::temp_dir().join(format!("fi-demo-test-{}", std::process::id()));
        let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let end = start + Duration::hours(5);
        let plan = SeriesPlan {
            metric: "up".into(),
            labels: vec![("instance".into(), "n1".into())],
            down: vec![(start + Duration::minutes(119), start + Duration::minutes(122))],
            gaps: vec![(start + Duration::hours(4), start + Duration::minutes(250))],
            counter_rate: None,
        };
        let files = write_openmetrics(&dir, &[plan], start, end, 60).unwrap();
        assert_eq!(files.len(), 3);
        let all: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        let samples: Vec<&str> = all.lines().filter(|l| l.starts_with("up{")).collect();
        assert_eq!(samples.len(), 300 - 10, "5 h of minutes less a 10-minute gap");
        assert_eq!(samples.iter().filter(|l| l.contains(" 0 ")).count(), 3);
        assert!(files.iter().all(|f| std::fs::read_to_string(f).unwrap().ends_with("# EOF\n")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
