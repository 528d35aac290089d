//! Leakage (seed 003) end to end, all real: a Prometheus holding three days
//! of a fleet where x9 reports but is on no roster and op-gone's roster node
//! g1 never reports (op-gone is paid a retainer all the same). `serve`
//! exports the findings; the same Prometheus scrapes it, evaluates the
//! shipped alert rules (FleetIncentivesLeakage, one per kind, pending for
//! its hour) and answers the dashboards' leakage panels; `evaluate` keeps
//! the warning lines as they were and adds the structured findings.

use crate::common;

use chrono::{Duration, TimeZone, Utc};
use common::fleet::{self, Node, Plan};
use common::serve::{Serve, samples};
use common::{Span, http};
use fleet_incentives::local_prometheus::{self as local, LocalPrometheus};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

/// The programme, before [`fleet::RULES`] (its source reads the `operator` label).
const HEAD: &str = "programme: {name: Leakage programme, currency: USD, time_zone: UTC}\n";

/// After [`fleet::RULES`]: n1 and n2 are op-eu's, g1 op-gone's; every
/// operator gets a 50 retainer whatever its nodes do.
const TAIL: &str = r#"severities:
  - {id: P2, name: Node, definition: a single node, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: stipend, name: Stipend, kind: per_node, amount: 500}
      - {id: retainer, name: Retainer, kind: fixed, amount: 50}
operators:
  - {id: op-eu, name: EU operator, tier: t1, start: 2026-01-01, nodes: [n1, n2]}
  - {id: op-gone, name: Gone operator, tier: t1, start: 2026-01-01, nodes: [g1]}
"#;

/// October 1–3, 2026, at 1 m: n1 and n2 (eu, op-eu) and x9 (ap, labelled
/// operator rogue, on no roster); no series for g1.
fn plan() -> Plan {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let node = |name: &str, region: &str, operator: &str| Node {
        name: name.into(),
        region: region.into(),
        operator: operator.into(),
    };
    Plan {
        span: Span { start, end: start + Duration::days(3), step: 60 },
        nodes: vec![node("n1", "eu", "op-eu"), node("n2", "eu", "op-eu"), node("x9", "ap", "rogue")],
        outages: vec![],
        gaps: vec![],
    }
}

