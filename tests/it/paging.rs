//! Paging end to end, live, every component real:
//!
//! a real Prometheus scrapes a fleet of 20 nodes (node-005 is a dead port,
//! so its `up` is 0; the others are a healthy stand-in), scrapes `serve`
//! and evaluates `alertmanager/rules.yml`; a real Alertmanager routes with
//! `alertmanager/alertmanager.yml` (its receivers pointed at a test webhook,
//! by name); `serve` reads acknowledgements from that Alertmanager's
//! silences. Two `serve` replicas run side by side (high availability):
//! Prometheus scrapes both, the alert rules aggregate the replicas away, so
//! on-call gets one page, not two.
//!
//! The shipped rules run with a 1 s step, failure after 3 s and a ladder
//! in seconds (senior after 8 s, core team 30 s later), no maintenance
//! windows (the test may run on a Sunday night).

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::alertmanager::{Alertmanager, Webhook, routed_config};
use common::serve::{Serve, sample, samples};
use fleet_incentives::local_prometheus::{LocalPrometheus, copy_dir};
use fleet_incentives::source::prometheus::VectorSample;
use fleet_incentives::source::{Client, ClientConfig, QueryData};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The fast rules' `failure_after` (3s in [`fast_rules`]): an incident pages
/// this long after its first down sample, and its response and escalation
/// count from there.
const FAILURE_AFTER: i64 = 3;
const SENIOR_AFTER: i64 = 8;
const CORE_AFTER: i64 = 30;

/// The regions of the roster's 20 nodes, as the rule tests give them.
fn region(node: u32) -> &'static str {
    match node {
        1 | 2 | 6 | 7 | 11..=14 => "eu",
        4 | 8 | 10 => "ap",
        _ => "us",
    }
}

/// A copy of `rules/` for a fast clock: 1 s step, failure after 3 s, no
/// maintenance, the ladder in seconds.
fn fast_rules() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("fleet-paging-rules-").tempdir().unwrap();
    copy_dir(Path::new("rules"), dir.path()).unwrap();
    std::fs::write(
        dir.path().join("programme.yaml"),
        r#"version: 1
programme:
  name: Timmy Fleet operator programme
  currency: USD
  time_zone: UTC
source:
  up: 'up{job="fleet-node"}'
  node_label: instance
  region_label: region
  step: 1s
  failure_after: 3s
missing_data:
  min_coverage: 0.95
  policy: withhold
"#,
    )
    .unwrap();
    let path = dir.path().join("severities.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("after: 15m") && text.contains("after: 1h"), "the shipped ladder changed:\n{text}");
    let text = text
        .replace("after: 15m", &format!("after: {SENIOR_AFTER}s"))
        .replace("after: 1h", &format!("after: {CORE_AFTER}s"));
    std::fs::write(path, text).unwrap();
    dir
}

/// Prometheus scraping the fleet (node-005 at a dead port) and the `serve`
/// replicas, evaluating the shipped alert rules every second, alerting `am_port`.
fn prometheus(dir: &Path, healthy_port: u16, serve_ports: &[u16], am_port: u16) -> LocalPrometheus {
    let dead = common::free_port();
    let targets: String = (1..=20)
        .map(|n| {
            let port = if n == 5 { dead } else { healthy_port };
            format!(
                "      - targets: ['127.0.0.1:{port}']\n        labels: {{instance: node-{n:03}, region: {}}}\n",
                region(n)
            )
        })
        .collect();
    let rules = std::fs::canonicalize("alertmanager/rules.yml").unwrap();
    let replicas: Vec<String> = serve_ports.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{}']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
         scrape_configs:\n  - job_name: fleet-node\n    static_configs:\n{targets}\
         \x20 - job_name: fleet-incentives\n    static_configs:\n      - targets: [{}]\n",
        rules.display(),
        replicas.join(", ")
    );
    LocalPrometheus::start(dir, &config, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn label_value<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let start = line.find(&format!("{label}=\""))? + label.len() + 2;
    Some(&line[start..start + line[start..].find('"')?])
}

