//! A REAL Alertmanager for tests, and a webhook receiver that records what
//! it is sent.
//!
//! - [`Webhook`]: a tiny HTTP server on a free loopback port. Every POST is
//!   an Alertmanager notification, kept with its path (the test config
//!   sends each receiver to `/<receiver name>`). `GET /metrics` answers a
//!   trivial exposition, so the same server can stand in for healthy scrape
//!   targets.
//! - [`routed_config`]: the repository's `alertmanager/alertmanager.yml`
//!   with every receiver replaced by a webhook to [`Webhook`] (by name) and
//!   the route timings shortened — the route tree and inhibition are the
//!   shipped ones.
//! - [`Alertmanager::start`]: `prometheus-alertmanager` on a free port with a
//!   temporary storage dir and clustering off (`--cluster.listen-address=`).

use super::{free_port, post_json, require_binary, watchdog};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One alert of a notification.
#[derive(Debug, Clone)]
pub struct NotifiedAlert {
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// One notification Alertmanager sent.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The receiver, from the request path.
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<NotifiedAlert>,
}

/// A webhook receiver; stops with the test process.
pub struct Webhook {
    pub port: u16,
    received: Arc<Mutex<Vec<Notification>>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(vec![]));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || handle(stream, &sink));
            }
        });
        Webhook { port, received }
    }

    pub fn notifications(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }

    /// Firing alerts sent to `receiver`.
    pub fn firing(&self, receiver: &str) -> Vec<NotifiedAlert> {
        self.notifications()
            .into_iter()
            .filter(|n| n.receiver == receiver)
            .flat_map(|n| n.alerts)
            .filter(|a| a.status == "firing")
            .collect()
    }

    /// Wait until `receiver` got a firing alert that `pred` accepts.
    pub fn wait_firing(
        &self,
        receiver: &str,
        timeout: Duration,
        pred: impl Fn(&NotifiedAlert) -> bool,
    ) -> Option<NotifiedAlert> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self.firing(receiver).into_iter().find(|a| pred(a)) {
                return Some(a);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every notification, one line each, for failure messages.
    pub fn summary(&self) -> String {
        self.notifications()
            .iter()
            .map(|n| {
                let alerts: Vec<String> = n
                    .alerts
                    .iter()
                    .map(|a| {
                        format!("{} {}{:?}", a.status, a.labels.get("alertname").cloned().unwrap_or_default(), a.labels)
                    })
                    .collect();
                format!("{} ({}): {}", n.receiver, n.status, alerts.join("; "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn handle(mut stream: TcpStream, sink: &Mutex<Vec<Notification>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = vec![];
    let mut chunk = [0u8; 8192];
    let (head_end, content_length) = loop {
        let Ok(n) = stream.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + content_length {
        let Ok(n) = stream.read(&mut chunk) else { return };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or("/"));
    if method == "GET" {
        let body = "# TYPE node_alive gauge\nnode_alive 1\n";
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
    let map = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default()
    };
    let alerts = body["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|a| NotifiedAlert {
                    status: a["status"].as_str().unwrap_or_default().to_string(),
                    labels: map(&a["labels"]),
                    annotations: map(&a["annotations"]),
                })
                .collect()
        })
        .unwrap_or_default();
    sink.lock().unwrap().push(Notification {
        receiver: path.trim_start_matches('/').to_string(),
        status: body["status"].as_str().unwrap_or_default().to_string(),
        alerts,
    });
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// `alertmanager/alertmanager.yml` with every receiver a webhook to
/// `http://127.0.0.1:<webhook_port>/<receiver name>` and every
/// `group_wait`/`group_interval` 1 s (`repeat_interval` 1 h), as JSON
/// (which Alertmanager reads as YAML).
pub fn routed_config(shipped: &Path, webhook_port: u16) -> String {
    let text = std::fs::read_to_string(shipped).unwrap_or_else(|e| panic!("{}: {e}", shipped.display()));
    let mut config: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", shipped.display()));
    let names: Vec<String> = config["receivers"]
        .as_array()
        .expect("receivers")
        .iter()
        .map(|r| r["name"].as_str().expect("receiver name").to_string())
        .collect();
    config["receivers"] = Value::Array(
        names
            .iter()
            .map(|n| {
                json!({"name": n, "webhook_configs": [{"url": format!("http://127.0.0.1:{webhook_port}/{n}"), "send_resolved": true}]})
            })
            .collect(),
    );
    if let Some(global) = config.get_mut("global").and_then(Value::as_object_mut) {
        // Placeholder SMTP/PagerDuty settings are not needed by webhooks.
        global.retain(|k, _| k == "resolve_timeout");
    }
    config.as_object_mut().unwrap().remove("templates");
    shorten(&mut config["route"]);
    serde_json::to_string_pretty(&config).unwrap()
}

fn shorten(route: &mut Value) {
    let Some(r) = route.as_object_mut() else { return };
    r.insert("group_wait".into(), json!("1s"));
    r.insert("group_interval".into(), json!("1s"));
    r.insert("repeat_interval".into(), json!("1h"));
    if let Some(children) = r.get_mut("routes").and_then(Value::as_array_mut) {
        for c in children {
            shorten(c);
        }
    }
}

/// The Alertmanager binary: Debian's `prometheus-alertmanager`, or upstream's `alertmanager`.
pub fn binary() -> std::path::PathBuf {
    let on_path = |n: &str| fleet_incentives::local_prometheus::find_binary(n).is_some();
    let name = if on_path("alertmanager") && !on_path("prometheus-alertmanager") {
        "alertmanager"
    } else {
        "prometheus-alertmanager"
    };
    require_binary(name)
}

/// A running Alertmanager; killed on drop (or by a watchdog when the test
/// process dies first).
pub struct Alertmanager {
    pub port: u16,
    child: Child,
    watchdog: Child,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Start Alertmanager with `config` (YAML or JSON text) and wait until ready.
    pub fn start(config: &str) -> Alertmanager {
        let bin = binary();
        let dir = tempfile::Builder::new().prefix("fleet-am-").tempdir().unwrap();
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let watchdog = watchdog(child.id(), dir.path());
        let mut am = Alertmanager { port, child, watchdog, dir };
        let log = || std::fs::read_to_string(am.dir.path().join("alertmanager.log")).unwrap_or_default();
        super::wait_ready("alertmanager", port, 30, &mut am.child, log);
        am
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Create a silence with equality matchers `labels` for an hour, as
    /// `amtool silence add` does; returns its id.
    pub fn silence(&self, labels: &[(&str, &str)], created_by: &str) -> String {
        let now = chrono::Utc::now();
        let matchers: Vec<Value> =
            labels.iter().map(|(k, v)| json!({"name": k, "value": v, "isRegex": false, "isEqual": true})).collect();
        let body = json!({
            "matchers": matchers,
            "startsAt": now.to_rfc3339(),
            "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "createdBy": created_by,
            "comment": "acknowledged",
        })
        .to_string();
        let (status, answer) = post_json(self.port, "/api/v2/silences", &body);
        assert_eq!(status, 200, "silence not created: {answer}");
        let json: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        json["silenceID"].as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
