//! Remote read (`--source.protocol`): the month read with Prometheus'
//! `/api/v1/read` gives the same bytes as the PromQL plan, against a REAL
//! Prometheus; a broken stream (cut, bad checksum) between them fails the
//! reading; a server without remote read (a REAL VictoriaMetrics) is read
//! with PromQL by `auto` and refused by `remote-read`.
//!
//! The month is the six-node October of `close` (outages, one of 26 hours
//! across a day border, maintenance windows with an outage inside, a gap).

use crate::common;

use chrono::{TimeZone, Utc};
use common::fleet::{self, Plan};
use common::victoria::VictoriaMetrics;
use common::{Prometheus, block_on, rules_from_yaml};
use fleet_incentives::rules::Rules;
use fleet_incentives::source::{Client, ClientConfig, Protocol, QueryKind, Reading, read_facts};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const PERIOD: &str = "2026-10";

fn plan() -> Plan {
    fleet::six_nodes(Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(), 31, 4, 20, 22)
}

/// One tier whose lines read the uptime, the incidents and the nodes seen.
const TAIL: &str = r#"tiers:
  - id: t1
    name: Tier 1
    lines: [
      {id: base, name: Base stipend, kind: per_node, category: stipend, amount: 500},
      {id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > 0.995"},
      {id: clean_month, name: No major incident, kind: fixed, category: performance_bonus, amount: 100, when: "major_incidents < 1"}]
operators: [
  {id: op-eu, name: EU operator, email: eu@example.org, tier: t1, start: 2026-01-01, nodes: [n1, n2, n3]},
  {id: op-us, name: US operator, email: us@example.org, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6]}]
"#;

fn rules_yaml() -> String {
    [
        "\nversion: 1\nprogramme: {name: Remote read programme, currency: USD, time_zone: UTC}\n",
        fleet::SIX_NODE_RULES,
        TAIL,
    ]
    .concat()
}

fn rules() -> Rules {
    rules_from_yaml(&rules_yaml())
}

fn prometheus() -> &'static Prometheus {
    static P: OnceLock<Prometheus> = OnceLock::new();
    P.get_or_init(|| {
        let plan = plan();
        Prometheus::start(&plan.series("fleet-node"), plan.span)
    })
}

fn client(url: &str, protocol: Protocol) -> Client {
    let config = ClientConfig {
        protocol,
        max_attempts: 1,
        backoff: std::time::Duration::from_millis(50),
        ..ClientConfig::new(url)
    };
    Client::new(config).unwrap()
}

fn month(url: &str, protocol: Protocol) -> Result<Reading, String> {
    let span = plan().span;
    block_on(read_facts(&client(url, protocol), &rules(), span.start, span.end)).map_err(|e| e.to_string())
}

fn remote_reads(r: &Reading) -> Vec<&fleet_incentives::source::QueryRecord> {
    r.queries.iter().filter(|q| q.kind == QueryKind::RemoteRead).collect()
}

// ------------------------------------------------------------------ close

