//! A REAL VictoriaMetrics (single-node, the Debian package `victoria-metrics`,
//! 1.79) holding the same series [`super::Prometheus::start`] backfills.
//!
//! [`VictoriaMetrics::start`] starts `victoria-metrics` on a free loopback
//! port over a temporary data dir (`-retentionPeriod=100y`, or backfilled
//! months outside the default month of retention are dropped), imports the
//! series with `POST /api/v1/import/prometheus` (the Prometheus text
//! format, timestamps in milliseconds: the samples of [`Series`] over a
//! [`Span`], exactly those of the Prometheus backfill), makes them
//! searchable with `GET /internal/force_flush`, and checks that every
//! sample written is visible before it returns. Dropping it kills the
//! server and removes the dir; a watchdog does the same if the test process
//! dies first (or the value lives in a `static`).
//!
//! No other flag is needed for a past month: `-search.latencyOffset`
//! (30 s) only moves queries for the last 30 s of wall-clock time, and the
//! source reads only `*_over_time` and raw range selectors, so VM's
//! lookback/staleness rules never apply to it.

use super::{Series, Span, free_port, http, post_json, wait_ready, watchdog};
use chrono::{DateTime, Utc};
use fleet_incentives::source::answer::value_text;
use fleet_incentives::source::{Client, ClientConfig, QueryData};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running VictoriaMetrics holding imported series; killed on drop.
pub struct VictoriaMetrics {
    pub port: u16,
    /// Seconds spent importing the data.
    pub import_seconds: f64,
    child: Child,
    watchdog: Child,
    dir: tempfile::TempDir,
}

/// Path of `victoria-metrics`, or a panic that says how to get it.
fn binary() -> PathBuf {
    fleet_incentives::local_prometheus::find_binary("victoria-metrics").unwrap_or_else(|| {
        panic!("`victoria-metrics` is not installed: these tests run a real VictoriaMetrics. Install it with `apt-get install -y victoria-metrics` (Debian package, 1.79), or run scripts/setup.sh test")
    })
}

/// The Prometheus text format of `series` at `times`, timestamps in
/// milliseconds (what `/api/v1/import/prometheus` reads): the samples
/// [`fleet_incentives::local_prometheus::openmetrics`] writes for promtool.
pub fn import_text(series: &[Series], times: &[DateTime<Utc>]) -> String {
    let mut out = String::new();
    for s in series {
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={}", label_value(v))).collect();
        let head = format!("{}{{{}}}", s.name, labels.join(","));
        for t in times {
            if let Some(v) = (s.value)(*t) {
                let _ = writeln!(out, "{head} {} {}", value_text(v), t.timestamp_millis());
            }
        }
    }
    out
}

fn label_value(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

impl VictoriaMetrics {
    /// Start a server and import `series` over `span` into it.
    pub fn start(series: &[Series], span: Span) -> VictoriaMetrics {
        let dir = tempfile::Builder::new().prefix("fleet-vm-").tempdir().unwrap();
        let port = free_port();
        let log_path = dir.path().join("victoria-metrics.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(binary())
            .arg(format!("-storageDataPath={}", dir.path().join("data").display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-retentionPeriod=100y")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let watchdog = watchdog(child.id(), dir.path());
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        wait_ready("victoria-metrics", port, 60, &mut child, read_log);
        let mut vm = VictoriaMetrics { port, import_seconds: 0.0, child, watchdog, dir };
        let started = std::time::Instant::now();
        vm.import(series, span);
        vm.import_seconds = started.elapsed().as_secs_f64();
        vm
    }

    /// Import the samples, one request per 2-hour block, flush, and check
    /// that the server counts every sample written.
    fn import(&self, series: &[Series], span: Span) {
        let mut written = 0usize;
        for block in span.blocks() {
            let body = import_text(series, &block);
            written += body.lines().count();
            self.post(&body);
        }
        self.flush();
        let visible = self.samples_in(span);
        assert_eq!(visible, written as f64, "samples written vs visible after force_flush");
    }

    /// Add samples (Prometheus text format, timestamps in milliseconds)
    /// and make them searchable.
    pub fn add(&self, text: &str) {
        self.post(text);
        self.flush();
    }

    fn post(&self, body: &str) {
        let (status, answer) = post_json(self.port, "/api/v1/import/prometheus", body);
        assert_eq!(status, 204, "import into VictoriaMetrics failed: {answer}\n{}", self.log());
    }

    fn flush(&self) {
        let (status, answer) = http(self.port, "GET", "/internal/force_flush");
        assert_eq!(status, 200, "force_flush: {answer}");
    }

    /// Samples of every series over `span`, as the server counts them.
    fn samples_in(&self, span: Span) -> f64 {
        let ms = (span.end - span.start).num_milliseconds() - 1;
        let query = format!("sum(count_over_time({{__name__=~\".+\"}}[{ms}ms]))");
        let answer = super::block_on(self.client().instant(&query, span.end)).unwrap();
        match answer.data {
            QueryData::Vector(v) => v.iter().map(|s| s.value).sum(),
            other => panic!("{query}: not a vector: {other:?}"),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client for this server (quick retries).
    pub fn client(&self) -> Client {
        let mut config = ClientConfig::new(self.url());
        config.backoff = std::time::Duration::from_millis(100);
        Client::new(config).unwrap()
    }

    /// The server's log (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("victoria-metrics.log")).unwrap_or_default()
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