fn value(line: &str) -> f64 {
    line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// The one sample of `name` for `incident`.
fn incident_sample(body: &str, name: &str, incident: &str) -> Option<f64> {
    samples(body, name).into_iter().find(|l| label_value(l, "incident") == Some(incident)).map(value)
}

/// `evaluate` of this month to now, as JSON.
fn evaluate(prometheus: &str, rules: &Path, alertmanager: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    cmd.arg("evaluate")
        .arg(format!("--prometheus.url={prometheus}"))
        .arg(format!("--rules.dir={}", rules.display()))
        .arg(format!("--period={}", Utc::now().format("%Y-%m")))
        .args(["--format=json", "--query.attempts=1"]);
    if let Some(am) = alertmanager {
        cmd.arg(format!("--alertmanager.url={am}"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "evaluate failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn line<'a>(eval: &'a Value, operator: &str, line: &str) -> &'a Value {
    let op = eval["operators"].as_array().unwrap().iter().find(|o| o["id"] == operator).expect("operator");
    op["lines"].as_array().unwrap().iter().find(|l| l["id"] == line).expect("line")
}

/// The series of an instant query, now.
fn query(prometheus: &str, promql: &str) -> Vec<VectorSample> {
    let client = Client::new(ClientConfig::new(prometheus)).unwrap();
    match common::block_on(client.instant(promql, Utc::now())).unwrap_or_else(|e| panic!("{e}")).data {
        QueryData::Vector(v) => v,
        other => panic!("`{promql}` is not a vector: {other:?}"),
    }
}

#[test]
fn an_outage_pages_the_operator_escalates_until_silenced_and_the_response_time_is_evaluated() {
    let hook = Webhook::start();
    let am = Alertmanager::start(&routed_config(Path::new("alertmanager/alertmanager.yml"), hook.port));
    let rules = fast_rules();
    let ports = [common::free_port(), common::free_port()];
    let prom_dir = tempfile::Builder::new().prefix("fleet-paging-prom-").tempdir().unwrap();
    let prom = prometheus(prom_dir.path(), hook.port, &ports, am.port);
    let am_flag = format!("--alertmanager.url={}", am.url());
    let mut serve = Serve::start(ports[0], &prom.url, rules.path(), &[&am_flag]);
    let mut replica = Serve::start(ports[1], &prom.url, rules.path(), &[&am_flag]);
    serve.wait_ready();
    replica.wait_ready();
    let wait = Duration::from_secs(90);

    // 1. node-005 (dave, us: 1 of 9 nodes) is down: a P2 pages the operator.
    let page = hook
        .wait_firing("operator-pager", wait, |a| {
            a.labels.get("alertname").map(String::as_str) == Some("FleetIncidentP2")
                && a.labels.get("incident").is_some_and(|i| i.ends_with("-node-005"))
        })
        .unwrap_or_else(|| {
            panic!("no P2 page for node-005; notifications:\n{}\nserve:\n{}", hook.summary(), serve.log())
        });
    let incident = page.labels["incident"].clone();
    assert_eq!(page.labels.get("operator").map(String::as_str), Some("dave"), "{:?}", page.labels);
    assert!(page.annotations.contains_key("runbook_url"), "{:?}", page.annotations);

    let body = serve.get("/metrics").1;
    let start_secs = incident_sample(&body, "fleet_incentives_incident_start_timestamp_seconds", &incident)
        .expect("the open incident on /metrics");
    let start: DateTime<Utc> = Utc.timestamp_opt(start_secs as i64, 0).unwrap();
    let paged = start + chrono::Duration::seconds(FAILURE_AFTER);

    // 2. Nobody acknowledges: 8 s after the page the senior operator is paged.
    let senior = hook
        .wait_firing("senior-pager", wait, |a| a.labels.get("incident") == Some(&incident))
        .unwrap_or_else(|| panic!("no escalation to the senior; notifications:\n{}", hook.summary()));
    assert_eq!(senior.labels.get("escalation_level").map(String::as_str), Some("2"), "{:?}", senior.labels);
    assert!(hook.firing("core-team-pager").is_empty(), "the core team was paged too early:\n{}", hook.summary());
    let elapsed = (Utc::now() - paged).num_seconds();
    assert!(elapsed < SENIOR_AFTER + CORE_AFTER - 5, "too slow to test the silence: {elapsed} s after the page");

    // 3. The operator acknowledges by silencing the incident.
    let before_ack = Utc::now();
    am.silence(&[("incident", &incident)], "dave");
    let body = serve.wait_metrics("the acknowledgement", |b| {
        incident_sample(b, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident).is_some()
    });
    let acked = incident_sample(&body, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident).unwrap();
    assert!((acked - before_ack.timestamp() as f64).abs() <= 2.0, "acknowledged at {acked}, silenced at {before_ack}");
    assert_eq!(incident_sample(&body, "fleet_incentives_incident_escalation_level", &incident), Some(2.0));

    // 4. Past the core team's turn, the incident stays with the senior: no
    //    level 3 on /metrics, in Prometheus' alerts or at the core team.
    let core_due = paged + chrono::Duration::seconds(SENIOR_AFTER + CORE_AFTER);
    while Utc::now() < core_due + chrono::Duration::seconds(6) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let body = serve.get("/metrics").1;
    assert_eq!(incident_sample(&body, "fleet_incentives_incident_escalation_level", &incident), Some(2.0), "{body}");
    let level3 = query(&prom.url, "ALERTS{alertname=\"FleetIncidentEscalated\",escalation_level=\"3\"}");
    assert!(level3.is_empty(), "Prometheus escalated after the acknowledgement: {level3:?}");
    assert!(hook.firing("core-team-pager").is_empty(), "the core team was paged:\n{}", hook.summary());
    // The incident is still open and unresolved: the node is still down.
    let p2 = query(&prom.url, "ALERTS{alertname=\"FleetIncidentP2\",alertstate=\"firing\"}");
    assert_eq!(p2.len(), 1, "{p2:?}");

    // Two replicas, one alert each: the same incident, level and
    // acknowledgement from both, and Alertmanager got every alert once.
    let replica_body = replica.get("/metrics").1;
    for name in
        ["fleet_incentives_incident_escalation_level", "fleet_incentives_incident_acknowledged_timestamp_seconds"]
    {
        assert_eq!(incident_sample(&replica_body, name, &incident), incident_sample(&body, name, &incident), "{name}");
    }
    let per_replica =
        query(&prom.url, &format!("fleet_incentives_incident_escalation_level{{incident=\"{incident}\"}}"));
    assert_eq!(per_replica.len(), 2, "both replicas scraped: {per_replica:?}");
    let mut paged: Vec<String> = hook
        .firing("operator-pager")
        .into_iter()
        .chain(hook.firing("senior-pager"))
        .filter(|a| a.labels.get("incident") == Some(&incident))
        .map(|a| format!("{:?}", a.labels))
        .collect();
    paged.sort();
    paged.dedup();
    assert_eq!(paged.len(), 2, "one P2 page and one escalation, whatever the replicas: {paged:#?}");
    assert!(paged.iter().all(|l| !l.contains("instance")), "{paged:#?}");

    // 5. The response time is in the evaluation: on /metrics and from
    //    `evaluate`, counted from the page (first down sample + failure_after).
    let response = acked - (start_secs + FAILURE_AFTER as f64);
    let mean = samples(&body, "fleet_incentives_incident_mean_response_seconds")
        .into_iter()
        .find(|l| label_value(l, "severity") == Some("P2"))
        .map(value);
    assert_eq!(mean, Some(response.floor()), "{body}");
    let eval = evaluate(&prom.url, rules.path(), Some(&am.url()));
    let inc = eval["incidents"].as_array().unwrap().iter().find(|i| i["id"] == incident.as_str()).expect("incident");
    assert_eq!(inc["response_seconds"].as_f64(), Some(response.floor()), "{inc}");
    assert_eq!(inc["respond_verdict"], "met", "{inc}");
    assert_eq!(inc["escalation"], "senior", "{inc}");
    // Dave's average response is under 15 minutes: the tier 1 response bonus pays.
    let bonus = line(&eval, "dave", "response_bonus");
    assert_eq!((bonus["status"].as_str(), bonus["amount"].as_str()), (Some("paid"), Some("100.00")), "{bonus}");
    // Without the acknowledgement source the same line is withheld, saying why.
    let blind = evaluate(&prom.url, rules.path(), None);
    let bonus = line(&blind, "dave", "response_bonus");
    assert_eq!(bonus["status"], "withheld", "{bonus}");
    assert!(bonus["reason"].as_str().unwrap().contains("no acknowledgement source"), "{bonus}");
}

#[test]
fn when_alertmanager_goes_away_the_acknowledgements_read_stay_and_serve_says_so() {
    let hook = Webhook::start();
    let am = Alertmanager::start(&routed_config(Path::new("alertmanager/alertmanager.yml"), hook.port));
    let rules = fast_rules();
    let port = common::free_port();
    let prom_dir = tempfile::Builder::new().prefix("fleet-paging-prom-").tempdir().unwrap();
    let prom = prometheus(prom_dir.path(), hook.port, &[port], am.port);
    let mut serve = Serve::start(port, &prom.url, rules.path(), &[&format!("--alertmanager.url={}", am.url())]);
    serve.wait_ready();
    let open = |b: &str| {
        samples(b, "fleet_incentives_incident_start_timestamp_seconds")
            .into_iter()
            .find_map(|l| label_value(l, "incident").filter(|i| i.ends_with("-node-005")).map(str::to_string))
    };
    let body = serve.wait_metrics("the incident on node-005", |b| open(b).is_some());
    assert_eq!(sample(&body, "fleet_incentives_acknowledgement_source_up"), Some(1.0));
    let incident = open(&body).unwrap();
    am.silence(&[("node", "node-005")], "dave");
    let body = serve.wait_metrics("the acknowledgement", |b| {
        incident_sample(b, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident).is_some()
    });
    let acked = incident_sample(&body, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident);
    let level = incident_sample(&body, "fleet_incentives_incident_escalation_level", &incident);

    // Alertmanager goes away: serve keeps evaluating with the silences it read.
    drop(am);
    let body = serve.wait_metrics("the acknowledgement source down", |b| {
        sample(b, "fleet_incentives_acknowledgement_source_up") == Some(0.0)
            && sample(b, "fleet_incentives_acknowledgement_source_failures_total").is_some_and(|n| n >= 2.0)
    });
    assert_eq!(incident_sample(&body, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident), acked);
    assert_eq!(incident_sample(&body, "fleet_incentives_incident_escalation_level", &incident), level);
    assert_eq!(sample(&body, "fleet_incentives_evaluation_failures_total"), Some(0.0), "evaluation goes on");
    assert!(serve.log().contains("cannot read acknowledgements: keeping the silences read before"), "{}", serve.log());

    // A replica started while Alertmanager is down knows no acknowledgement:
    // the response bonus is withheld, never paid or refused.
    let port = common::free_port();
    let dead = format!("--alertmanager.url=http://127.0.0.1:{}", common::free_port());
    let mut blind = Serve::start(port, &prom.url, rules.path(), &[&dead]);
    blind.wait_ready();
    let body = blind.wait_metrics("the incident", |b| open(b).is_some());
    assert_eq!(sample(&body, "fleet_incentives_acknowledgement_source_up"), Some(0.0));
    let withheld = samples(&body, "fleet_incentives_pay_line_status").into_iter().any(|l| {
        label_value(l, "payee") == Some("dave")
            && label_value(l, "line") == Some("response_bonus")
            && label_value(l, "status") == Some("withheld")
            && value(l) == 1.0
    });
    assert!(withheld, "dave's response bonus is not withheld:\n{body}");
    assert_eq!(incident_sample(&body, "fleet_incentives_incident_acknowledged_timestamp_seconds", &incident), None);
}
