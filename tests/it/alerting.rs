//! `alertmanager/`: the Prometheus alert rules (`rules.yml`), their promtool
//! unit tests (`tests/*.yml`) and the Alertmanager routing
//! (`alertmanager.yml`), checked by the real tools: `promtool check rules`,
//! `promtool test rules`, `amtool check-config`, `amtool config routes
//! test` for every severity, escalation level and exporter alert, and a real
//! Alertmanager for the inhibitions. Offline: every alert has a firing and
//! a quiet unit test, every metric it reads is one the exporter exports
//! (README "Metrics reference"), every alert
//! aggregates away `instance` and `pod` (two replicas, one alert), and every
//! runbook_url points at a section of `docs/runbook.md`.

use crate::common;

use common::alertmanager::Alertmanager;
use promql_parser::parser::{self, Expr, LabelModifier};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The receivers README's Paging section documents, and the catch-all.
const RECEIVERS: &[&str] =
    &["default", "operator-pager", "operator-ticket", "senior-pager", "core-team-pager", "executive-pager", "platform"];

/// Where every alert's runbook_url points: `RUNBOOK#<alert name in lowercase>`.
const RUNBOOK: &str = "https://github.com/fleet-incentives/fleet-incentives/blob/main/docs/runbook.md";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn alertmanager_dir() -> PathBuf {
    root().join("alertmanager")
}

fn rules_path() -> PathBuf {
    alertmanager_dir().join("rules.yml")
}

fn config_path() -> PathBuf {
    alertmanager_dir().join("alertmanager.yml")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A tool of the Debian packages `prometheus` (promtool) or
/// `prometheus-alertmanager` (amtool, prometheus-alertmanager).
fn tool(name: &str) -> PathBuf {
    if name == "alertmanager" { common::alertmanager::binary() } else { common::require_binary(name) }
}

/// Run a command; its output, or a panic with stdout and stderr if it failed.
fn run_ok(what: &str, cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ------------------------------------------------------------ the rules

/// One alerting rule of rules.yml.
#[derive(Debug)]
struct Rule {
    alert: String,
    expr: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("{k}: a string")).into())).collect()
        })
        .unwrap_or_default()
}

fn alert_rules() -> Vec<Rule> {
    let rules = yaml(&rules_path());
    let groups = rules["groups"].as_array().expect("groups");
    let rules: Vec<Rule> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").iter())
        .map(|r| Rule {
            alert: r["alert"].as_str().expect("alerting rules only").into(),
            expr: r["expr"].as_str().expect("expr").into(),
            labels: string_map(&r["labels"]),
            annotations: string_map(&r["annotations"]),
        })
        .collect();
    assert!(!rules.is_empty());
    rules
}

/// The alert names of README (Paging), each with at least one rule.
const ALERTS: &[&str] = &[
    "FleetIncidentP0",
    "FleetIncidentP1",
    "FleetIncidentP2",
    "FleetIncidentP3",
    "FleetIncidentEscalated",
    "FleetIncidentSLAAtRisk",
    "FleetIncidentSLABreached",
    "FleetNodeOffline",
    "FleetRecoveryObjectiveBreached",
    "FleetClassIncidentSLABreached",
    "FleetIncentivesExporterDown",
    "FleetIncentivesEvaluationStale",
    "FleetIncentivesRulesReloadFailed",
    "FleetDataCoverageLow",
    "FleetAcknowledgementSourceDown",
    "FleetIncentivesLeakage",
];

