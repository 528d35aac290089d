//! The shared test harness: a REAL Prometheus, filled by backfill.
//!
//! - [`Series`]: one series to generate, a label set and a function of time
//!   (`None` = no sample: a data gap).
//! - [`Prometheus::start`]: writes the series as OpenMetrics, one file per
//!   2-hour block (promtool reads its input once per block, so this is what
//!   keeps backfill fast), runs `promtool tsdb create-blocks-from openmetrics`
//!   on them in parallel (or copies the blocks from a cache keyed by a hash
//!   of the data, see [`prepare_data`]), starts `prometheus` on a free loopback port with a
//!   temporary data dir and no scrape targets, and waits for `/-/ready`.
//!   Dropping it kills the server and removes the dir; a watchdog does the
//!   same if the test process dies first (or the value lives in a `static`).
//! - [`fleet`]: a month of fleet `up` data from a plan of outages and gaps,
//!   with the expected facts computed from the plan alone.
//! - [`rules_from_yaml`]: the ONE place tests build a [`Rules`] from YAML.
//! - [`dashboards`]: the Grafana models of `dashboards/`, the exporter's
//!   metric names, and the live check of every panel query.
//!
//! A missing `prometheus`/`promtool` binary fails the test with a message
//! saying how to install it; it never passes silently.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use fleet_incentives::rules::Rules;
use fleet_incentives::source::{Client, ClientConfig};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub mod alertmanager;
pub mod dashboards;
pub mod fleet;
pub mod proxy;
pub mod serve;

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

impl Span {
    /// Sample times: `start + step`, `start + 2·step`, …, up to `end`.
    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let n = (self.end - self.start).num_seconds() / self.step;
        (1..=n).map(move |k| self.start + Duration::seconds(k * self.step))
    }
}

/// Path of a required binary, or a panic that says how to get it.
pub fn require_binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: these tests run a real Prometheus. Install it with `apt-get install -y prometheus` (Debian package, 2.42)")
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    fleet_incentives::demo::free_port().unwrap()
}

/// A plain HTTP/1.0 request on 127.0.0.1: status and body as text
/// (status 0 and no body if the connection failed).
pub fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    request(port, method, path, "")
}

/// `POST path` with a JSON body (Alertmanager's API): status and body.
pub fn post_json(port: u16, path: &str, body: &str) -> (u16, String) {
    request(port, "POST", path, body)
}

fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let content_type = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // One write; a server that answers early and closes (400 for plain
    // HTTP on a TLS port) may break the pipe: its answer is still read.
    let _ = s.write_all(request.as_bytes());
    let mut raw = vec![];
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    let status = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

// ------------------------------------------------------------ OpenMetrics

const BLOCK_SECONDS: i64 = 2 * 3600;

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

