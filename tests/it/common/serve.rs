//! `fleet-incentives serve` as a child process, and helpers to read its
//! OpenMetrics exposition.

use super::http;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

/// A `serve` process; killed on drop. Its log goes to a file.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    pub fn start(port: u16, prometheus_url: &str, rules_dir: &Path, extra: &[&str]) -> Serve {
        let dir = tempfile::Builder::new().prefix("fleet-serve-").tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
            .arg("serve")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--prometheus.url={prometheus_url}"))
            .arg(format!("--rules.dir={}", rules_dir.display()))
            .args(["--evaluation-interval=1s", "--evaluation.delay=0s", "--query.attempts=1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Serve { child, port, log, _dir: dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path)
    }

    /// Poll until `/-/ready` answers 200.
    pub fn wait_ready(&mut self) {
        let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
        super::wait_ready("serve", self.port, 60, &mut self.child, log);
    }

    /// Poll /metrics until `pred` holds on the body.
    pub fn wait_metrics(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + StdDuration::from_secs(30);
        loop {
            let (_, body) = self.get("/metrics");
            if pred(&body) {
                return body;
            }
            if Instant::now() > deadline {
                panic!("/metrics never showed {what}:\n{body}\nlog:\n{}", self.log());
            }
            std::thread::sleep(StdDuration::from_millis(200));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first sample line of `name` (exact name, any labels).
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The sample lines of `name` (exact name, any labels).
pub fn samples<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .collect()
}

/// Metric names of the sample lines of an exposition.
pub fn sample_names(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}