/// A Prometheus on the backfilled plan that scrapes `serve_port` and
/// evaluates `alertmanager/rules.yml` every second.
fn prometheus(dir: &Path, serve_port: u16) -> LocalPrometheus {
    let plan = plan();
    let data = dir.join("data");
    local::backfill(&plan.series("fleet"), plan.span, &dir.join("om"), &data, false).unwrap_or_else(|e| panic!("{e}"));
    let rules = std::fs::canonicalize("alertmanager/rules.yml").unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\n\
         scrape_configs:\n  - job_name: fleet-incentives\n    static_configs:\n      - targets: ['127.0.0.1:{serve_port}']\n",
        rules.display()
    );
    LocalPrometheus::start(&data, &config, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Poll Prometheus' instant query API until `pred` holds on the result.
fn wait_query(port: u16, query: &str, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let path = format!("/api/v1/query?query={}", query.replace(' ', "%20").replace('"', "%22"));
    loop {
        let (_, body) = http(port, "GET", &path);
        let result: Vec<Value> = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default();
        if pred(&result) {
            return result;
        }
        assert!(Instant::now() < deadline, "Prometheus never showed {what}: {body}");
        std::thread::sleep(StdDuration::from_millis(500));
    }
}

#[test]
fn a_node_on_no_roster_and_a_roster_node_without_data_reach_metrics_alerts_dashboards_and_the_statement() {
    let dir = tempfile::Builder::new().prefix("fleet-leakage-").tempdir().unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("rules.yaml"), [HEAD, fleet::RULES, TAIL].concat()).unwrap();
    let port = common::free_port();
    let prom = prometheus(dir.path(), port);
    let mut serve = Serve::start(port, &prom.url, &rules_dir, &["--clock.start=2026-10-03T12:00:00Z"]);
    serve.wait_ready();

    // /metrics: a count per kind, and who.
    let body =
        serve.wait_metrics("the leakage findings", |b| !samples(b, "fleet_incentives_leakage_findings").is_empty());
    // Each sample as (name and labels, value).
    let lines = |name: &str| -> BTreeSet<(String, String)> {
        samples(&body, name)
            .into_iter()
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                (series.to_string(), value.parse::<f64>().unwrap().to_string())
            })
            .collect()
    };
    let set = |v: &[(&str, f64)]| -> BTreeSet<(String, String)> {
        v.iter().map(|(s, x)| (s.to_string(), x.to_string())).collect()
    };
    assert_eq!(
        lines("fleet_incentives_leakage_findings"),
        set(&[
            (r#"fleet_incentives_leakage_findings{kind="roster_node_without_data"}"#, 1.0),
            (r#"fleet_incentives_leakage_findings{kind="unrostered_node"}"#, 1.0),
            (r#"fleet_incentives_leakage_findings{kind="paid_without_active_node"}"#, 1.0),
        ])
    );
    assert_eq!(
        lines("fleet_incentives_leakage_roster_node_without_data"),
        set(&[(r#"fleet_incentives_leakage_roster_node_without_data{node="g1",operator="op-gone",region=""}"#, 1.0)])
    );
    assert_eq!(
        lines("fleet_incentives_leakage_unrostered_node"),
        set(&[(r#"fleet_incentives_leakage_unrostered_node{node="x9",operator="rogue",region="ap"}"#, 1.0)])
    );
    // op-gone: the retainer (50), no stipend (no node seen).
    assert_eq!(
        lines("fleet_incentives_leakage_paid_without_active_node_amount"),
        set(&[(
            r#"fleet_incentives_leakage_paid_without_active_node_amount{payee_kind="operator",payee="op-gone",currency="USD"}"#,
            50.0
        )])
    );

    // Prometheus scraped them and evaluates the shipped alert: one per kind,
    // pending (it fires after an hour).
    let alerts =
        wait_query(prom.port, r#"ALERTS{alertname="FleetIncentivesLeakage"}"#, "the leakage alerts", |r| r.len() == 3);
    let kinds: BTreeSet<&str> = alerts.iter().filter_map(|a| a["metric"]["kind"].as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(["paid_without_active_node", "roster_node_without_data", "unrostered_node"]));
    for a in &alerts {
        assert_eq!(a["metric"]["alertstate"], "pending", "{a}");
        assert_eq!(a["metric"]["team"], "platform", "{a}");
        assert!(a["metric"]["instance"].is_null(), "replicas aggregated away: {a}");
    }

    // Every leakage panel of the dashboards has data here.
    let panels: Vec<String> = common::dashboards::load_dashboards()
        .iter()
        .flat_map(|b| {
            b.panels().into_iter().filter_map(|p| p["title"].as_str().map(str::to_string)).collect::<Vec<_>>()
        })
        .filter(|t| t.starts_with("Leakage"))
        .collect();
    assert_eq!(panels.len(), 5, "the row, the findings and three tables: {panels:?}");
    let failures: Vec<String> = common::dashboards::check_panels_against(&prom.url)
        .into_iter()
        .filter(|f| f.panel.starts_with("Leakage"))
        .map(|f| f.to_string())
        .collect();
    assert!(failures.is_empty(), "leakage panels without data:\n{}", failures.join("\n"));

    // `evaluate`: the warnings as before, and the findings as data.
    let out = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
        .args(["evaluate", "--period=2026-10", "--at=2026-10-03T12:00:00Z", "--query.attempts=1", "--format=json"])
        .arg(format!("--prometheus.url={}", prom.url))
        .arg(format!("--rules.dir={}", rules_dir.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<&str> = e["warnings"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for w in [
        "node g1 of operator op-gone has no data in the window",
        "node x9 is labelled operator rogue, who is not on the roster",
    ] {
        assert!(warnings.contains(&w), "{w}: {warnings:?}");
    }
    assert_eq!(
        e["leakage"],
        json!({
            "roster_nodes_without_data": [{"node": "g1", "operator": "op-gone", "region": null}],
            "unrostered_nodes": [{"node": "x9", "operator": "rogue", "region": "ap"}],
            "paid_without_active_node": [
                {"payee_kind": "operator", "payee": "op-gone", "amount": "50.00", "nodes": ["g1"]}
            ],
        })
    );
}