fn close(url: &str, protocol: &str, rules: &Path, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
        .env("RUST_LOG", "warn")
        .args(["close", "--period", PERIOD, "--prometheus.url", url, "--source.protocol", protocol])
        .arg("--rules.dir")
        .arg(rules)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "close ({protocol}) failed: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_close_with_remote_read_gives_the_bytes_of_a_close_with_promql() {
    let p = prometheus();
    let root = tempfile::tempdir().unwrap();
    let rules_dir = root.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("rules.yaml"), rules_yaml()).unwrap();
    let dir = |name: &str| -> PathBuf { root.path().join(name).join(PERIOD) };
    close(&p.url(), "promql", &rules_dir, &root.path().join("promql"));
    close(&p.url(), "remote-read", &rules_dir, &root.path().join("remote"));
    for file in ["statement.json", "statement.csv", "programme-report.md", "payroll.csv"] {
        let (a, b) =
            (std::fs::read(dir("promql").join(file)).unwrap(), std::fs::read(dir("remote").join(file)).unwrap());
        assert!(a == b, "{file} differs between the PromQL and the remote-read close");
    }
    let promql = std::fs::read_to_string(dir("promql").join("evidence.json")).unwrap();
    let remote = std::fs::read_to_string(dir("remote").join("evidence.json")).unwrap();
    let marker = "\"computed_from\":\"remote_read\",";
    assert!(!promql.contains(marker));
    let marked = remote.lines().filter(|l| l.contains(marker)).count();
    let availability = remote.lines().filter(|l| l.contains("\"purpose\":\"availability\"")).count();
    assert!(marked >= availability && availability == 2 * 31, "{marked} marked, {availability} availability queries");
    assert!(remote.contains("\"purpose\":\"outages\",\"computed_from\":\"remote_read\""));
    assert!(remote.contains("\"purpose\":\"maintenance\",\"computed_from\":\"remote_read\""));
    assert!(remote.replace(marker, "") == promql, "the evidence differs beyond the protocol marker");
    // Replay runs the PromQL plan on the remote-read evidence.
    let o = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
        .args(["replay", "--format", "json", "--evidence"])
        .arg(dir("remote").join("evidence.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout == std::fs::read(dir("remote").join("statement.json")).unwrap(), "replay differs");
}

#[test]
fn remote_read_loads_each_sample_of_the_month_about_once() {
    let p = prometheus();
    let r = month(&p.url(), Protocol::Auto).unwrap();
    let reads = remote_reads(&r);
    assert_eq!(reads.len(), 4, "four pieces");
    assert!(reads.iter().all(|q| q.error.is_none()));
    let decoded: usize = reads.iter().map(|q| q.samples).sum();
    let in_month: u64 = r.facts.nodes.iter().map(|n| n.up_samples + n.down_samples + n.maintenance_samples).sum();
    assert!(
        decoded as f64 <= 1.1 * in_month as f64 && decoded as u64 >= in_month - 6 * 4 * 60,
        "{decoded} vs {in_month}"
    );
    let promql = month(&p.url(), Protocol::Promql).unwrap();
    assert_eq!(r.facts, promql.facts);
    assert!(remote_reads(&promql).is_empty());
}

// ------------------------------------------------------------------ faults

/// A loopback proxy in front of a real Prometheus that breaks the answers
/// to remote read requests: `cut` bytes of the response and no more, or
/// (with `flip`) one byte of the body changed.
struct Faulty {
    port: u16,
}

impl Faulty {
    fn start(upstream: u16, cut: Option<usize>, flip: Option<usize>) -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                std::thread::spawn(move || Self::serve(client, upstream, cut, flip));
            }
        });
        Faulty { port }
    }

    fn serve(mut client: TcpStream, upstream: u16, cut: Option<usize>, flip: Option<usize>) {
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
        let mut first = vec![0u8; 64 * 1024];
        let n = match client.read(&mut first) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let remote_read = first[..n].starts_with(b"POST /api/v1/read");
        server.write_all(&first[..n]).unwrap();
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut s2);
            let _ = s2.shutdown(Shutdown::Write);
        });
        let mut sent = 0usize;
        let mut body_at: Option<usize> = None;
        let mut head = vec![];
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunk = buf[..n].to_vec();
            if remote_read {
                if body_at.is_none() {
                    head.extend_from_slice(&chunk);
                    if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        body_at = Some(i + 4);
                    }
                }
                if let (Some(at), Some(f)) = (body_at, flip) {
                    let target = at + f;
                    if (sent..sent + n).contains(&target) {
                        chunk[target - sent] ^= 0xff;
                    }
                }
                if let Some(limit) = cut
                    && sent + n > limit
                {
                    let _ = client.write_all(&chunk[..limit.saturating_sub(sent)]);
                    break;
                }
            }
            sent += n;
            if client.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[test]
fn a_remote_read_stream_cut_short_fails_the_reading() {
    let p = prometheus();
    let proxy = Faulty::start(p.port, Some(3000), None);
    for protocol in [Protocol::RemoteRead, Protocol::Auto] {
        let e = month(&proxy.url(), protocol).expect_err("a cut stream must fail the reading");
        assert!(e.contains("remote read") && (e.contains("broke") || e.contains("ends inside a frame")), "{e}");
    }
}

#[test]
fn a_remote_read_frame_with_a_bad_checksum_fails_the_reading() {
    let p = prometheus();
    let proxy = Faulty::start(p.port, None, Some(400));
    let e = month(&proxy.url(), Protocol::RemoteRead).expect_err("a corrupt frame must fail the reading");
    assert!(e.contains("remote read"), "{e}");
    assert!(e.contains("CRC32") || e.contains("frame") || e.contains("broke"), "{e}");
}

// -------------------------------------------------------- other backends

#[test]
fn auto_reads_a_server_without_remote_read_with_promql_and_remote_read_refuses_it() {
    let plan = plan();
    let vm = VictoriaMetrics::start(&plan.series("fleet-node"), plan.span);
    let url = format!("http://127.0.0.1:{}", vm.port);
    let auto = month(&url, Protocol::Auto).unwrap();
    let reads = remote_reads(&auto);
    assert!(!reads.is_empty() && reads.iter().all(|q| q.error.as_deref().is_some_and(|e| e.contains("HTTP"))));
    let promql = month(&url, Protocol::Promql).unwrap();
    assert_eq!(auto.facts, promql.facts);
    assert_eq!(auto.facts, month(&prometheus().url(), Protocol::RemoteRead).unwrap().facts);
    let e = month(&url, Protocol::RemoteRead).unwrap_err();
    assert!(e.contains("--source.protocol=remote-read") && e.contains("HTTP"), "{e}");
}

// ---------------------------------------------------------------- decoder