/// OpenMetrics text of `series` at `times` (families contiguous, `# EOF` last).
pub fn openmetrics(series: &[Series], times: &[DateTime<Utc>]) -> String {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    let mut family = "";
    for s in sorted {
        if s.name != family {
            family = &s.name;
            writeln!(out, "# TYPE {family} gauge").unwrap();
        }
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
        let head = format!("{}{{{}}}", s.name, labels.join(","));
        for t in times {
            if let Some(v) = (s.value)(*t) {
                writeln!(out, "{head} {} {}", format_value(v), t.timestamp()).unwrap();
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Sample times of `span` grouped by 2-hour block (blocks are aligned to the epoch).
fn blocks(span: Span) -> Vec<Vec<DateTime<Utc>>> {
    let mut blocks: Vec<Vec<DateTime<Utc>>> = vec![];
    for t in span.times() {
        let block = t.timestamp().div_euclid(BLOCK_SECONDS);
        match blocks.last_mut() {
            Some(b) if b[0].timestamp().div_euclid(BLOCK_SECONDS) == block => b.push(t),
            _ => blocks.push(vec![t]),
        }
    }
    blocks
}

/// Run `work(i)` for every `i < n` on all cores.
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
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// Write `series` over `span` as one OpenMetrics file per 2-hour block and
/// backfill each into `data_dir` with promtool, several at a time.
pub fn backfill(series: &[Series], span: Span, work_dir: &Path, data_dir: &Path) {
    let promtool = require_binary("promtool");
    let blocks = blocks(span);
    parallel(blocks.len(), |i| {
        let file = work_dir.join(format!("block-{i:05}.om"));
        std::fs::write(&file, openmetrics(series, &blocks[i])).unwrap();
        let out = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&file)
            .arg(data_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool failed on {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&file).unwrap();
    });
}

/// A hash of the OpenMetrics text [`backfill`] would write.
fn data_key(series: &[Series], span: Span) -> String {
    use sha2::{Digest, Sha256};
    let blocks = blocks(span);
    let hashes = parallel(blocks.len(), |i| Sha256::digest(openmetrics(series, &blocks[i]).as_bytes()));
    let mut all = Sha256::new();
    for h in hashes {
        all.update(h);
    }
    hex::encode(&all.finalize()[..16])
}

/// Fill `data_dir` with the blocks of `series` over `span`: backfilled once,
/// then copied from a cache under cargo's target tmp dir, keyed by a hash of
/// the data (set `FLEET_TEST_NO_CACHE=1` to always backfill). Returns
/// whether the cache was used.
pub fn prepare_data(series: &[Series], span: Span, work_dir: &Path, data_dir: &Path) -> bool {
    if std::env::var_os("FLEET_TEST_NO_CACHE").is_some() {
        backfill(series, span, work_dir, data_dir);
        return false;
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus-blocks").join(data_key(series, span));
    let hit = cache.is_dir();
    if !hit {
        let tmp = cache.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        backfill(series, span, work_dir, &tmp);
        // Another test binary may have won the race: either copy is complete.
        if std::fs::rename(&tmp, &cache).is_err() {
            std::fs::remove_dir_all(&tmp).unwrap();
        }
    }
    copy_dir(&cache, data_dir);
    hit
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ------------------------------------------------------------- Prometheus

/// A running Prometheus holding backfilled data; killed on drop.
pub struct Prometheus {
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// Seconds spent preparing the data (backfill, or copying it from the cache).
    pub backfill_seconds: f64,
    /// The data came from the backfill cache.
    pub cached: bool,
    child: Child,
    watchdog: Child,
}

impl Prometheus {
    /// Backfill `series` over `span` and start a server on the data.
    pub fn start(series: &[Series], span: Span) -> Prometheus {
        Self::start_scraping(series, span, "[]")
    }

    /// [`Prometheus::start`] with `scrape_configs` (YAML, a flow or block
    /// sequence) and a 1 s scrape interval.
    pub fn start_scraping(series: &[Series], span: Span, scrape_configs: &str) -> Prometheus {
        let prometheus = require_binary("prometheus");
        let dir = tempfile::Builder::new().prefix("fleet-prom-").tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let started = Instant::now();
        let cached = prepare_data(series, span, dir.path(), &data);
        let backfill_seconds = started.elapsed().as_secs_f64();
        let config = dir.path().join("prometheus.yml");
        let query_log = dir.path().join("query.log");
        let text = format!(
            "global:\n  scrape_interval: 1s\n  query_log_file: {}\nscrape_configs: {scrape_configs}\n",
            query_log.display()
        );
        std::fs::write(&config, text).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--query.lookback-delta=5m")
            .arg("--web.enable-admin-api")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let watchdog = watchdog(child.id(), dir.path());
        let mut p = Prometheus { port, dir, backfill_seconds, cached, child, watchdog };
        p.wait_ready();
        p
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for this server (stats on, quick retries).
    pub fn client(&self) -> Client {
        let mut config = ClientConfig::new(self.url());
        config.stats = true;
        config.backoff = std::time::Duration::from_millis(100);
        Client::new(config).unwrap()
    }

    /// The query log (one JSON line per query, with its stats).
    pub fn query_log(&self) -> PathBuf {
        self.dir.path().join("query.log")
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + std::time::Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}) before it was ready:\n{}", self.server_log());
            }
            if fleet_incentives::demo::http_get_status(self.port, "/-/ready") == Some(200) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("prometheus not ready after 120 s:\n{}", self.server_log());
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// Kills `pid` and removes `dir` once this test process is gone: a
/// Prometheus kept in a `static` is never dropped.
pub fn watchdog(pid: u32, dir: &Path) -> Child {
    let script = r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill "$1" 2>/dev/null; sleep 1; rm -rf "$2""#;
    Command::new("sh")
        .args(["-c", script])
        .arg(std::process::id().to_string())
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

// ------------------------------------------------------------------ rules

/// A [`Rules`] from one YAML rule file WITHOUT the loader's validation, so
/// source tests can send Prometheus queries the loader would refuse (a bad
/// selector, unbalanced PromQL) and omit sections the source never reads.
/// Tests that need validated rules call `rules::load::load_files`.
pub fn rules_from_yaml(yaml: &str) -> Rules {
    use fleet_incentives::rules::Maintenance;
    use fleet_incentives::rules::spec::{MissingDataSpec, ProgrammeSpec, RuleFile};
    let file: RuleFile = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("bad test rules: {e}"));
    let programme: ProgrammeSpec = match file.programme {
        Some(p) => p,
        None => serde_saphyr::from_str("name: test").unwrap(),
    };
    let missing_data: MissingDataSpec = match file.missing_data {
        Some(m) => m,
        None => serde_saphyr::from_str("min_coverage: \"0.9\"\npolicy: withhold").unwrap(),
    };
    let maintenance = file
        .maintenance
        .iter()
        .map(|m| match (&m.weekday, &m.from) {
            (Some(day), _) => Maintenance::Weekly {
                name: m.name.value.clone(),
                weekday: day.value.parse().expect("weekday"),
                at: chrono::NaiveTime::parse_from_str(&m.at.as_ref().expect("at").value, "%H:%M").expect("at HH:MM"),
                duration_seconds: m.duration.expect("duration").seconds(),
                time_zone: m.time_zone.as_ref().map_or(chrono_tz::Tz::UTC, |z| z.value.parse().expect("zone")),
            },
            (None, Some(from)) => Maintenance::Once {
                name: m.name.value.clone(),
                from: from.value.parse().expect("from"),
                to: m.to.as_ref().expect("to").value.parse().expect("to"),
            },
            _ => panic!("maintenance {} needs weekday or from", m.name.value),
        })
        .collect();
    Rules {
        dir: PathBuf::from("tests"),
        sha256: String::new(),
        time_zone: chrono_tz::Tz::UTC,
        programme,
        source: file.source.expect("test rules need a `source:` section"),
        maintenance,
        severities: file.severities,
        escalation: file.escalation,
        inputs: file.inputs,
        missing_data,
        operators: file.operators,
        partners: file.partners,
        tiers: file.tiers,
        partner_tiers: file.partner_tiers,
        promotions: file.promotions,
    }
}

/// Run a future to completion on a fresh runtime (tests are plain `#[test]`
/// so shared fixtures can be built in a `static`).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(f)
}
