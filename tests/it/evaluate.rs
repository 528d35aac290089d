//! A month end to end: a real Prometheus backfilled from a planned month,
//! the source reads it, the engine evaluates it. Every expectation —
//! uptime, coverage, incidents, severities, MTTR, breaches and pay — is
//! computed here from the plan, never copied from the program's output.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::Prometheus;
use common::fleet::{self, Plan};
use fleet_incentives::evaluation::{Evaluation, LineStatus, Verdict};
use fleet_incentives::period::Period;
use fleet_incentives::{engine, rules, source};
use rust_decimal::Decimal;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The head of the rules file: version and programme.
const HEAD: &str = r#"
version: 1
programme: {name: E2E programme, currency: USD, time_zone: UTC}
"#;

/// Its tiers and operators, after [`fleet::SIX_NODE_RULES`].
const TAIL: &str = r#"tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base stipend, kind: per_node, amount: 500}
      - {id: uptime_bonus, name: Uptime bonus, kind: fixed, amount: 200, when: "uptime > 0.995"}
      - {id: clean_month, name: No major incident, kind: fixed, amount: 100, when: "major_incidents == 0"}
operators:
  - {id: op-eu, name: EU operator, tier: t1, start: 2026-01-01, nodes: [n1, n2, n3]}
  - {id: op-us, name: US operator, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6]}
"#;

/// November 2026 (30 days; Sundays 1, 8, 15, 22, 29): n6's 26 hours on a
/// Tuesday–Wednesday, n2's outage inside Sunday 1 November's maintenance.
fn plan() -> Plan {
    fleet::six_nodes(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), 30, 1, 17, 20)
}

struct Fixture {
    plan: Plan,
    rules: rules::Rules,
    evaluation: Evaluation,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let plan = Arc::new(plan());
        let prometheus = Prometheus::start(&plan.series("fleet-node"), plan.span);
        let rules = rules::load::load_files(
            Path::new("e2e"),
            &[("rules.yaml".into(), [HEAD, fleet::SIX_NODE_RULES, TAIL].concat())],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let period = Period::month("2026-11", rules.time_zone).unwrap();
        let reading =
            common::block_on(source::read_facts(&prometheus.client(), &rules, period.start, period.end)).unwrap();
        let evaluation = engine::evaluate(&reading.facts, &Default::default(), &rules, &period, period.end);
        Fixture { plan: (*plan).clone(), rules, evaluation }
    })
}

fn seconds(s: DateTime<Utc>, e: DateTime<Utc>) -> i64 {
    (e - s).num_seconds()
}

/// (up, down, expected) samples of a set of nodes, from the plan.
fn counts(f: &Fixture, names: &[&str]) -> (u64, u64, u64) {
    let maintenance = f.rules.maintenance_intervals(f.plan.span.start, f.plan.span.end);
    names
        .iter()
        .map(|n| f.plan.expected(n, &maintenance))
        .fold((0, 0, 0), |a, x| (a.0 + x.up, a.1 + x.down, a.2 + x.expected))
}

fn uptime(up: u64, down: u64) -> Decimal {
    Decimal::from(up) / Decimal::from(up + down)
}

#[test]
fn node_and_fleet_uptime_and_coverage_follow_the_plan() {
    let f = fixture();
    for node in &f.evaluation.nodes {
        let (up, down, expected) = counts(f, &[&node.node]);
        let a = &node.availability;
        assert_eq!((a.up_seconds, a.down_seconds), ((up * 60) as i64, (down * 60) as i64), "{}", node.node);
        assert_eq!(a.unknown_seconds, ((expected - up - down) * 60) as i64, "{}", node.node);
        assert_eq!(a.uptime, Some(uptime(up, down)), "{}", node.node);
        assert_eq!(a.coverage, Decimal::from(up + down) / Decimal::from(expected), "{}", node.node);
    }
    let (up, down, _) = counts(f, &["n1", "n2", "n3", "n4", "n5", "n6"]);
    assert_eq!(f.evaluation.fleet.uptime, Some(uptime(up, down)));
    let n3 = f.evaluation.nodes.iter().find(|n| n.node == "n3").unwrap();
    assert_eq!(n3.availability.unknown_seconds, 6 * 3600, "the gap is unknown, not down");
    assert_eq!(f.evaluation.fleet.maintenance_seconds, 6 * 5 * 2 * 3600, "five Sundays × 2 h × 6 nodes");
}

#[test]
fn incidents_have_the_planned_severity_duration_and_verdict() {
    let f = fixture();
    let got: Vec<(String, Vec<String>, i64, Verdict)> = f
        .evaluation
        .incidents
        .iter()
        .map(|i| (i.severity.clone(), i.nodes.clone(), i.duration_seconds, i.resolve_verdict))
        .collect();
    let p = &f.plan.outages;
    let want = vec![
        ("P0".to_string(), p[0].0.clone(), seconds(p[0].1, p[0].2), Verdict::Met),
        ("P1".to_string(), p[1].0.clone(), seconds(p[1].1, p[1].2), Verdict::Met),
        ("P2".to_string(), p[2].0.clone(), seconds(p[2].1, p[2].2), Verdict::Met),
        ("P2".to_string(), p[4].0.clone(), seconds(p[4].1, p[4].2), Verdict::Breached),
    ];
    assert_eq!(got, want);
    assert!(seconds(p[4].1, p[4].2) > 24 * 3600);
}

#[test]
fn mttr_and_breaches_per_severity_follow_the_plan() {
    let f = fixture();
    let p = &f.plan.outages;
    let by = |id: &str| f.evaluation.severities.iter().find(|s| s.severity == id).unwrap();
    assert_eq!(by("P0").incidents, 1);
    assert_eq!(by("P0").mttr_seconds, Some(Decimal::from(seconds(p[0].1, p[0].2))));
    assert_eq!(by("P1").mttr_seconds, Some(Decimal::from(seconds(p[1].1, p[1].2))));
    let p2 = Decimal::from(seconds(p[2].1, p[2].2) + seconds(p[4].1, p[4].2)) / Decimal::from(2);
    assert_eq!(by("P2").mttr_seconds, Some(p2));
    assert_eq!((by("P2").incidents, by("P2").resolve_breaches), (2, 1));
}

#[test]
fn pay_follows_the_planned_uptime_and_incidents() {
    let f = fixture();
    for (operator, names) in [("op-eu", ["n1", "n2", "n3"]), ("op-us", ["n4", "n5", "n6"])] {
        let s = f.evaluation.operators.iter().find(|s| s.id == operator).unwrap();
        let line = |id: &str| s.lines.iter().find(|l| l.id == id).unwrap();
        let (up, down, _) = counts(f, &names);
        let bonus = uptime(up, down) > Decimal::new(995, 3);
        assert_eq!(line("base").amount, Decimal::from(1500));
        assert_eq!(
            line("uptime_bonus").status,
            if bonus { LineStatus::Paid } else { LineStatus::NotMet },
            "{operator}"
        );
        assert_eq!(line("uptime_bonus").amount, if bonus { Decimal::from(200) } else { Decimal::ZERO });
        // Both operators' nodes were in the P0; eu's also in the P1.
        assert_eq!(line("clean_month").status, LineStatus::NotMet, "{operator}");
        assert_eq!(s.total, s.lines.iter().map(|l| l.amount).sum::<Decimal>());
    }
    let total: Decimal = f.evaluation.operators.iter().map(|s| s.total).sum();
    assert_eq!(f.evaluation.total, total);
}
