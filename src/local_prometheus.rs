//! A local Prometheus filled by backfill: the one harness behind
//! `fleet-incentives demo`, the integration tests and the benchmarks.
//!
//! - [`Series`] over a [`Span`]: a label set and a value per sample time
//!   (`None`: no sample, a data gap).
//! - [`backfill`]: the series as OpenMetrics, one file per 2-hour block
//!   (promtool reads its whole input once per block, so this keeps backfill
//!   fast), each run through `promtool tsdb create-blocks-from openmetrics`,
//!   several at a time. [`backfill_cached`] copies the blocks from a cache
//!   keyed by a hash of the data once they were built.
//! - [`LocalPrometheus`]: `prometheus` (the Debian package) on a free
//!   loopback port over a data directory, ready once its query API answers
//!   (asked through [`Client`]: only the source stage speaks HTTP); killed
//!   on drop.

use crate::source::answer::value_text;
use crate::source::{Client, ClientConfig, SourceError};
use chrono::{DateTime, Duration, Utc};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A value of a series at a time; `None` means no sample.
pub type ValueFn = Arc<dyn Fn(DateTime<Utc>) -> Option<f64> + Send + Sync>;

/// One series to backfill.
#[derive(Clone)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: ValueFn,
}

impl Series {
    pub fn new(
        name: &str,
        labels: &[(&str, &str)],
        value: impl Fn(DateTime<Utc>) -> Option<f64> + Send + Sync + 'static,
    ) -> Self {
        Series {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value: Arc::new(value),
        }
    }
}

/// Samples every `step` seconds over `(start, end]`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub step: i64,
}

const BLOCK_SECONDS: i64 = 2 * 3600;

