//! A demo fleet: a generated month of `up` series (and revenue counters)
//! for the nodes of a roster, written as OpenMetrics for
//! `promtool tsdb create-blocks-from openmetrics`, one file per 2-hour
//! window (promtool reads its whole input once per block). Used by
//! `fleet-incentives demo`, the integration tests and the benchmarks.

use crate::rules::Rules;
use chrono::{DateTime, Duration, Utc};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

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
            let kind =
                if series.iter().any(|s| s.metric == metric && s.counter_rate.is_some()) { "counter" } else { "gauge" };
            let _ = writeln!(text, "# TYPE {metric} {kind}");
            for s in series.iter().filter(|s| s.metric == metric) {
                let sel = s.selector();
                // Samples in [block_start, block_end), and the last one at `end`.
                let mut i = ((block_start - start).num_seconds() + step_seconds - 1) / step_seconds;
                i = i.max(1);
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

const DEMO_REGIONS: &[&str] = &["eu", "us", "ap"];

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

/// A Prometheus from the Debian package, started on a free loopback port
/// over a data directory (backfilled beforehand); killed on drop.
pub struct LocalPrometheus {
    child: std::process::Child,
    pub url: String,
    pub port: u16,
}

/// Why a local Prometheus could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("`{0}` not found: install it with `apt-get update && apt-get install -y prometheus`")]
    Missing(&'static str),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("promtool failed on {file}: {stderr}")]
    Backfill { file: String, stderr: String },
    #[error("Prometheus did not become ready on port {port} within {seconds} s; its log: {log}")]
    NotReady { port: u16, seconds: u64, log: String },
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn require(bin: &'static str) -> Result<(), LocalError> {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
    if found { Ok(()) } else { Err(LocalError::Missing(bin)) }
}

/// Backfill OpenMetrics files into `data_dir` with `promtool tsdb
/// create-blocks-from openmetrics`, two files at a time.
pub fn backfill(files: &[PathBuf], data_dir: &Path) -> Result<(), LocalError> {
    require("promtool")?;
    for pair in files.chunks(2) {
        let children: Vec<_> = pair
            .iter()
            .map(|f| {
                std::process::Command::new("promtool")
                    .args(["tsdb", "create-blocks-from", "openmetrics"])
                    .arg(f)
                    .arg(data_dir)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map(|c| (f, c))
                    .map_err(|e| LocalError::Io("starting promtool".into(), e))
            })
            .collect::<Result<_, _>>()?;
        for (f, c) in children {
            let out = c.wait_with_output().map_err(|e| LocalError::Io("promtool".into(), e))?;
            if !out.status.success() {
                return Err(LocalError::Backfill {
                    file: f.display().to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                });
            }
        }
    }
    Ok(())
}

impl LocalPrometheus {
    /// Start `prometheus` over `data_dir` (retention 10 y so backfilled
    /// months stay), with `config` as its configuration file text, and wait
    /// until it is ready.
    pub fn start(data_dir: &Path, config: &str, extra_args: &[&str]) -> Result<Self, LocalError> {
        require("prometheus")?;
        let port = free_port().map_err(|e| LocalError::Io("free port".into(), e))?;
        let config_path = data_dir.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| LocalError::Io(config_path.display().to_string(), e))?;
        let log_path = data_dir.join("prometheus.log");
        let log = std::fs::File::create(&log_path).map_err(|e| LocalError::Io(log_path.display().to_string(), e))?;
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra_args)
            .stdout(log.try_clone().map_err(|e| LocalError::Io("log".into(), e))?)
            .stderr(log)
            .spawn()
            .map_err(|e| LocalError::Io("starting prometheus".into(), e))?;
        let mut p = LocalPrometheus { child, url: format!("http://127.0.0.1:{port}"), port };
        let seconds = 120;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if http_get_status(port, "/-/ready") == Some(200) {
                return Ok(p);
            }
            if let Ok(Some(_)) = p.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: String =
            log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        Err(LocalError::NotReady { port, seconds, log: tail })
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code of a plain HTTP/1.0 GET on 127.0.0.1, `None` if it fails.
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 16];
    s.read_exact(&mut buf[..12]).ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}