/// The XOR chunks a real Prometheus sends for n6 over its 26-hour outage
/// (days 20–21), decoded by [`xor::decode`], are the samples PromQL's raw
/// range selector returns.
#[test]
fn chunks_from_a_real_prometheus_decode_to_the_samples_promql_returns() {
    use fleet_incentives::source::remote_read::{proto, xor};
    use prost::Message;
    let p = prometheus();
    let (start, end) =
        (Utc.with_ymd_and_hms(2026, 10, 19, 23, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 10, 21, 3, 0, 0).unwrap());
    let matcher = |name: &str, value: &str| proto::LabelMatcher { r#type: 0, name: name.into(), value: value.into() };
    let request = proto::ReadRequest {
        queries: vec![proto::Query {
            start_timestamp_ms: start.timestamp_millis() + 1,
            end_timestamp_ms: end.timestamp_millis(),
            matchers: vec![matcher("__name__", "up"), matcher("job", "fleet-node"), matcher("instance", "n6")],
        }],
        accepted_response_types: vec![proto::STREAMED_XOR_CHUNKS],
    };
    let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
    let response = block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/read", p.url()))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap().to_vec()
    });
    let (mut at, mut samples, mut chunks) = (0, vec![], 0);
    while at < response.len() {
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = response[at];
            at += 1;
            len |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        let crc = u32::from_be_bytes(response[at..at + 4].try_into().unwrap());
        let message = &response[at + 4..at + 4 + len];
        assert_eq!(crc32c::crc32c(message), crc);
        at += 4 + len;
        for s in proto::ChunkedReadResponse::decode(message).unwrap().chunked_series {
            for c in s.chunks {
                chunks += 1;
                xor::decode(&c.data, |t, v| samples.push((t, v))).unwrap();
            }
        }
    }
    assert!(chunks >= 2, "the outage spans several chunks");
    samples.retain(|(t, _)| *t > start.timestamp_millis() && *t <= end.timestamp_millis());
    let range = (end - start).num_milliseconds() - 1;
    let q = format!("up{{job=\"fleet-node\",instance=\"n6\"}}[{range}ms]");
    let answer = block_on(client(&p.url(), Protocol::Promql).instant(&q, end)).unwrap();
    let fleet_incentives::source::QueryData::Matrix(m) = answer.data else { panic!("a matrix") };
    let want: Vec<(i64, f64)> = m[0].samples.iter().map(|(t, v)| (t.timestamp_millis(), *v)).collect();
    assert_eq!(samples, want);
    assert!(want.iter().any(|(_, v)| *v == 0.0) && want.iter().any(|(_, v)| *v == 1.0));
}

// ----------------------------------------------------------- stale markers

/// A scrape target whose one series is up, then down, then gone (so
/// Prometheus writes a stale marker), then back: what the target serves.
struct Target {
    port: u16,
    body: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let served = body.clone();
        std::thread::spawn(move || {
            for mut c in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let b = served.lock().unwrap().clone();
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                    b.len()
                );
            }
        });
        Target { port, body }
    }

    fn serve(&self, body: &str, seconds: u64) {
        *self.body.lock().unwrap() = body.to_string();
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
}

#[test]
fn stale_markers_are_skipped_as_promql_range_selectors_skip_them() {
    use fleet_incentives::source::evidence::Recorder;
    let target = Target::start();
    let span = common::Span {
        start: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap(),
        step: 60,
    };
    let p = Prometheus::start_scraping(
        &plan().series("fleet-node")[..1],
        span,
        &format!("[{{job_name: probe, static_configs: [{{targets: ['127.0.0.1:{}']}}]}}]", target.port),
    );
    let start = Utc::now() - chrono::Duration::hours(2);
    target.serve("fleet_probe{node=\"s1\"} 1\n", 4);
    target.serve("fleet_probe{node=\"s1\"} 0\n", 3);
    target.serve("", 3);
    target.serve("fleet_probe{node=\"s1\"} 1\n", 3);
    let end = Utc::now();
    let rules = rules_from_yaml("version: 1\nsource: {up: fleet_probe, node_label: node, step: 1s}\n");
    let read = |protocol| {
        let recorder = Recorder::new();
        let c = client(&p.url(), protocol).recording(recorder.clone());
        (block_on(read_facts(&c, &rules, start, end)).unwrap(), recorder)
    };
    let (promql, promql_rec) = read(Protocol::Promql);
    let (remote, remote_rec) = read(Protocol::RemoteRead);
    assert_eq!(remote.facts, promql.facts);
    let node = &remote.facts.nodes[0];
    assert!(node.down_samples >= 1 && node.up_samples >= 2, "{node:?}");
    let answers: std::collections::HashMap<_, _> =
        promql_rec.exchanges().into_iter().map(|e| (e.request, e.answer)).collect();
    let computed: Vec<_> = remote_rec.exchanges().into_iter().filter(|e| e.computed_from.is_some()).collect();
    assert!(computed.len() >= 3, "counts, sums and the raw outage samples");
    for e in computed {
        assert_eq!(Some(&e.answer), answers.get(&e.request), "{:?}", e.request);
    }
    // The stale marker came back from remote read and was not counted.
    let decoded: usize = remote_reads(&remote).iter().map(|q| q.samples).sum();
    let counted = node.up_samples + node.down_samples;
    assert!(decoded as u64 > counted, "decoded {decoded}, counted {counted}: no stale marker read?");
}