impl Span {
    /// Sample times: `start + step`, `start + 2·step`, …, up to `end`.
    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let n = (self.end - self.start).num_seconds() / self.step;
        (1..=n).map(move |k| self.start + Duration::seconds(k * self.step))
    }

    /// The sample times grouped by 2-hour block (blocks are aligned to the epoch).
    pub fn blocks(&self) -> Vec<Vec<DateTime<Utc>>> {
        let mut blocks: Vec<Vec<DateTime<Utc>>> = vec![];
        for t in self.times() {
            let block = t.timestamp().div_euclid(BLOCK_SECONDS);
            match blocks.last_mut() {
                Some(b) if b[0].timestamp().div_euclid(BLOCK_SECONDS) == block => b.push(t),
                _ => blocks.push(vec![t]),
            }
        }
        blocks
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// OpenMetrics text of `series` at `times`: every family a gauge, families
/// contiguous, `# EOF` last.
pub fn openmetrics(series: &[Series], times: &[DateTime<Utc>]) -> String {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    let mut family = "";
    for s in sorted {
        if s.name != family {
            family = &s.name;
            let _ = writeln!(out, "# TYPE {family} gauge");
        }
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
        let head = format!("{}{{{}}}", s.name, labels.join(","));
        for t in times {
            if let Some(v) = (s.value)(*t) {
                let _ = writeln!(out, "{head} {} {}", value_text(v), t.timestamp());
            }
        }
    }
    out.push_str("# EOF\n");
    out
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
    #[error(transparent)]
    Client(#[from] SourceError),
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> LocalError {
    move |e| LocalError::Io(what.to_string(), e)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The path of program `name` on the `PATH`, if it is there.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn require(bin: &'static str) -> Result<PathBuf, LocalError> {
    find_binary(bin).ok_or(LocalError::Missing(bin))
}

/// Run `work(i)` for every `i < n` on all cores; the results in order.
fn parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut out: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = vec![];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break done;
                        }
                        done.push((i, work(i)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a backfill worker panicked")).collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// Write `series` over `span` as one OpenMetrics file per 2-hour block
/// into `work_dir` and backfill each into `data_dir` with promtool, several
/// at a time. The files are removed once backfilled unless `keep_files`.
pub fn backfill(
    series: &[Series],
    span: Span,
    work_dir: &Path,
    data_dir: &Path,
    keep_files: bool,
) -> Result<(), LocalError> {
    let promtool = require("promtool")?;
    std::fs::create_dir_all(work_dir).map_err(io(work_dir.display()))?;
    let blocks = span.blocks();
    let results = parallel(blocks.len(), |i| {
        let start = blocks[i][0].timestamp().div_euclid(BLOCK_SECONDS) * BLOCK_SECONDS;
        let file = work_dir.join(format!("block-{start}.om"));
        std::fs::write(&file, openmetrics(series, &blocks[i])).map_err(io(file.display()))?;
        let out = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&file)
            .arg(data_dir)
            .output()
            .map_err(io("promtool"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            return Err(LocalError::Backfill { file: file.display().to_string(), stderr });
        }
        if !keep_files {
            std::fs::remove_file(&file).map_err(io(file.display()))?;
        }
        Ok(())
    });
    results.into_iter().collect()
}

/// A hash of the OpenMetrics text [`backfill`] would write.
fn data_key(series: &[Series], span: Span) -> String {
    use sha2::{Digest, Sha256};
    let blocks = span.blocks();
    let hashes = parallel(blocks.len(), |i| Sha256::digest(openmetrics(series, &blocks[i]).as_bytes()));
    let mut all = Sha256::new();
    for h in hashes {
        all.update(h);
    }
    hex::encode(&all.finalize()[..16])
}

/// Fill `data_dir` with the blocks of `series` over `span`: backfilled once
/// into `cache_dir/<hash of the data>`, then copied from there. Returns
/// whether the cache already held them.
///
/// Builders of the same data never see each other's partial work: in this
/// process they take turns, and every build goes to a directory of its own
/// that is renamed into place in one step (when another process won the
/// race, its complete copy stays and this one is dropped).
pub fn backfill_cached(
    series: &[Series],
    span: Span,
    work_dir: &Path,
    data_dir: &Path,
    cache_dir: &Path,
) -> Result<bool, LocalError> {
    static BUILDING: Mutex<()> = Mutex::new(());
    let key = data_key(series, span);
    let cache = cache_dir.join(&key);
    let mut hit = cache.is_dir();
    if !hit {
        let _turn = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        hit = cache.is_dir();
        if !hit {
            let tmp = cache_dir.join(format!(".{key}.{}.tmp", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).map_err(io(tmp.display()))?;
            let built = backfill(series, span, work_dir, &tmp, false);
            if built.is_err() || std::fs::rename(&tmp, &cache).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            built?;
        }
    }
    copy_dir(&cache, data_dir).map_err(io(format!("copying {} to {}", cache.display(), data_dir.display())))?;
    Ok(hit)
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A Prometheus from the Debian package, started on a free loopback port
/// over a data directory (backfilled beforehand); killed on drop.
pub struct LocalPrometheus {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl LocalPrometheus {
    /// Start `prometheus` over `data_dir` (retention 10 y so backfilled
    /// months stay), with `config` as its configuration file text (written
    /// to `data_dir/prometheus.yml`, its log to `data_dir/prometheus.log`),
    /// and wait until it is ready: until its query API evaluates `1`
    /// (before that, Prometheus answers every API request with 503).
    ///
    /// Waits on a runtime of its own: call it outside async code.
    pub fn start(data_dir: &Path, config: &str, extra_args: &[&str]) -> Result<Self, LocalError> {
        let prometheus = require("prometheus")?;
        let port = free_port().map_err(io("free port"))?;
        let config_path = data_dir.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(io(config_path.display()))?;
        let log_path = data_dir.join("prometheus.log");
        let log = std::fs::File::create(&log_path).map_err(io(log_path.display()))?;
        let child = Command::new(prometheus)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", data_dir.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra_args)
            .stdout(log.try_clone().map_err(io("log"))?)
            .stderr(log)
            .spawn()
            .map_err(io("starting prometheus"))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut p = LocalPrometheus { child, url, port };
        let probe = ClientConfig {
            timeout: std::time::Duration::from_secs(2),
            max_attempts: 1,
            ..ClientConfig::new(p.url.clone())
        };
        let client = Client::new(probe)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io("runtime"))?;
        let seconds = 120;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if runtime.block_on(client.instant("1", Utc::now())).is_ok() {
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

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_step_is_written_once_across_block_borders() {
        let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let span = Span { start, end: start + Duration::hours(5), step: 60 };
        let down = (start + Duration::minutes(119), start + Duration::minutes(122));
        let gap = (start + Duration::hours(4), start + Duration::minutes(250));
        let inside = move |t, (s, e): (DateTime<Utc>, DateTime<Utc>)| s < t && t <= e;
        let plan = Series::new("up", &[("instance", "n1")], move |t| {
            (!inside(t, gap)).then_some(if inside(t, down) { 0.0 } else { 1.0 })
        });
        let files: Vec<String> = span.blocks().iter().map(|b| openmetrics(std::slice::from_ref(&plan), b)).collect();
        assert_eq!(files.len(), 3);
        let all: String = files.concat();
        let samples: Vec<&str> = all.lines().filter(|l| l.starts_with("up{")).collect();
        assert_eq!(samples.len(), 300 - 10, "5 h of minutes less a 10-minute gap");
        assert_eq!(samples.iter().filter(|l| l.contains(" 0 ")).count(), 3);
        assert!(files.iter().all(|f| f.ends_with("# EOF\n")));
    }

    #[test]
    fn special_values_are_written_as_prometheus_reads_them() {
        let t = Utc.with_ymd_and_hms(2026, 10, 1, 0, 1, 0).unwrap();
        let s = |v: f64| Series::new("x", &[("a", "q\"\\\n")], move |_| Some(v));
        let text = openmetrics(&[s(f64::NAN), s(f64::INFINITY), s(f64::NEG_INFINITY), s(0.5)], &[t]);
        let values: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("x{a=\"q\\\"\\\\\\n\"} ")).collect();
        assert_eq!(values, ["NaN 1790812860", "+Inf 1790812860", "-Inf 1790812860", "0.5 1790812860"], "{text}");
    }
}
