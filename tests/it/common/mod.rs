//! The shared test harness: a REAL Prometheus, filled by backfill.
//!
//! - [`Series`] and [`Span`]: the library's [`fleet_incentives::local_prometheus`],
//!   the one harness the demo command, these tests and the benchmarks share.
//! - [`Prometheus::start`]: backfills the series (or copies the blocks from
//!   a cache under cargo's target tmp dir keyed by a hash of the data; set
//!   `FLEET_TEST_NO_CACHE=1` to always backfill), starts `prometheus` on a
//!   free loopback port with a temporary data dir, its query log on and no
//!   scrape targets, and waits until it is ready.
//!   Dropping it kills the server and removes the dir; a watchdog does the
//!   same if the test process dies first (or the value lives in a `static`).
//! - [`victoria`]: a REAL VictoriaMetrics holding the same series, imported
//!   over its HTTP API (the second query backend).
//! - [`fleet`]: a month of fleet `up` data from a plan of outages and gaps,
//!   with the expected facts computed from the plan alone.
//! - [`rules_from_yaml`]: the ONE place tests build a [`Rules`] from YAML.
//! - [`dashboards`]: the Grafana models of `dashboards/`, the exporter's
//!   metric names, and the live check of every panel query.
//!
//! A missing `prometheus`/`promtool` binary fails the test with a message
//! saying how to install it; it never passes silently.

use fleet_incentives::local_prometheus::{self as local, LocalPrometheus};
use fleet_incentives::rules::Rules;
use fleet_incentives::source::{Client, ClientConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub use fleet_incentives::local_prometheus::{Series, Span};

pub mod alertmanager;
pub mod chromium;
pub mod dashboards;
pub mod fleet;
pub mod proxy;
pub mod serve;
pub mod victoria;

/// Path of a required binary, or a panic that says how to get it.
pub fn require_binary(name: &str) -> PathBuf {
    local::find_binary(name).unwrap_or_else(|| {
        panic!("`{name}` is not installed: these tests run a real Prometheus. Install it with `apt-get install -y prometheus` (Debian package, 2.42)")
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    local::free_port().unwrap()
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

/// Poll `GET /-/ready` on `port` until it answers 200; panics with
/// `log()` when `server` has exited, or after `seconds`.
pub fn wait_ready(what: &str, port: u16, seconds: u64, server: &mut Child, log: impl Fn() -> String) {
    let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            panic!("{what} exited ({status}):\n{}", log());
        }
        if http(port, "GET", "/-/ready").0 == 200 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{what} not ready after {seconds} s:\n{}", log());
}

// ------------------------------------------------------------- Prometheus

/// A running Prometheus holding backfilled data; killed on drop.
pub struct Prometheus {
    pub port: u16,
    /// Seconds spent preparing the data (backfill, or copying it from the cache).
    pub backfill_seconds: f64,
    /// The data came from the backfill cache.
    pub cached: bool,
    server: LocalPrometheus,
    watchdog: Child,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Backfill `series` over `span` and start a server on the data.
    pub fn start(series: &[Series], span: Span) -> Prometheus {
        Self::start_scraping(series, span, "[]")
    }

    /// [`Prometheus::start`] with `scrape_configs` (YAML, a flow or block
    /// sequence) and a 1 s scrape interval.
    pub fn start_scraping(series: &[Series], span: Span, scrape_configs: &str) -> Prometheus {
        let dir = tempfile::Builder::new().prefix("fleet-prom-").tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let started = Instant::now();
        let cached = if std::env::var_os("FLEET_TEST_NO_CACHE").is_some() {
            local::backfill(series, span, dir.path(), &data, false).map(|()| false)
        } else {
            let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus-blocks");
            local::backfill_cached(series, span, dir.path(), &data, &cache)
        };
        let cached = cached.unwrap_or_else(|e| panic!("{e}"));
        let backfill_seconds = started.elapsed().as_secs_f64();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  query_log_file: {}\nscrape_configs: {scrape_configs}\n",
            dir.path().join("query.log").display()
        );
        let args = ["--query.lookback-delta=5m", "--web.enable-admin-api"];
        let server = LocalPrometheus::start(&data, &config, &args).unwrap_or_else(|e| panic!("{e}"));
        let watchdog = watchdog(server.pid(), dir.path());
        Prometheus { port: server.port, backfill_seconds, cached, server, watchdog, dir }
    }

    pub fn url(&self) -> String {
        self.server.url.clone()
    }

    /// A client for this server (stats on, quick retries).
    pub fn client(&self) -> Client {
        let mut config = ClientConfig::new(self.url());
        config.stats = true;
        config.backoff = std::time::Duration::from_millis(100);
        Client::new(config).unwrap()
    }

    /// The query log: one JSON line per query, with its stats; the first is
    /// the readiness probe's `1`.
    pub fn query_log(&self) -> PathBuf {
        self.dir.path().join("query.log")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
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
    fleet_incentives::rules::from_yaml_unchecked(yaml).unwrap_or_else(|e| panic!("bad test rules: {e}"))
}

/// Run a future to completion on a fresh runtime (tests are plain `#[test]`
/// so shared fixtures can be built in a `static`).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(f)
}