#[test]
fn promtool_checks_the_alert_rules() {
    let out = run_ok("promtool check rules", Command::new(tool("promtool")).args(["check", "rules"]).arg(rules_path()));
    println!("{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_rules_are_exactly_the_alerts_of_the_contract() {
    let names: BTreeSet<String> = alert_rules().into_iter().map(|r| r.alert).collect();
    let expected: BTreeSet<String> = ALERTS.iter().map(|a| a.to_string()).collect();
    assert_eq!(names, expected);
    // One FleetIncidentEscalated per rung, labelled as the contract says.
    let rungs: Vec<(String, String)> = alert_rules()
        .into_iter()
        .filter(|r| r.alert == "FleetIncidentEscalated")
        .map(|r| (r.labels["escalation_level"].clone(), r.labels["escalation"].clone()))
        .collect();
    assert_eq!(
        rungs,
        [("2", "senior"), ("3", "core"), ("4", "executive")].map(|(l, e)| (l.to_string(), e.to_string()))
    );
}

/// Every selector of `e` not under an aggregation `without (instance, pod)`
/// (or `by` without them), except inside `absent()`.
fn unaggregated_selectors(e: &Expr) -> Vec<String> {
    fn walk(e: &Expr, aggregated: bool, out: &mut Vec<String>) {
        match e {
            Expr::Aggregate(a) => {
                let drops = match &a.modifier {
                    Some(LabelModifier::Exclude(l)) => {
                        ["instance", "pod"].iter().all(|x| l.labels.iter().any(|y| y == x))
                    }
                    Some(LabelModifier::Include(l)) => !l.labels.iter().any(|y| y == "instance" || y == "pod"),
                    None => true,
                };
                walk(&a.expr, aggregated || drops, out);
            }
            Expr::Unary(u) => walk(&u.expr, aggregated, out),
            Expr::Binary(b) => {
                walk(&b.lhs, aggregated, out);
                walk(&b.rhs, aggregated, out);
            }
            Expr::Paren(p) => walk(&p.expr, aggregated, out),
            Expr::Subquery(s) => walk(&s.expr, aggregated, out),
            Expr::VectorSelector(v) if !aggregated => out.push(v.to_string()),
            Expr::MatrixSelector(m) if !aggregated => out.push(m.to_string()),
            Expr::Call(c) if c.func.name == "absent" => {}
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, aggregated, out)),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(e, false, &mut out);
    out
}

#[test]
fn every_alert_aggregates_away_instance_and_pod_so_two_replicas_give_one_alert() {
    for r in alert_rules() {
        let e = parser::parse(&r.expr).unwrap_or_else(|e| panic!("{}: {e}\n{}", r.alert, r.expr));
        let bare = unaggregated_selectors(&e);
        assert!(
            bare.is_empty(),
            "{}: {bare:?} keep `instance`/`pod`: wrap in max without (instance, pod) (...)",
            r.alert
        );
    }
}

/// Every `fleet_incentives_*` name in `text`.
fn metric_tokens(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("fleet_incentives_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn every_metric_the_alerts_read_is_in_the_metrics_reference() {
    let known = common::dashboards::readme_metrics();
    let mut unknown = vec![];
    for r in alert_rules() {
        let e = parser::parse(&r.expr).unwrap();
        let mut used: BTreeSet<String> =
            common::dashboards::metric_names(&e).into_iter().map(|n| n.expect("a metric name")).collect();
        // The expression and the queries of annotation templates.
        used.extend(metric_tokens(&r.expr));
        for text in r.annotations.values() {
            used.extend(metric_tokens(text));
        }
        for m in used.into_iter().filter(|m| m.starts_with("fleet_incentives_")) {
            if !known.contains(&m) {
                unknown.push(format!("{}: {m}", r.alert));
            }
        }
    }
    assert!(unknown.is_empty(), "not in README's metrics reference:\n{}", unknown.join("\n"));
}

#[test]
fn every_alert_has_a_summary_description_runbook_and_playbook_and_says_how_to_acknowledge() {
    for r in alert_rules() {
        for a in ["summary", "description", "runbook_url", "playbook"] {
            assert!(r.annotations.get(a).is_some_and(|t| !t.trim().is_empty()), "{}: no {a}", r.alert);
        }
        // An incident or a node is acknowledged by a silence on its label.
        let ack = if r.alert.starts_with("FleetIncident") && !r.alert.starts_with("FleetIncidentSLA") {
            Some("amtool silence add incident=\"{{ $labels.incident }}\"")
        } else if r.alert == "FleetNodeOffline" {
            Some("amtool silence add node=\"{{ $labels.node }}\"")
        } else {
            None
        };
        if let Some(ack) = ack {
            assert!(r.annotations.values().any(|t| t.contains(ack)), "{}: does not say `{ack}`", r.alert);
        }
    }
}

// ------------------------------------------------------- the unit tests

fn unit_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(alertmanager_dir().join("tests"))
        .expect("alertmanager/tests/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no alertmanager/tests/*.yml");
    files
}

#[test]
fn promtool_runs_the_unit_tests_of_the_alert_rules() {
    let out = run_ok(
        "promtool test rules",
        Command::new(tool("promtool")).args(["test", "rules"]).args(unit_test_files()).current_dir(root()),
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
}

/// One `alert_rule_test` case: the alert, and the label sets it expects
/// (none = the alert must not fire).
struct Case {
    file: String,
    alertname: String,
    expected: Vec<BTreeMap<String, String>>,
}

fn unit_test_cases() -> Vec<Case> {
    let mut out = vec![];
    for path in unit_test_files() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = yaml(&path);
        let rule_files: Vec<&str> =
            doc["rule_files"].as_array().into_iter().flatten().filter_map(|f| f.as_str()).collect();
        assert_eq!(rule_files, ["../rules.yml"], "{file}: tests the repository's rules.yml");
        for test in doc["tests"].as_array().unwrap_or_else(|| panic!("{file}: tests")) {
            for case in test["alert_rule_test"].as_array().into_iter().flatten() {
                out.push(Case {
                    file: file.clone(),
                    alertname: case["alertname"].as_str().unwrap().to_string(),
                    expected: case["exp_alerts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| string_map(&a["exp_labels"]))
                        .collect(),
                });
            }
        }
    }
    out
}

#[test]
fn every_alert_rule_has_a_firing_and_a_quiet_unit_test() {
    let cases = unit_test_cases();
    let mut missing = vec![];
    for r in alert_rules() {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.alertname == r.alert).collect();
        if !mine.iter().any(|c| c.expected.is_empty()) {
            missing.push(format!("{}: no case where it does not fire", r.alert));
        }
        // This rule (not only its name) fires in some case: an expected
        // alert carries the rule's own labels.
        let fires =
            mine.iter().flat_map(|c| &c.expected).any(|labels| r.labels.iter().all(|(k, v)| labels.get(k) == Some(v)));
        if !fires {
            missing.push(format!("{} {:?}: no case where it fires", r.alert, r.labels));
        }
    }
    let known: BTreeSet<String> = alert_rules().into_iter().map(|r| r.alert).collect();
    for c in &cases {
        assert!(known.contains(&c.alertname), "{}: tests unknown alert {}", c.file, c.alertname);
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_unit_tests_cover_replicas_and_the_p0_only_executive() {
    // Two series differing only in instance are in every file (HA).
    for path in unit_test_files() {
        let text = read(&path);
        assert!(text.contains("instance=\"10.0.0.2:9464\""), "{}: no second replica", path.display());
    }
    // The executive rung fires for P0 only.
    let executive: Vec<BTreeMap<String, String>> = unit_test_cases()
        .into_iter()
        .filter(|c| c.alertname == "FleetIncidentEscalated")
        .flat_map(|c| c.expected)
        .filter(|l| l.get("escalation_level").map(String::as_str) == Some("4"))
        .collect();
    assert!(!executive.is_empty());
    assert!(executive.iter().all(|l| l["severity"] == "P0"), "{executive:?}");
}

// ------------------------------------------------------------ the runbook

/// GitHub's anchor of a Markdown heading.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_runbook_url_points_at_a_section_of_docs_runbook() {
    let runbook = read(&root().join("docs/runbook.md"));
    let anchors: BTreeSet<String> =
        runbook.lines().filter(|l| l.starts_with('#')).map(|l| github_anchor(l.trim_start_matches('#'))).collect();
    for r in alert_rules() {
        let url = &r.annotations["runbook_url"];
        let (base, anchor) = url.split_once('#').unwrap_or_else(|| panic!("{}: {url} has no #anchor", r.alert));
        assert_eq!(base, RUNBOOK, "{}: one runbook", r.alert);
        assert_eq!(anchor, r.alert.to_lowercase(), "{}: the anchor is the alert's name", r.alert);
        assert!(anchors.contains(anchor), "{}: docs/runbook.md has no section #{anchor}", r.alert);
    }
}

#[test]
fn the_github_anchor_of_a_heading() {
    assert_eq!(github_anchor(" FleetIncidentP0"), "fleetincidentp0");
    assert_eq!(github_anchor("Escalation ladder (contract)"), "escalation-ladder-contract");
}

// ----------------------------------------------------------- Alertmanager

#[test]
fn amtool_checks_the_alertmanager_configuration() {
    let out = run_ok("amtool check-config", Command::new(tool("amtool")).arg("check-config").arg(config_path()));
    println!("{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_receivers_are_the_contracts_and_each_is_configured() {
    let config = yaml(&config_path());
    let receivers = config["receivers"].as_array().unwrap();
    let names: Vec<&str> = receivers.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.iter().copied().collect::<BTreeSet<_>>(), RECEIVERS.iter().copied().collect());
    for r in receivers {
        let configs: Vec<&String> = r.as_object().unwrap().keys().filter(|k| k.ends_with("_configs")).collect();
        assert!(!configs.is_empty(), "{}: no notification config", r["name"]);
    }
    // The executive sponsor is reached through PagerDuty (contract), and
    // no key is in the file: keys are read from files.
    let exec = receivers.iter().find(|r| r["name"] == "executive-pager").unwrap();
    assert!(exec["pagerduty_configs"].is_array());
    for r in receivers {
        for pd in r["pagerduty_configs"].as_array().into_iter().flatten() {
            assert!(
                pd["routing_key"].is_null() && pd["routing_key_file"].is_string(),
                "{}: routing_key_file",
                r["name"]
            );
        }
    }
}

/// `amtool config routes test`: the receivers an alert with `labels` goes to.
fn route(labels: &str, verify: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(tool("amtool"));
    cmd.args(["config", "routes", "test"]).arg(format!("--config.file={}", config_path().display()));
    if !verify.is_empty() {
        cmd.arg(format!("--verify.receivers={}", verify.join(",")));
    }
    let out = cmd.args(labels.split_whitespace()).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// (what, labels, receivers in the order of the route tree).
const ROUTES: &[(&str, &str, &[&str])] = &[
    // Level 1: the operator, by severity.
    (
        "a P0 incident pages the operator",
        "alertname=FleetIncidentP0 severity=P0 incident=i0 region=eu operator=alice",
        &["operator-pager"],
    ),
    (
        "a P1 incident pages the operator",
        "alertname=FleetIncidentP1 severity=P1 incident=i1 region=us operator=bob",
        &["operator-pager"],
    ),
    (
        "a P2 incident pages the operator",
        "alertname=FleetIncidentP2 severity=P2 incident=i2 region=ap operator=carol",
        &["operator-pager"],
    ),
    (
        "a P3 incident is a ticket",
        "alertname=FleetIncidentP3 severity=P3 incident=i3 region=eu operator=alice",
        &["operator-ticket"],
    ),
    // Escalation: one receiver per rung.
    (
        "a P0 at level 2 pages the senior",
        "alertname=FleetIncidentEscalated escalation_level=2 escalation=senior severity=P0 incident=i0",
        &["senior-pager"],
    ),
    (
        "a P1 at level 2 pages the senior",
        "alertname=FleetIncidentEscalated escalation_level=2 escalation=senior severity=P1 incident=i1",
        &["senior-pager"],
    ),
    (
        "a P2 at level 2 pages the senior",
        "alertname=FleetIncidentEscalated escalation_level=2 escalation=senior severity=P2 incident=i2",
        &["senior-pager"],
    ),
    (
        "a P0 at level 3 pages the core team",
        "alertname=FleetIncidentEscalated escalation_level=3 escalation=core severity=P0 incident=i0",
        &["core-team-pager"],
    ),
    (
        "a P1 at level 3 pages the core team",
        "alertname=FleetIncidentEscalated escalation_level=3 escalation=core severity=P1 incident=i1",
        &["core-team-pager"],
    ),
    (
        "a P2 at level 3 pages the core team",
        "alertname=FleetIncidentEscalated escalation_level=3 escalation=core severity=P2 incident=i2",
        &["core-team-pager"],
    ),
    (
        "a P0 at level 4 pages the executive",
        "alertname=FleetIncidentEscalated escalation_level=4 escalation=executive severity=P0 incident=i0",
        &["executive-pager"],
    ),
    (
        "the executive is for critical incidents only",
        "alertname=FleetIncidentEscalated escalation_level=4 escalation=executive severity=P1 incident=i1",
        &["core-team-pager"],
    ),
    // SLA: with the operator; a breach of P0-P2 also pages the fleet lead.
    (
        "a P0 at risk goes to the operator",
        "alertname=FleetIncidentSLAAtRisk severity=P0 incident=i0",
        &["operator-pager"],
    ),
    (
        "a P2 at risk goes to the operator",
        "alertname=FleetIncidentSLAAtRisk severity=P2 incident=i2",
        &["operator-pager"],
    ),
    ("a P3 at risk is a ticket", "alertname=FleetIncidentSLAAtRisk severity=P3 incident=i3", &["operator-ticket"]),
    (
        "a P0 breach pages the senior and the operator",
        "alertname=FleetIncidentSLABreached severity=P0 incident=i0",
        &["senior-pager", "operator-pager"],
    ),
    (
        "a P1 breach pages the senior and the operator",
        "alertname=FleetIncidentSLABreached severity=P1 incident=i1",
        &["senior-pager", "operator-pager"],
    ),
    (
        "a P2 breach pages the senior and the operator",
        "alertname=FleetIncidentSLABreached severity=P2 incident=i2",
        &["senior-pager", "operator-pager"],
    ),
    ("a P3 breach is a ticket", "alertname=FleetIncidentSLABreached severity=P3 incident=i3", &["operator-ticket"]),
    // Nodes.
    (
        "a node offline pages the operator",
        "alertname=FleetNodeOffline node=node-004 operator=carol region=ap",
        &["operator-pager"],
    ),
    // Incident classes past a target: the operator's ticket queue.
    (
        "a ticket past its respond target is a ticket for the operator",
        "alertname=FleetClassIncidentSLABreached class=critical incident=critical-20261101T0000Z-T-1 target=respond",
        &["operator-ticket"],
    ),
    // Recovery objectives: the core team, per service.
    (
        "an API service past its RTO pages the core team",
        "alertname=FleetRecoveryObjectiveBreached service=api job=api rto=15m rpo=5m",
        &["core-team-pager"],
    ),
    (
        "backup systems past their RTO page the core team",
        "alertname=FleetRecoveryObjectiveBreached service=backup job=backup rto=4h rpo=24h",
        &["core-team-pager"],
    ),
    // The exporter's health.
    (
        "the exporter down goes to platform",
        "alertname=FleetIncentivesExporterDown job=fleet-incentives team=platform",
        &["platform"],
    ),
    (
        "stale evaluations go to platform",
        "alertname=FleetIncentivesEvaluationStale job=fleet-incentives team=platform",
        &["platform"],
    ),
    (
        "a failed rules reload goes to platform",
        "alertname=FleetIncentivesRulesReloadFailed job=fleet-incentives team=platform",
        &["platform"],
    ),
    (
        "low coverage goes to platform",
        "alertname=FleetDataCoverageLow job=fleet-incentives team=platform",
        &["platform"],
    ),
    (
        "unreadable acknowledgements go to platform",
        "alertname=FleetAcknowledgementSourceDown job=fleet-incentives team=platform",
        &["platform"],
    ),
    // Leakage: not a page.
    (
        "leakage goes to platform",
        "alertname=FleetIncentivesLeakage job=fleet-incentives kind=unrostered_node team=platform",
        &["platform"],
    ),
    // Not ours.
    ("someone else's alert goes to the default receiver", "alertname=Watchdog severity=none", &["default"]),
];

#[test]
fn every_severity_escalation_level_and_exporter_alert_reaches_its_receiver() {
    let mut wrong = vec![];
    for (what, labels, expected) in ROUTES {
        let (verified, got) = route(labels, expected);
        if !verified || got != expected.join(",") {
            wrong.push(format!("{what}: {labels}\n  expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // --verify.receivers does fail on a wrong receiver (the check above is real).
    let (verified, _) = route(ROUTES[0].1, &["executive-pager"]);
    assert!(!verified, "amtool --verify.receivers accepted a wrong receiver");
}

#[test]
fn no_alert_of_the_rules_falls_through_to_the_default_receiver() {
    for r in alert_rules() {
        let severities: &[&str] = if r.alert.starts_with("FleetIncident") { &["P0", "P1", "P2", "P3"] } else { &[""] };
        for severity in severities {
            let mut labels = format!("alertname={}", r.alert);
            for (k, v) in &r.labels {
                labels.push_str(&format!(" {k}={v}"));
            }
            if !severity.is_empty() && !r.expr.contains("severity=") {
                labels.push_str(&format!(" severity={severity}"));
            }
            let (_, got) = route(&labels, &[]);
            assert!(!got.is_empty() && !got.split(',').any(|r| r == "default"), "{labels}: {got:?}");
            assert!(got.split(',').all(|r| RECEIVERS.contains(&r)), "{labels}: {got:?}");
        }
    }
}

/// `alertmanager.yml`'s routes and inhibitions with receivers that have no
/// notification configs, so nothing leaves the machine.
fn inhibition_config() -> String {
    let text = read(&config_path());
    let head = &text[..text.find("\nreceivers:").expect("receivers: last in alertmanager.yml")];
    let receivers: String = RECEIVERS.iter().map(|r| format!("  - name: {r}\n")).collect();
    format!("{head}\nreceivers:\n{receivers}")
}

/// POST `alerts` (label sets: `k=v k=v`) to `am`, then whether each is inhibited.
fn inhibited(am: &Alertmanager, alerts: &[&str]) -> Vec<bool> {
    let sets: Vec<BTreeMap<String, String>> = alerts
        .iter()
        .map(|a| {
            a.split_whitespace().map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| (k.into(), v.into())).collect()
        })
        .collect();
    let body =
        serde_json::to_string(&sets.iter().map(|l| serde_json::json!({ "labels": l })).collect::<Vec<_>>()).unwrap();
    let (status, reply) = common::post_json(am.port, "/api/v2/alerts", &body);
    assert_eq!(status, 200, "{reply}");
    // The API computes inhibition when it is read.
    let (status, reply) = common::http(am.port, "GET", "/api/v2/alerts");
    assert_eq!(status, 200, "{reply}");
    let got: Vec<Value> = serde_json::from_str(&reply).unwrap();
    sets.iter()
        .map(|l| {
            let a = got
                .iter()
                .find(|a| &string_map(&a["labels"]) == l)
                .unwrap_or_else(|| panic!("alert {l:?} not in Alertmanager"));
            a["status"]["inhibitedBy"].as_array().is_some_and(|i| !i.is_empty())
        })
        .collect()
}

/// Check a table of (labels, inhibited?) against a fresh Alertmanager.
fn assert_inhibitions(table: &[(&str, bool)]) {
    let am = Alertmanager::start(&inhibition_config());
    let labels: Vec<&str> = table.iter().map(|(l, _)| *l).collect();
    let got = inhibited(&am, &labels);
    let wrong: Vec<String> = table
        .iter()
        .zip(got)
        .filter(|((_, want), got)| want != got)
        .map(|((l, want), _)| format!("{l}: expected {}", if *want { "inhibited" } else { "not inhibited" }))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_fleet_wide_p0_inhibits_region_and_node_pages_everywhere() {
    assert_inhibitions(&[
        ("alertname=FleetIncidentP0 severity=P0 incident=i0 region=eu operator=alice", false),
        ("alertname=FleetIncidentP1 severity=P1 incident=i1 region=us operator=bob", true),
        ("alertname=FleetIncidentP2 severity=P2 incident=i2 region=ap operator=carol", true),
        ("alertname=FleetIncidentP3 severity=P3 incident=i3 region=eu operator=alice", false),
        ("alertname=FleetNodeOffline node=node-004 region=ap operator=carol", true),
        (
            "alertname=FleetIncidentEscalated escalation_level=2 escalation=senior severity=P1 incident=i1 region=us",
            true,
        ),
        ("alertname=FleetIncidentSLABreached severity=P2 incident=i2 region=ap", true),
        // The P0's own escalation still climbs the ladder.
        (
            "alertname=FleetIncidentEscalated escalation_level=4 escalation=executive severity=P0 incident=i0 region=eu",
            false,
        ),
        ("alertname=FleetIncentivesEvaluationStale job=fleet-incentives team=platform", false),
    ]);
}

#[test]
fn a_region_outage_inhibits_node_pages_in_its_region_only() {
    assert_inhibitions(&[
        ("alertname=FleetIncidentP1 severity=P1 incident=i1 region=us operator=bob", false),
        ("alertname=FleetNodeOffline node=node-003 region=us operator=bob", true),
        ("alertname=FleetNodeOffline node=node-001 region=eu operator=alice", false),
        ("alertname=FleetIncidentP2 severity=P2 incident=i2 region=us operator=bob", false),
    ]);
}

#[test]
fn the_exporter_down_inhibits_its_other_self_alerts_only() {
    assert_inhibitions(&[
        ("alertname=FleetIncentivesExporterDown job=fleet-incentives team=platform", false),
        ("alertname=FleetIncentivesEvaluationStale job=fleet-incentives team=platform", true),
        ("alertname=FleetIncentivesRulesReloadFailed job=fleet-incentives team=platform", true),
        ("alertname=FleetDataCoverageLow job=fleet-incentives team=platform", true),
        ("alertname=FleetAcknowledgementSourceDown job=fleet-incentives team=platform", true),
        ("alertname=FleetIncidentP2 severity=P2 incident=i2 region=ap operator=carol", false),
    ]);
}

#[test]
fn node_offline_fires_after_the_rules_failure_after() {
    // FleetNodeOffline's threshold is written in rules.yml; the rules say when
    // a node counts as failed (`source.failure_after`). The two must agree,
    // or on-call is paged for a node the statement does not count as failed.
    let rule = alert_rules().into_iter().find(|r| r.alert == "FleetNodeOffline").expect("FleetNodeOffline");
    let expr = parser::parse(&rule.expr).unwrap_or_else(|e| panic!("{}: {e}", rule.expr));
    let Expr::Binary(b) = &expr else { panic!("FleetNodeOffline: `offline time > threshold` expected: {}", rule.expr) };
    let Expr::NumberLiteral(threshold) = b.rhs.as_ref() else {
        panic!("FleetNodeOffline: a number of seconds on the right: {}", rule.expr)
    };
    let rules = fleet_incentives::rules::load_dir(&root().join("rules")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        threshold.val,
        rules.source.failure_after.seconds() as f64,
        "alertmanager/rules.yml FleetNodeOffline and rules/ source.failure_after ({}) disagree",
        rules.source.failure_after
    );
}
