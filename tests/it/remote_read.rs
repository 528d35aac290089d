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

const TAIL: &str = r#"tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base stipend, kind: per_node, category: stipend, amount: 500}
      - {id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > 0.995"}
      - {id: clean_month, name: No major incident, kind: fixed, category: performance_bonus, amount: 100, when: "major_incidents < 1"}
operators:
  - {id: op-eu, name: EU operator, email: eu@example.org, tier: t1, start: 2026-01-01, nodes: [n1, n2, n3]}
  - {id: op-us, name: US operator, email: us@example.org, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6]}
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
