//! Unit tests of the `/metrics` edge: the contract's names, types and labels,
//! OpenMetrics structure, absent values, escaping, vanishing payees.

use super::evaluation::status_name;
use super::*;
use crate::engine::evaluate;
use crate::engine::testutil::*;
use crate::evaluation::Evaluation;
use crate::facts::{Acknowledgement, InputFacts, Outage};
use crate::history::History;
use crate::money::to_f64;
use crate::source::{QueryKind, QueryRecord};
use chrono::Duration as Span;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod classes;
mod exposition;
mod families;
mod holds;
mod leakage;
mod scores;

use exposition::{Sample, parse, samples_named};

/// Rules with operators on node lists, a partner, tiers with conditions,
/// inputs and a promotion.
fn programme_yaml(extra_operators: &str) -> String {
    format!(
        r#"
version: 1
programme:
  name: Fleet programme
{SEVERITIES}
escalation:
  - {{ id: operator, name: Operator, after: 0s }}
  - {{ id: senior, name: Senior, after: 10m }}
  - {{ id: core, name: Core team, after: 1h }}
inputs:
  - name: revenue
    query: sum by (operator) (revenue)
    unit: money
operators:
  - {{ id: alice, name: Alice, tier: t1, start: 2026-01-15, nodes: [a1, a2, a3], region: eu, referred_by: bronze1, states: [{{ state: warned, since: 2026-10-02, reason: Late reports }}] }}
  - {{ id: bob, name: Bob, tier: t1, start: 2026-09-10, nodes: [b1, b2], region: us, referred_by: bronze1 }}
{extra_operators}
partners:
  - {{ id: bronze1, name: Bronze One, tier: bronze, start: 2026-01-01 }}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {{ id: stipend, name: Base stipend, kind: per_node, category: stipend, amount: 500, prorate: true }}
      - {{ id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > 0.995" }}
      - {{ id: share, name: Revenue share, kind: percent, category: revenue, percent: 2, of: {{ input: revenue }} }}
partner_tiers:
  - id: bronze
    name: Bronze
    lines:
      - {{ id: commission, name: Referral commission, kind: percent, percent: 10, of: {{ input: revenue }}, per_referral: true }}
promotions:
  - from: t1
    to: t2
    checks:
      - {{ name: six months, when: "tenure_months >= 6" }}
adjustments:
  - {{ id: backpay, payee: alice, amount: 75.25, currency: USD, reason: Missed bonus, reference: FIN-1, approved_by: Dana, period: 2026-10, corrects: 2026-09, dispute: d1 }}
disputes:
  - {{ id: d1, payee: alice, period: 2026-09, line: uptime_bonus, opened_on: 2026-10-01, opened_by: Alice, text: Bonus missing, status: resolved, resolution: Paid back, resolved_on: 2026-10-03 }}
  - {{ id: d2, payee: alice, period: 2026-09, line: stipend, opened_on: 2026-10-02, opened_by: Alice, text: One node short, status: open }}
"#
    )
}

/// October 2026 evaluated on the 15th at noon: a resolved P2, an open
/// acknowledged P2 on a node still down, a roster node without data (no
/// uptime), a node of nobody on the roster.
fn realistic(extra_operators: &str) -> Evaluation {
    let r = rules(&programme_yaml(extra_operators));
    let p = period("2026-10");
    let now = t(2026, 10, 15, 12, 0);
    let mut f = facts(&p);
    f.end = now;
    let open_start = now - Span::minutes(90);
    let mut b1 = node(&f, "b1", "us", &[(open_start, 90)]);
    b1.outages[0].ongoing = true;
    f.nodes = vec![
        node(&f, "a1", "eu", &[(t(2026, 10, 8, 12, 0), 20)]),
        node(&f, "a2", "eu", &[]),
        b1,
        node(&f, "b2", "us", &[]),
        node(&f, "x9", "ap", &[]),
    ];
    let revenue = [("alice".into(), 1000.0), ("bob".into(), 333.33), ("dan".into(), 500.0)];
    f.inputs.insert("revenue".into(), InputFacts::Values(revenue.into()));
    // Paged 5 minutes in (failure_after), acknowledged 10 minutes after the page.
    f.acknowledgements = Some(vec![Acknowledgement { node: "b1".into(), at: open_start + Span::minutes(15) }]);
    evaluate(&f, &september(), &r, &p, now)
}

/// An operator whose only roster node has no data, paid a revenue share
/// (see [`realistic`]'s inputs): paid with no active node.
const LEAKING: &str = "  - { id: dan, name: Dan, tier: t1, start: 2026-01-01, nodes: [d1], region: eu }";

/// September closed for bob (who joined on the 10th): his year to date is
/// known; alice owes 100 from it, the partner nothing; dan (when on the
/// roster) was paid nothing.
fn september() -> History {
    let yaml = "- period: 2026-09\n  operators:\n    bob: {tier: t1, lines: {stipend: 700.5}}\n    alice: {tier: t1, lines: {stipend: -100}, balance_out: -100}\n    dan: {tier: t1}\n  partners:\n    bronze1: {tier: bronze}\n";
    crate::history::figures::history(serde_saphyr::from_str(yaml).unwrap(), "test").unwrap()
}

/// The contract: every metric's sample name and its label names.
const EVALUATION_METRICS: &[(&str, &[&str])] = &[
    ("fleet_incentives_period_info", &["period", "time_zone", "programme"]),
    ("fleet_incentives_rules_info", &["sha256", "programme"]),
    ("fleet_incentives_period_start_timestamp_seconds", &[]),
    ("fleet_incentives_period_end_timestamp_seconds", &[]),
    ("fleet_incentives_data_window_end_timestamp_seconds", &[]),
    ("fleet_incentives_fleet_nodes", &[]),
    ("fleet_incentives_fleet_uptime_ratio", &[]),
    ("fleet_incentives_fleet_coverage_ratio", &[]),
    ("fleet_incentives_region_uptime_ratio", &["region"]),
    ("fleet_incentives_region_coverage_ratio", &["region"]),
    ("fleet_incentives_node_uptime_ratio", &["node", "operator", "region"]),
    ("fleet_incentives_node_coverage_ratio", &["node", "operator", "region"]),
    ("fleet_incentives_node_down_seconds", &["node", "operator", "region"]),
    ("fleet_incentives_node_offline_since_timestamp_seconds", &["node", "operator", "region"]),
    ("fleet_incentives_operator_uptime_ratio", &["operator", "tier", "region"]),
    ("fleet_incentives_operator_coverage_ratio", &["operator", "tier", "region"]),
    ("fleet_incentives_operator_nodes", &["operator", "tier", "region"]),
    ("fleet_incentives_incidents", &["severity"]),
    ("fleet_incentives_incidents_open", &["severity"]),
    ("fleet_incentives_incident_mttr_seconds", &["severity"]),
    ("fleet_incentives_incident_mean_response_seconds", &["severity"]),
    ("fleet_incentives_sla_breaches", &["severity", "target"]),
    ("fleet_incentives_incident_start_timestamp_seconds", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_age_seconds", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_respond_deadline_timestamp_seconds", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_resolve_deadline_timestamp_seconds", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_acknowledged_timestamp_seconds", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_escalation_level", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_incident_nodes_down", &["incident", "severity", "region", "operator"]),
    ("fleet_incentives_pay_line_amount", &["payee_kind", "payee", "line", "kind", "category", "currency"]),
    ("fleet_incentives_pay_line_status", &["payee_kind", "payee", "line", "status"]),
    ("fleet_incentives_payee_total_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_adjustment_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_balance_in_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_payable_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_balance_out_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_written_off_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_payee_year_to_date_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_programme_total_amount", &["currency"]),
    ("fleet_incentives_programme_payable_amount", &["currency"]),
    ("fleet_incentives_dispute_open_age_seconds", &["payee_kind", "payee", "dispute", "period", "line"]),
    ("fleet_incentives_payee_state", &["payee_kind", "payee", "state"]),
    ("fleet_incentives_payee_held_amount", &["payee_kind", "payee", "tier", "currency"]),
    ("fleet_incentives_programme_held_amount", &["currency"]),
    ("fleet_incentives_programme_hold_all", &[]),
    ("fleet_incentives_promotion_eligible", &["operator", "to"]),
    ("fleet_incentives_promotion_eligible_since_timestamp_seconds", &["operator", "to"]),
    ("fleet_incentives_evaluation_warnings", &[]),
    ("fleet_incentives_leakage_findings", &["kind"]),
    ("fleet_incentives_leakage_roster_node_without_data", &["node", "operator", "region"]),
    ("fleet_incentives_leakage_unrostered_node", &["node", "operator", "region"]),
    ("fleet_incentives_leakage_paid_without_active_node_amount", &["payee_kind", "payee", "currency"]),
];

const SELF_METRICS: &[(&str, &[&str])] = &[
    ("fleet_incentives_build_info", &["version"]),
    ("fleet_incentives_evaluations_total", &[]),
    ("fleet_incentives_evaluation_failures_total", &[]),
    ("fleet_incentives_evaluation_duration_seconds", &[]),
    ("fleet_incentives_last_successful_evaluation_timestamp_seconds", &[]),
    ("fleet_incentives_input_up", &["input"]),
    ("fleet_incentives_input_failures_total", &["input"]),
    ("fleet_incentives_queries_total", &["purpose"]),
    ("fleet_incentives_query_failures_total", &["purpose"]),
    ("fleet_incentives_query_samples_total", &["purpose"]),
    ("fleet_incentives_rules_last_reload_successful", &[]),
    ("fleet_incentives_rules_last_reload_success_timestamp_seconds", &[]),
    ("fleet_incentives_acknowledgement_source_up", &[]),
    ("fleet_incentives_acknowledgement_source_failures_total", &[]),
];

fn busy_self_metrics() -> SelfMetrics {
    let m = SelfMetrics::new("1.2.3").with_acknowledgement_source();
    m.acknowledgement_source(false);
    m.acknowledgement_source(true);
    m.evaluation_started();
    m.evaluation_succeeded(Duration::from_millis(1500), t(2026, 10, 15, 12, 0));
    m.evaluation_started();
    m.evaluation_failed(Duration::from_millis(250));
    m.input_result("revenue", true);
    m.input_result("rating", false);
    let q = |purpose: &str, samples: Option<u64>, error: Option<&str>| QueryRecord {
        purpose: purpose.into(),
        kind: QueryKind::Instant,
        query: "up".into(),
        time: None,
        start: None,
        end: None,
        step_seconds: None,
        series: 1,
        samples: 1,
        warnings: vec![],
        total_queryable_samples: samples,
        error: error.map(str::to_string),
    };
    m.queries(&[
        q("availability", Some(1000), None),
        q("availability", Some(234), None),
        q("input:rating", None, Some("timeout")),
    ]);
    m.reload(true, t(2026, 10, 1, 0, 0));
    m
}

#[test]
fn every_contract_metric_appears_with_exactly_its_labels() {
    let e = realistic(LEAKING);
    let body = exposition(Some(&encode_evaluation(&e)), &busy_self_metrics());
    let samples = parse(&body);
    for (name, labels) in EVALUATION_METRICS.iter().chain(SELF_METRICS) {
        let found = samples_named(&samples, name);
        assert!(!found.is_empty(), "{name} missing from\n{body}");
        let want: BTreeSet<&str> = labels.iter().copied().collect();
        for s in found {
            let got: BTreeSet<&str> = s.labels.keys().map(String::as_str).collect();
            assert_eq!(got, want, "labels of {name}");
        }
    }
    // And nothing else.
    let contract: BTreeSet<&str> = EVALUATION_METRICS.iter().chain(SELF_METRICS).map(|(n, _)| *n).collect();
    let written: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(written, contract);
}

/// The metric names of README's "Metrics reference" tables.
fn readme_metrics() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("\n## Metrics reference").expect("README: ## Metrics reference");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("fleet_incentives_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn readmes_metrics_reference_documents_exactly_the_contract() {
    let contract: BTreeSet<String> = EVALUATION_METRICS
        .iter()
        .chain(SELF_METRICS)
        .chain(classes::CLASS_METRICS)
        .chain(scores::SCORE_METRICS)
        .map(|(n, _)| n.to_string())
        .collect();
    let readme = readme_metrics();
    let undocumented: Vec<&String> = contract.difference(&readme).collect();
    let stale: Vec<&String> = readme.difference(&contract).collect();
    assert!(undocumented.is_empty() && stale.is_empty(), "not in README: {undocumented:?}; not exported: {stale:?}");
}

#[test]
fn types_follow_the_contract_counters_total_infos_info_the_rest_gauges() {
    let body = exposition(Some(&encode_evaluation(&realistic(""))), &busy_self_metrics());
    for s in parse(&body) {
        let want = if s.name.ends_with("_total") {
            "counter"
        } else if s.name.ends_with("_info") {
            "info"
        } else {
            "gauge"
        };
        assert_eq!(s.kind, want, "{}", s.family);
    }
}

#[test]
fn the_evaluation_text_has_no_eof_and_the_exposition_exactly_one_at_the_end() {
    let text = encode_evaluation(&realistic(""));
    assert!(!text.contains("# EOF"));
    assert!(!busy_self_metrics().encode().contains("# EOF"));
    let body = exposition(Some(&text), &busy_self_metrics());
    parse(&body);
    // Before the first evaluation: self-metrics only, still well formed.
    let before = exposition(None, &SelfMetrics::default());
    let s = parse(&before);
    assert!(s.iter().all(|s| SELF_METRICS.iter().any(|(n, _)| *n == s.name)));
    assert_eq!(samples_named(&s, "fleet_incentives_build_info")[0].labels["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn values_are_the_evaluations_numbers() {
    let e = realistic("");
    let s = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    let one = |name: &str, f: &dyn Fn(&Sample) -> bool| -> f64 {
        let v: Vec<_> = samples_named(&s, name).into_iter().filter(|x| f(x)).collect();
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        v[0].value
    };
    let label = |k: &'static str, v: &'static str| move |s: &Sample| s.labels.get(k).map(String::as_str) == Some(v);
    assert_eq!(one("fleet_incentives_programme_total_amount", &|_| true), to_f64(e.total));
    let alice = e.operators.iter().find(|o| o.id == "alice").unwrap();
    assert_eq!(one("fleet_incentives_payee_total_amount", &label("payee", "alice")), to_f64(alice.total));
    assert_eq!(one("fleet_incentives_payee_adjustment_amount", &label("payee", "alice")), 75.25);
    assert_eq!(one("fleet_incentives_payee_adjustment_amount", &label("payee", "bob")), 0.0);
    // Alice carries 100 in from September and pays it off.
    assert_eq!(one("fleet_incentives_payee_balance_in_amount", &label("payee", "alice")), -100.0);
    let alice_payable = alice.total - rust_decimal::Decimal::ONE_HUNDRED;
    assert_eq!(one("fleet_incentives_payee_payable_amount", &label("payee", "alice")), to_f64(alice_payable));
    assert_eq!(one("fleet_incentives_payee_balance_out_amount", &label("payee", "alice")), 0.0);
    assert_eq!(one("fleet_incentives_payee_written_off_amount", &label("payee", "alice")), 0.0);
    assert_eq!(one("fleet_incentives_programme_payable_amount", &|_| true), to_f64(e.payable.unwrap()));
    assert_eq!(e.payable.unwrap(), e.total - rust_decimal::Decimal::ONE_HUNDRED);
    // d2 is open, opened on the 2nd (evaluated on the 15th at noon); d1 was resolved on the 3rd.
    let d2 = one("fleet_incentives_dispute_open_age_seconds", &label("dispute", "d2"));
    assert_eq!(d2, 13.5 * 86_400.0);
    let l = &samples_named(&s, "fleet_incentives_dispute_open_age_seconds")[0].labels;
    assert_eq!((l["payee"].as_str(), l["period"].as_str(), l["line"].as_str()), ("alice", "2026-09", "stipend"));
    assert_eq!(samples_named(&s, "fleet_incentives_dispute_open_age_seconds").len(), 1);
    let bob = e.operators.iter().find(|s| s.id == "bob").unwrap();
    let bob_ytd = rust_decimal::Decimal::new(7005, 1) + bob.total;
    assert_eq!(one("fleet_incentives_payee_year_to_date_amount", &label("payee", "bob")), to_f64(bob_ytd));
    assert!(
        !samples_named(&s, "fleet_incentives_payee_year_to_date_amount").iter().any(|x| x.labels["payee"] == "alice"),
        "alice's year is not closed: no figure rather than a partial one"
    );
    // Alice is eligible; October is as far back as the history shows.
    let oct_start = t(2026, 10, 1, 0, 0).timestamp() as f64;
    assert_eq!(
        one("fleet_incentives_promotion_eligible_since_timestamp_seconds", &label("operator", "alice")),
        oct_start
    );
    assert_eq!(one("fleet_incentives_fleet_nodes", &|_| true), e.fleet.nodes as f64);
    assert_eq!(one("fleet_incentives_data_window_end_timestamp_seconds", &|_| true), unix(t(2026, 10, 15, 12, 0)));
    assert_eq!(one("fleet_incentives_period_start_timestamp_seconds", &|_| true), unix(t(2026, 10, 1, 0, 0)));
    assert_eq!(one("fleet_incentives_node_down_seconds", &label("node", "a1")), 20.0 * 60.0);

    // The open incident: on b1 (bob, us), 90 minutes old, paged after 5
    // (failure_after), acknowledged 10 after the page.
    let open = e.incidents.iter().find(|i| i.end.is_none()).unwrap();
    let start = unix(open.start);
    let inc = |s: &Sample| s.labels["incident"] == open.id;
    assert_eq!(one("fleet_incentives_incident_start_timestamp_seconds", &inc), start);
    assert_eq!(one("fleet_incentives_incident_age_seconds", &inc), 90.0 * 60.0);
    assert_eq!(one("fleet_incentives_incident_respond_deadline_timestamp_seconds", &inc), start + 300.0 + 3600.0);
    assert_eq!(one("fleet_incentives_incident_resolve_deadline_timestamp_seconds", &inc), start + 24.0 * 3600.0);
    assert_eq!(one("fleet_incentives_incident_acknowledged_timestamp_seconds", &inc), start + 900.0);
    assert_eq!(one("fleet_incentives_incident_nodes_down", &inc), 1.0);
    // Acknowledged 10 minutes after the page, as the senior fell due: the operator's
    // acknowledgement wins and the incident stays at level 1.
    assert_eq!(one("fleet_incentives_incident_escalation_level", &inc), 1.0);
    let p2 = |s: &Sample| s.labels["severity"] == "P2";
    assert_eq!(one("fleet_incentives_incident_mean_response_seconds", &p2), 600.0);
    let l = &samples_named(&s, "fleet_incentives_incident_age_seconds")[0].labels;
    assert_eq!((l["severity"].as_str(), l["region"].as_str(), l["operator"].as_str()), ("P2", "us", "bob"));
    assert_eq!(one("fleet_incentives_node_offline_since_timestamp_seconds", &|_| true), start);
    // Only the open incident has per-incident series.
    assert_eq!(samples_named(&s, "fleet_incentives_incident_age_seconds").len(), 1);

    let p2 = |s: &Sample| s.labels["severity"] == "P2";
    assert_eq!(one("fleet_incentives_incidents", &p2), 2.0);
    assert_eq!(one("fleet_incentives_incidents_open", &p2), 1.0);
    assert_eq!(one("fleet_incentives_incident_mttr_seconds", &p2), 20.0 * 60.0);
    assert_eq!(samples_named(&s, "fleet_incentives_sla_breaches").len(), 2 * e.severities.len());
    assert_eq!(one("fleet_incentives_promotion_eligible", &label("operator", "alice")), 1.0);
    assert_eq!(one("fleet_incentives_promotion_eligible", &label("operator", "bob")), 0.0);
}

#[test]
fn absent_values_have_no_sample_never_a_zero() {
    let e = realistic("");
    let s = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    // a3 is on alice's roster without any data: coverage 0, no uptime.
    let a3 = |x: &&Sample| x.labels.get("node").map(String::as_str) == Some("a3");
    assert!(!samples_named(&s, "fleet_incentives_node_uptime_ratio").iter().any(a3));
    assert_eq!(samples_named(&s, "fleet_incentives_node_coverage_ratio").into_iter().find(a3).unwrap().value, 0.0);
    // No resolved P0: no MTTR for P0; nodes not down: no offline_since.
    assert!(!samples_named(&s, "fleet_incentives_incident_mttr_seconds").iter().any(|x| x.labels["severity"] == "P0"));
    assert_eq!(samples_named(&s, "fleet_incentives_node_offline_since_timestamp_seconds").len(), 1);

    // Without any data at all the fleet uptime family is left out entirely.
    let mut empty = e.clone();
    empty.fleet.uptime = None;
    let text = encode_evaluation(&empty);
    assert!(!text.contains("fleet_incentives_fleet_uptime_ratio"), "{text}");
    assert!(text.contains("fleet_incentives_fleet_coverage_ratio"));
}

#[test]
fn a_payee_missing_from_the_next_evaluation_is_missing_from_its_exposition() {
    let carol = "  - { id: carol, name: Carol, tier: t1, start: 2026-01-01, nodes: [c1], region: ap }";
    let first = encode_evaluation(&realistic(carol));
    assert!(first.contains("payee=\"carol\""));
    assert!(first.contains("operator=\"carol\""));
    let second = encode_evaluation(&realistic(""));
    assert!(!second.contains("carol"), "{second}");
    assert!(!second.contains("node=\"c1\""));
}

#[test]
fn label_values_with_quotes_backslashes_and_newlines_are_escaped() {
    let mut e = realistic("");
    e.operators[0].id = "a\"b\\c\nd".into();
    let text = encode_evaluation(&e);
    assert!(text.contains(r#"payee="a\"b\\c\nd""#), "{text}");
    let s = parse(&exposition(Some(&text), &SelfMetrics::default()));
    assert!(samples_named(&s, "fleet_incentives_payee_total_amount").iter().any(|x| x.labels["payee"] == "a\"b\\c\nd"));
}

#[test]
fn every_pay_line_has_exactly_one_status_set_to_one() {
    let e = realistic("");
    let s = parse(&exposition(Some(&encode_evaluation(&e)), &SelfMetrics::default()));
    let mut per_line: BTreeMap<(String, String, String), Vec<(String, f64)>> = BTreeMap::new();
    for x in samples_named(&s, "fleet_incentives_pay_line_status") {
        let key = (x.labels["payee_kind"].clone(), x.labels["payee"].clone(), x.labels["line"].clone());
        per_line.entry(key).or_default().push((x.labels["status"].clone(), x.value));
    }
    let lines: usize = e.operators.iter().chain(&e.partners).map(|p| p.lines.len()).sum();
    assert_eq!(per_line.len(), lines);
    for (key, states) in &per_line {
        let names: BTreeSet<&str> = states.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["paid", "not_met", "withheld", "error"]), "{key:?}");
        assert_eq!(states.iter().filter(|(_, v)| *v == 1.0).count(), 1, "{key:?}");
        assert_eq!(states.iter().filter(|(_, v)| *v == 0.0).count(), 3, "{key:?}");
    }
    // The 1 is the line's own status.
    let bonus = e.operators.iter().find(|o| o.id == "bob").unwrap().lines.iter().find(|l| l.id == "uptime_bonus");
    let want = status_name(bonus.unwrap().status);
    assert!(per_line[&("operator".into(), "bob".into(), "uptime_bonus".into())].contains(&(want.to_string(), 1.0)));
}

#[test]
fn the_same_evaluation_gives_the_same_bytes() {
    let e = realistic("");
    assert_eq!(encode_evaluation(&e), encode_evaluation(&e));
}

#[test]
fn self_metrics_count_cycles_inputs_queries_and_reloads() {
    let m = busy_self_metrics();
    let other_handle = m.clone();
    other_handle.reload(false, t(2026, 10, 2, 0, 0));
    let s = parse(&exposition(None, &m));
    let one = |name: &str, f: &dyn Fn(&Sample) -> bool| -> f64 {
        let v: Vec<_> = samples_named(&s, name).into_iter().filter(|x| f(x)).collect();
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        v[0].value
    };
    let all = |_: &Sample| true;
    assert_eq!(one("fleet_incentives_evaluations_total", &all), 2.0);
    assert_eq!(one("fleet_incentives_evaluation_failures_total", &all), 1.0);
    assert_eq!(one("fleet_incentives_evaluation_duration_seconds", &all), 0.25);
    assert_eq!(
        one("fleet_incentives_last_successful_evaluation_timestamp_seconds", &all),
        unix(t(2026, 10, 15, 12, 0))
    );
    let input = |v: &'static str| move |s: &Sample| s.labels["input"] == v;
    assert_eq!(one("fleet_incentives_input_up", &input("revenue")), 1.0);
    assert_eq!(one("fleet_incentives_input_up", &input("rating")), 0.0);
    assert_eq!(one("fleet_incentives_input_failures_total", &input("revenue")), 0.0);
    assert_eq!(one("fleet_incentives_input_failures_total", &input("rating")), 1.0);
    let purpose = |v: &'static str| move |s: &Sample| s.labels["purpose"] == v;
    assert_eq!(one("fleet_incentives_queries_total", &purpose("availability")), 2.0);
    assert_eq!(one("fleet_incentives_query_failures_total", &purpose("availability")), 0.0);
    assert_eq!(one("fleet_incentives_query_samples_total", &purpose("availability")), 1234.0);
    assert_eq!(one("fleet_incentives_query_failures_total", &purpose("input:rating")), 1.0);
    // The failed reload keeps the last success's time.
    assert_eq!(one("fleet_incentives_rules_last_reload_successful", &all), 0.0);
    assert_eq!(one("fleet_incentives_rules_last_reload_success_timestamp_seconds", &all), unix(t(2026, 10, 1, 0, 0)));

    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<SelfMetrics>();
}

#[test]
fn input_results_come_from_the_facts_inputs() {
    let m = SelfMetrics::default();
    m.inputs(
        &[("a".to_string(), InputFacts::Values(BTreeMap::new())), ("b".into(), InputFacts::Failed("x".into()))].into(),
    );
    let text = m.encode();
    assert!(text.contains("fleet_incentives_input_up{input=\"a\"} 1\n"), "{text}");
    assert!(text.contains("fleet_incentives_input_up{input=\"b\"} 0\n"), "{text}");
}

/// Size and time of one evaluation's exposition at 10,000 nodes:
/// `cargo test --release --lib export::tests::encode_10000_nodes -- --ignored --nocapture`
/// (`FLEET_EXPOSITION_OUT=FILE` also writes the body there).
#[test]
#[ignore]
fn encode_10000_nodes() {
    let (operators, per_op) = (1000, 10);
    let mut yaml = format!("version: 1\nprogramme:\n  name: Big\n{SEVERITIES}\noperators:\n");
    for o in 0..operators {
        let nodes: Vec<String> = (0..per_op).map(|n| format!("n{o:04}-{n}")).collect();
        yaml += &format!(
            "  - {{ id: op{o:04}, name: Op {o}, tier: t1, start: 2026-01-01, region: r{}, nodes: [{}] }}\n",
            o % 20,
            nodes.join(", ")
        );
    }
    yaml += r#"tiers:
  - id: t1
    name: Tier 1
    lines:
      - { id: stipend, name: Base stipend, kind: per_node, category: stipend, amount: 500, prorate: true }
      - { id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > 0.995" }
      - { id: penalty, name: Penalty, kind: fixed, category: deduction, amount: -50, when: "uptime < 0.99" }
promotions:
  - { from: t1, to: t2, checks: [{ name: six months, when: "tenure_months >= 6" }] }
"#;
    let r = rules(&yaml);
    let p = period("2026-10");
    let now = t(2026, 10, 15, 12, 0);
    let mut f = facts(&p);
    f.end = now;
    for o in 0..operators {
        for n in 0..per_op {
            let id = format!("n{o:04}-{n}");
            let region = format!("r{}", o % 20);
            let mut nf = if (o * per_op + n) % 50 == 0 {
                node(&f, &id, &region, &[(t(2026, 10, 3, (o % 24) as u32, 0), 30)])
            } else {
                node(&f, &id, &region, &[])
            };
            if (o * per_op + n) % 500 == 7 {
                nf.outages.push(Outage { start: now - Span::minutes(30), end: now, ongoing: true });
            }
            f.nodes.push(nf);
        }
    }
    f.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    f.acknowledgements = Some(vec![Acknowledgement { node: "n0000-7".into(), at: now - Span::minutes(20) }]);
    let started = std::time::Instant::now();
    let e = evaluate(&f, &History::default(), &r, &p, now);
    let evaluated = started.elapsed();
    let runs = 10;
    let started = std::time::Instant::now();
    let mut text = String::new();
    for _ in 0..runs {
        text = encode_evaluation(&e);
    }
    let encoded = started.elapsed() / runs;
    let started = std::time::Instant::now();
    let body = exposition(Some(&text), &busy_self_metrics());
    let joined = started.elapsed();
    let samples = parse(&body).len();
    // For a look with a real Prometheus: FLEET_EXPOSITION_OUT=/tmp/metrics.txt.
    if let Ok(path) = std::env::var("FLEET_EXPOSITION_OUT") {
        std::fs::write(path, &body).unwrap();
    }
    println!(
        "10,000 nodes, {} operators, {} incidents: evaluate {:?}; encode_evaluation {:?} ({} bytes, {} samples); exposition {:?}",
        e.operators.len(),
        e.incidents.len(),
        evaluated,
        encoded,
        text.len(),
        samples,
        joined
    );
}
