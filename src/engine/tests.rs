//! Unit tests of the pure engine. Expected values are computed here from the
//! inputs each test builds, never copied from the engine's output.

use super::evaluate;
use super::testutil::*;
use crate::evaluation::{Evaluation, LineStatus, PayLine, Statement, Verdict};
use crate::facts::{Acknowledgement, Facts, InputFacts, Interval, NodeFacts, Outage};
use crate::money::{RoundingMode, round};
use crate::period::Period;
use crate::rules::Rules;
use chrono::Duration;
use rust_decimal::Decimal;
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn run(rules: &Rules, facts: &Facts, p: &Period) -> Evaluation {
    evaluate(facts, rules, p, p.end)
}

fn statement<'a>(e: &'a Evaluation, id: &str) -> &'a Statement {
    e.operators.iter().chain(&e.partners).find(|s| s.id == id).unwrap_or_else(|| panic!("no statement {id}"))
}

fn line<'a>(e: &'a Evaluation, payee: &str, id: &str) -> &'a PayLine {
    statement(e, payee).lines.iter().find(|l| l.id == id).unwrap_or_else(|| panic!("no line {id}"))
}

/// A programme with one tier-1 operator `alice` on nodes n1..n3 (region eu).
fn programme(extra_lines: &str, operator_extra: &str) -> Rules {
    let yaml = format!(
        r#"
version: 1
programme:
  name: Fleet programme
{SEVERITIES}
inputs:
  - name: revenue
    query: sum by (region) (revenue)
    by: region
    unit: money
  - name: rating
    query: avg by (operator) (rating)
operators:
  - id: alice
    name: Alice
    tier: t1
    start: 2026-01-15
    nodes: [n1, n2, n3]
{operator_extra}
tiers:
  - id: t1
    name: Tier 1 Certified
    lines:
      - id: stipend
        name: Base stipend
        kind: per_node
        category: stipend
        amount: 500
        prorate: true
      - id: uptime_bonus
        name: Uptime bonus
        kind: fixed
        category: uptime_bonus
        amount: 200
        when: "uptime > 0.995"
{extra_lines}
"#
    );
    rules(&yaml)
}

fn three_nodes(f: &Facts) -> Vec<NodeFacts> {
    ["n1", "n2", "n3"].iter().map(|n| node(f, n, "eu", &[])).collect()
}

// ---------------------------------------------------------------- uptime

/// Three nodes, each with `up` and `down` samples and no unknown time.
fn with_samples(f: &Facts, up: u64, down: u64) -> Vec<NodeFacts> {
    let mut nodes = three_nodes(f);
    for n in &mut nodes {
        n.up_samples = up;
        n.down_samples = down;
        n.expected_samples = up + down;
    }
    nodes
}

#[test]
fn uptime_of_exactly_99_5_percent_does_not_pay_a_bonus_for_more_than_99_5_percent() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    // 223 down of 44,600 known samples is exactly 0.5 %.
    f.nodes = with_samples(&f, 44_377, 223);
    f.nodes.iter_mut().for_each(|n| n.expected_samples = 44_600);
    let e = run(&r, &f, &p);
    let uptime = Decimal::from(44_377u64) / Decimal::from(44_600u64);
    assert_eq!(uptime, dec("0.995"));
    assert_eq!(statement(&e, "alice").availability.uptime, Some(uptime));
    let l = line(&e, "alice", "uptime_bonus");
    assert_eq!(l.status, LineStatus::NotMet, "{l:?}");
    assert_eq!(l.amount, Decimal::ZERO);
    assert_eq!(l.inputs["uptime"], "0.995");
}

#[test]
fn uptime_just_above_99_5_percent_pays_the_bonus() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = with_samples(&f, 44_378, 222);
    f.nodes.iter_mut().for_each(|n| n.expected_samples = 44_600);
    let e = run(&r, &f, &p);
    assert!(Decimal::from(44_378u64) / Decimal::from(44_600u64) > dec("0.995"));
    let l = line(&e, "alice", "uptime_bonus");
    assert_eq!(l.status, LineStatus::Paid, "{l:?}");
    assert_eq!(l.amount, dec("200"));
}

#[test]
fn unknown_time_is_neither_up_nor_down_and_lowers_coverage_only() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let total = slots(&f);
    f.nodes[0].up_samples = total / 2; // the other half has no samples
    let e = run(&r, &f, &p);
    let n1 = &e.nodes[0].availability;
    assert_eq!(n1.uptime, Some(Decimal::ONE));
    assert_eq!(n1.down_seconds, 0);
    assert_eq!(n1.unknown_seconds, (total - total / 2) as i64 * 60);
    assert_eq!(n1.coverage, Decimal::from(total / 2) / Decimal::from(total));
    let fleet = &e.fleet;
    assert_eq!(fleet.coverage, Decimal::from(total * 2 + total / 2) / Decimal::from(total * 3));
}

// ---------------------------------------------------------------- incidents

fn fleet_rules() -> Rules {
    rules(&format!(
        "version: 1\nprogramme:\n  name: Fleet\n{SEVERITIES}\nmaintenance:\n  - name: sunday\n    weekday: sunday\n    at: \"02:00\"\n    duration: 2h\n"
    ))
}

#[test]
fn all_nodes_down_together_is_a_p0() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s = t(2026, 10, 6, 10, 0);
    f.nodes = vec![
        node(&f, "a1", "eu", &[(s, 30)]),
        node(&f, "a2", "eu", &[(s + Duration::minutes(5), 20)]),
        node(&f, "b1", "us", &[(s + Duration::minutes(10), 30)]),
    ];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    let i = &e.incidents[0];
    assert_eq!(i.severity, "P0");
    assert_eq!(i.max_nodes_down, 3);
    assert_eq!(i.start, s);
    assert_eq!(i.end, Some(s + Duration::minutes(40)));
    assert_eq!(i.duration_seconds, 40 * 60);
    assert_eq!(i.id, "P0-20261006T1000Z-a1");
    assert_eq!(i.regions, vec!["eu", "us"]);
    assert_eq!(i.resolve_verdict, Verdict::Met);
    assert_eq!(i.respond_verdict, Verdict::Unknown);
}

#[test]
fn more_than_half_of_a_region_down_is_a_p1() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s = t(2026, 10, 7, 8, 0);
    f.nodes = vec![
        node(&f, "e1", "eu", &[(s, 60)]),
        node(&f, "e2", "eu", &[(s + Duration::minutes(30), 60)]),
        node(&f, "e3", "eu", &[]),
        node(&f, "u1", "us", &[]),
        node(&f, "u2", "us", &[]),
    ];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 1);
    let i = &e.incidents[0];
    // 2 of eu's 3 nodes down at once (> 50 %), 2 of 5 in the fleet (< 100 %).
    assert_eq!(i.severity, "P1");
    assert_eq!(i.max_nodes_down, 2);
    assert_eq!(i.nodes, vec!["e1", "e2"]);
    assert_eq!(i.duration_seconds, 90 * 60);
}

#[test]
fn two_nodes_of_a_region_down_one_after_the_other_is_two_p2s_not_a_p1() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s = t(2026, 10, 7, 8, 0);
    // Touching, not overlapping: [8:00, 8:30) and [8:30, 9:00).
    f.nodes = vec![
        node(&f, "e1", "eu", &[(s, 30)]),
        node(&f, "e2", "eu", &[(s + Duration::minutes(30), 30)]),
        node(&f, "e3", "eu", &[]),
    ];
    let e = run(&r, &f, &p);
    let sev: Vec<&str> = e.incidents.iter().map(|i| i.severity.as_str()).collect();
    assert_eq!(sev, vec!["P2", "P2"]);
}

#[test]
fn a_single_node_failure_is_a_p2() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s = t(2026, 10, 8, 12, 0);
    f.nodes = vec![node(&f, "a1", "eu", &[(s, 20)]), node(&f, "a2", "eu", &[]), node(&f, "a3", "eu", &[])];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].severity, "P2");
    assert_eq!(e.nodes.iter().map(|n| n.incidents).collect::<Vec<_>>(), vec![1, 0, 0]);
    assert_eq!(e.severities[2].incidents, 1);
}

#[test]
fn an_outage_of_exactly_five_minutes_is_not_a_failure_but_six_minutes_is() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = vec![
        node(&f, "a1", "eu", &[(t(2026, 10, 8, 12, 0), 5)]),
        node(&f, "a2", "eu", &[(t(2026, 10, 9, 12, 0), 6)]),
        node(&f, "a3", "eu", &[]),
    ];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].nodes, vec!["a2"]);
}

#[test]
fn an_outage_inside_a_maintenance_window_is_not_an_incident() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    // Sunday 2026-10-04 02:00–04:00 is maintenance.
    f.nodes = vec![
        node(&f, "a1", "eu", &[(t(2026, 10, 4, 2, 10), 100)]),
        node(&f, "a2", "eu", &[(t(2026, 10, 4, 3, 50), 20)]),
        node(&f, "a3", "eu", &[]),
    ];
    let e = run(&r, &f, &p);
    // a1 is down only inside the window; a2 for 10 countable minutes after it.
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    let i = &e.incidents[0];
    assert_eq!(i.nodes, vec!["a2"]);
    assert_eq!(i.duration_seconds, 10 * 60);
}

#[test]
fn mttr_is_the_mean_duration_of_resolved_incidents_and_open_ones_are_counted_apart() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let mut a3 = node(&f, "a3", "eu", &[]);
    let open_start = f.end - Duration::minutes(90);
    a3.outages = vec![Outage { start: open_start, end: f.end, ongoing: true }];
    f.nodes = vec![
        node(&f, "a1", "eu", &[(t(2026, 10, 8, 12, 0), 20)]),
        node(&f, "a2", "eu", &[(t(2026, 10, 9, 12, 0), 40)]),
        a3,
        node(&f, "a4", "eu", &[]),
    ];
    let e = run(&r, &f, &p);
    let p2 = e.severities.iter().find(|s| s.severity == "P2").unwrap();
    assert_eq!(p2.incidents, 3);
    assert_eq!(p2.open, 1);
    assert_eq!(p2.mttr_seconds, Some(Decimal::from(20 * 60 + 40 * 60) / Decimal::from(2)));
    let open = e.incidents.iter().find(|i| i.end.is_none()).unwrap();
    assert_eq!(open.duration_seconds, 90 * 60);
    assert_eq!(open.resolve_verdict, Verdict::Open);
    let starts: Vec<_> = e.incidents.iter().map(|i| i.start).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_node_still_down_at_the_window_end_is_offline_since_its_last_outage_start_and_others_are_not() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let mut a1 = node(&f, "a1", "eu", &[(t(2026, 10, 8, 12, 0), 20)]);
    let since = f.end - Duration::minutes(45);
    a1.outages.push(Outage { start: since, end: f.end, ongoing: true });
    // Down for 3 minutes at the end: not a failure yet, but offline all the same.
    let mut a2 = node(&f, "a2", "eu", &[]);
    a2.outages = vec![Outage { start: f.end - Duration::minutes(3), end: f.end, ongoing: true }];
    f.nodes = vec![a1, a2, node(&f, "a3", "eu", &[(t(2026, 10, 9, 12, 0), 40)])];
    let e = run(&r, &f, &p);
    let since_of = |id: &str| e.nodes.iter().find(|n| n.node == id).unwrap().offline_since;
    assert_eq!(since_of("a1"), Some(since));
    assert_eq!(since_of("a2"), Some(f.end - Duration::minutes(3)));
    assert_eq!(since_of("a3"), None);
    // Absent from JSON when none, so earlier outputs keep their bytes.
    let a3 = serde_json::to_value(e.nodes.iter().find(|n| n.node == "a3").unwrap()).unwrap();
    assert!(a3.get("offline_since").is_none(), "{a3}");
}

#[test]
fn an_incident_over_its_resolve_target_is_breached_even_while_open() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let mut a1 = node(&f, "a1", "eu", &[]);
    a1.outages = vec![Outage { start: f.end - Duration::hours(25), end: f.end, ongoing: true }];
    f.nodes = vec![a1, node(&f, "a2", "eu", &[])];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents[0].severity, "P2");
    assert_eq!(e.incidents[0].resolve_verdict, Verdict::Breached);
    assert_eq!(e.severities[2].resolve_breaches, 1);
}

#[test]
fn an_acknowledgement_within_target_meets_the_response_sla_and_a_late_one_breaches_it() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s1 = t(2026, 10, 8, 12, 0);
    let s2 = t(2026, 10, 9, 12, 0);
    f.nodes = vec![node(&f, "a1", "eu", &[(s1, 20)]), node(&f, "a2", "eu", &[(s2, 90)]), node(&f, "a3", "eu", &[])];
    f.acknowledgements = Some(vec![
        Acknowledgement { node: "a1".into(), at: s1 + Duration::minutes(10) },
        Acknowledgement { node: "a2".into(), at: s2 + Duration::minutes(61) },
    ]);
    let e = run(&r, &f, &p);
    let (i1, i2) = (&e.incidents[0], &e.incidents[1]);
    assert_eq!((i1.response_seconds, i1.respond_verdict), (Some(600), Verdict::Met));
    assert_eq!((i2.response_seconds, i2.respond_verdict), (Some(61 * 60), Verdict::Breached));
    assert_eq!(e.severities[2].respond_breaches, 1);
}

#[test]
fn degraded_performance_is_a_p3() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = vec![node(&f, "a1", "eu", &[]), node(&f, "a2", "eu", &[])];
    let s = t(2026, 10, 10, 9, 0);
    f.degraded = vec![Interval { node: "a2".into(), start: s, end: s + Duration::hours(2) }];
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 1);
    assert_eq!(e.incidents[0].severity, "P3");
    assert_eq!(e.incidents[0].max_nodes_down, 0);
    assert_eq!(e.incidents[0].duration_seconds, 7200);
}

// ---------------------------------------------------------------- pay

#[test]
fn a_line_reading_uptime_is_withheld_when_coverage_is_below_the_minimum() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let total = slots(&f);
    for n in &mut f.nodes {
        n.up_samples = total * 8 / 10; // 80 % coverage, all up
    }
    let e = run(&r, &f, &p);
    let bonus = line(&e, "alice", "uptime_bonus");
    assert_eq!(bonus.status, LineStatus::Withheld);
    assert_eq!(bonus.amount, Decimal::ZERO);
    assert_eq!(bonus.reason, "coverage 80.00% below 90%");
    // The stipend reads no availability variable and is paid.
    assert_eq!(line(&e, "alice", "stipend").status, LineStatus::Paid);
}

#[test]
fn the_evaluate_policy_pays_a_line_on_the_known_data_alone() {
    let r = programme("        missing_data: evaluate\n", "");
    // (the extra text lands in the last line, uptime_bonus)
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let total = slots(&f);
    f.nodes.iter_mut().for_each(|n| n.up_samples = total * 8 / 10);
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "alice", "uptime_bonus").status, LineStatus::Paid);
}

#[test]
fn a_line_that_needs_acknowledgements_is_withheld_without_an_acknowledgement_source() {
    let extra = r#"      - id: response
        name: Response bonus
        kind: fixed
        amount: 100
        when: "avg_response_seconds < 900"
"#;
    let r = programme(extra, "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "response");
    assert_eq!(l.status, LineStatus::Withheld);
    assert_eq!(
        l.reason,
        "condition: no value for avg_response_seconds (acknowledgements unknown: no acknowledgement source is configured (--alertmanager.url) or it was not read yet)"
    );
    // With a source but no incident, the reason says that instead.
    f.acknowledgements = Some(vec![]);
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "response");
    assert_eq!(l.status, LineStatus::Withheld);
    assert!(l.reason.contains("no acknowledged incident"), "{}", l.reason);
}

#[test]
fn an_operator_who_joined_mid_month_gets_a_prorated_stipend() {
    let r = {
        let mut r = programme("", "");
        r.operators[0].start = chrono::NaiveDate::from_ymd_opt(2026, 10, 16).unwrap();
        r
    };
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let e = run(&r, &f, &p);
    let active = 31 - 16 + 1;
    let want = round(Decimal::from(500 * 3 * active) / Decimal::from(31), 2, RoundingMode::HalfEven);
    let l = line(&e, "alice", "stipend");
    assert_eq!(l.amount, want);
    assert_eq!(l.formula, format!("500 × 3 nodes × {active}/31 days = {want}"));
    assert_eq!(statement(&e, "alice").total, want + dec("200"));
}

#[test]
fn early_termination_within_six_months_charges_the_churn_rebate() {
    let extra = r#"      - id: churn
        name: Churn rebate
        kind: fixed
        category: deduction
        amount: -250
        when: "terminated && tenure_months <= 6"
"#;
    let mut r = programme(extra, "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let date = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    // Started in May: October is month 6.
    r.operators[0].start = date(5, 3);
    r.operators[0].end = Some(date(10, 10));
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "churn");
    assert_eq!((l.status, l.amount), (LineStatus::Paid, dec("-250")));
    assert_eq!(l.inputs["tenure_months"], "6");
    let stipend = round(Decimal::from(500 * 3 * 10) / Decimal::from(31), 2, RoundingMode::HalfEven);
    assert_eq!(line(&e, "alice", "stipend").amount, stipend);
    // Started in April: October is month 7, no rebate.
    r.operators[0].start = date(4, 30);
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "alice", "churn").status, LineStatus::NotMet);
    // Ended before the period: no statement at all.
    r.operators[0].end = Some(date(9, 30));
    assert!(run(&r, &f, &p).operators.is_empty());
}

#[test]
fn a_steps_line_pays_per_whole_step_above_the_threshold_up_to_the_maximum() {
    let extra = r#"      - id: graduated
        name: Graduated uptime bonus
        kind: steps
        amount: 200
        over: uptime
        above: 0.995
        step: 0.001
        max_steps: 4
"#;
    let r = programme(extra, "");
    let p = period("2026-10");
    for (up, down) in [(9_983u64, 17u64), (9_950, 50), (9_900, 100), (10_000, 0)] {
        let mut f = facts(&p);
        f.nodes = with_samples(&f, up, down);
        f.nodes.iter_mut().for_each(|n| n.expected_samples = up + down);
        let e = run(&r, &f, &p);
        let uptime = Decimal::from(up) / Decimal::from(up + down);
        let steps = ((uptime - dec("0.995")) / dec("0.001")).floor().max(Decimal::ZERO).min(Decimal::from(4));
        let l = line(&e, "alice", "graduated");
        assert_eq!(l.amount, dec("200") * steps, "uptime {uptime}: {l:?}");
    }
}

#[test]
fn a_percent_line_takes_its_share_of_a_money_input() {
    let extra = r#"      - id: revenue_share
        name: Revenue share
        kind: percent
        category: commission
        percent: 2
        of: { input: revenue }
"#;
    let r = programme(extra, "    region: eu\n");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let revenue = 15_000.55;
    f.inputs.insert("revenue".into(), InputFacts::Values([("eu".to_string(), revenue)].into()));
    let e = run(&r, &f, &p);
    let want = round(dec("0.02") * dec("15000.55"), 2, RoundingMode::HalfEven);
    let l = line(&e, "alice", "revenue_share");
    assert_eq!((l.status, l.amount), (LineStatus::Paid, want), "{l:?}");

    // A failed query withholds the line and says so.
    f.inputs.insert("revenue".into(), InputFacts::Failed("timeout".into()));
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "alice", "revenue_share").status, LineStatus::Withheld);
    assert!(e.warnings.iter().any(|w| w.contains("revenue") && w.contains("timeout")));
}

#[test]
fn a_band_line_pays_the_band_holding_the_value_and_a_multiplier_scales_earlier_lines() {
    let extra = r#"      - id: rating_band
        name: Rating bonus
        kind: band
        by: rating
        bands:
          - { from: 4.5, to: 4.8, amount: 50 }
          - { from: 4.8, to: 4.9, amount: 100 }
          - { from: 4.9, amount: 250 }
      - id: tier_multiplier
        name: Tier multiplier
        kind: multiplier
        factor: "if(rating > 4.8, 1.25, 1.0)"
        of: { lines: [stipend] }
"#;
    let r = programme(extra, "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    for (rating, band) in [(4.85, "100"), (4.8, "100"), (4.95, "250"), (4.79, "50")] {
        f.inputs.insert("rating".into(), InputFacts::Values([("alice".to_string(), rating)].into()));
        let e = run(&r, &f, &p);
        assert_eq!(line(&e, "alice", "rating_band").amount, dec(band), "rating {rating}");
        let factor = if rating > 4.8 { dec("1.25") } else { Decimal::ONE };
        let l = line(&e, "alice", "tier_multiplier");
        assert_eq!(l.amount, (factor - Decimal::ONE) * dec("1500"), "{l:?}");
    }
    f.inputs.insert("rating".into(), InputFacts::Values([("alice".to_string(), 4.0)].into()));
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "alice", "rating_band").status, LineStatus::NotMet);
}

#[test]
fn a_roster_node_without_data_has_zero_coverage_and_a_warning() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = vec![node(&f, "n1", "eu", &[]), node(&f, "n2", "eu", &[]), node(&f, "x9", "eu", &[])];
    let e = run(&r, &f, &p);
    let n3 = e.nodes.iter().find(|n| n.node == "n3").unwrap();
    assert_eq!(n3.availability.coverage, Decimal::ZERO);
    assert_eq!(n3.availability.unknown_seconds, p.seconds());
    assert_eq!(statement(&e, "alice").nodes, vec!["n1", "n2", "n3"]);
    assert!(e.warnings.iter().any(|w| w.contains("n3")), "{:?}", e.warnings);
    assert!(e.warnings.iter().any(|w| w.contains("x9")), "{:?}", e.warnings);
    assert_eq!(e.fleet.nodes, 4);
}

#[test]
fn a_partner_earns_a_commission_per_referred_operator() {
    let yaml = format!(
        r#"
version: 1
programme:
  name: Fleet
{SEVERITIES}
inputs:
  - name: revenue
    query: sum by (operator) (revenue)
    unit: money
operators:
  - {{ id: a, name: A, tier: t1, start: 2026-03-01, nodes: [a1], referred_by: bronze1 }}
  - {{ id: b, name: B, tier: t1, start: 2026-09-10, nodes: [b1], referred_by: bronze1 }}
  - {{ id: c, name: C, tier: t1, start: 2026-01-01, nodes: [c1] }}
partners:
  - {{ id: bronze1, name: Bronze One, tier: bronze, start: 2026-01-01 }}
tiers:
  - {{ id: t1, name: T1, lines: [{{ id: base, name: Base, kind: fixed, amount: 100 }}] }}
partner_tiers:
  - id: bronze
    name: Bronze
    lines:
      - id: commission
        name: Referral commission
        kind: percent
        percent: 10
        of: {{ input: revenue }}
        per_referral: true
        when: "tenure_months <= 12"
promotions:
  - from: t1
    to: t2
    checks:
      - {{ name: six months, when: "tenure_months >= 6" }}
      - {{ name: uptime, when: "uptime > 0.995" }}
"#
    );
    let r = rules(&yaml);
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = vec![node(&f, "a1", "eu", &[]), node(&f, "b1", "eu", &[]), node(&f, "c1", "us", &[])];
    f.inputs.insert(
        "revenue".into(),
        InputFacts::Values([("a".to_string(), 1000.0), ("b".to_string(), 333.33), ("c".to_string(), 9.0)].into()),
    );
    let e = run(&r, &f, &p);
    let l = line(&e, "bronze1", "commission");
    let want = round(dec("100"), 2, RoundingMode::HalfEven) + round(dec("33.333"), 2, RoundingMode::HalfEven);
    assert_eq!((l.status, l.amount), (LineStatus::Paid, want), "{l:?}");
    assert_eq!(statement(&e, "bronze1").nodes, vec!["a1", "b1"]);
    assert_eq!(e.total, Decimal::from(300) + want);

    // Promotion: a (month 8, all up) is eligible; b (month 2) is not.
    let pa = statement(&e, "a").promotion.as_ref().unwrap();
    assert!(pa.eligible, "{pa:?}");
    let pb = statement(&e, "b").promotion.as_ref().unwrap();
    assert_eq!(pb.checks[0].passed, Some(false));
    assert!(!pb.eligible);
}

#[test]
fn the_same_input_gives_identical_json_bytes() {
    let extra = r#"      - id: revenue_share
        name: Revenue share
        kind: percent
        percent: 2
        of: { input: revenue }
"#;
    let r = programme(extra, "    region: eu\n");
    let p = period("2026-10");
    let mut f = facts(&p);
    let s = t(2026, 10, 6, 10, 0);
    f.nodes = vec![node(&f, "n1", "eu", &[(s, 30)]), node(&f, "n2", "eu", &[(s, 10)]), node(&f, "zz", "us", &[])];
    f.inputs.insert("revenue".into(), InputFacts::Values([("eu".to_string(), 1234.5)].into()));
    f.acknowledgements = Some(vec![]);
    let a = serde_json::to_vec(&run(&r, &f, &p)).unwrap();
    let b = serde_json::to_vec(&run(&r, &f, &p)).unwrap();
    assert_eq!(a, b);
    // Nor does the order the source listed the nodes in matter.
    f.nodes.reverse();
    let c = serde_json::to_vec(&run(&r, &f, &p)).unwrap();
    assert_eq!(a, c);
}

#[test]
fn an_acknowledgement_of_a_later_incident_does_not_answer_an_earlier_one() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let s1 = t(2026, 10, 8, 12, 0);
    let s2 = t(2026, 10, 9, 12, 0);
    f.nodes = vec![node(&f, "a1", "eu", &[(s1, 20), (s2, 20)]), node(&f, "a2", "eu", &[])];
    f.acknowledgements = Some(vec![Acknowledgement { node: "a1".into(), at: s2 + Duration::minutes(5) }]);
    let e = run(&r, &f, &p);
    assert_eq!(e.incidents.len(), 2);
    assert_eq!(e.incidents[0].acknowledged_at, None);
    assert_eq!(e.incidents[0].respond_verdict, Verdict::Breached);
    assert_eq!(e.incidents[1].response_seconds, Some(300));
    assert_eq!(e.incidents[1].respond_verdict, Verdict::Met);
}

#[test]
fn amounts_carry_the_programmes_minor_unit() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let e = run(&r, &f, &p);
    let json = serde_json::to_value(statement(&e, "alice")).unwrap();
    assert_eq!(json["lines"][0]["amount"], "1500.00");
    assert_eq!(json["total"], "1700.00");
    assert_eq!(line(&e, "alice", "stipend").inputs["nodes"], "3");
}

#[test]
fn a_node_labelled_for_an_operator_with_a_roster_is_not_paid_to_that_operator() {
    let r = programme("", "");
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let mut extra = node(&f, "n9", "eu", &[]);
    extra.operator = Some("alice".into());
    f.nodes.push(extra);
    let e = run(&r, &f, &p);
    assert_eq!(statement(&e, "alice").nodes, vec!["n1", "n2", "n3"]);
    assert_eq!(line(&e, "alice", "stipend").amount, dec("1500"));
    assert!(e.warnings.iter().any(|w| w.contains("n9")));
    assert_eq!(e.fleet.nodes, 4);
}

#[test]
fn a_promotion_check_on_uptime_is_undecided_when_coverage_is_low() {
    let promo = r#"
promotions:
  - from: t1
    to: t2
    checks:
      - { name: tenure, when: "tenure_months >= 6" }
      - { name: uptime, when: "uptime > 0.995" }
"#;
    let r = rules(&format!(
        "{}{promo}",
        r#"
version: 1
operators:
  - { id: alice, name: Alice, tier: t1, start: 2026-01-15, nodes: [n1, n2, n3] }
tiers:
  - { id: t1, name: T1, lines: [{ id: base, name: Base, kind: fixed, amount: 200 }] }
"#
    ));
    let p = period("2026-10");
    let mut f = facts(&p);
    f.nodes = three_nodes(&f);
    let e = run(&r, &f, &p);
    let pr = statement(&e, "alice").promotion.clone().unwrap();
    assert_eq!(pr.to, "t2");
    assert!(pr.eligible);
    assert_eq!(line(&e, "alice", "base").formula, "200.00");

    let total = slots(&f);
    f.nodes.iter_mut().for_each(|n| n.up_samples = total / 2);
    let e = run(&r, &f, &p);
    let pr = statement(&e, "alice").promotion.clone().unwrap();
    assert_eq!(pr.checks[0].passed, Some(true));
    assert_eq!(pr.checks[1].passed, None);
    assert!(pr.checks[1].detail.contains("coverage 50.00% below 90%"), "{}", pr.checks[1].detail);
    assert!(!pr.eligible);
}

/// The shipped ladder (rules/severities.yaml): operator at once, senior
/// after 10 minutes, core team an hour later, executive at once after that
/// for P0 only; P3 stays with the operator.
const LADDER: &str = r#"
escalation:
  - { id: operator, name: Operator, after: 0s }
  - { id: senior, name: Senior, after: 10m, severities: [P0, P1, P2] }
  - { id: core, name: Core team, after: 1h, severities: [P0, P1, P2] }
  - { id: executive, name: Executive, after: 0s, severities: [P0] }
"#;

fn ladder_rules() -> Rules {
    rules(&format!("version: 1\nprogramme:\n  name: Fleet\n{SEVERITIES}{LADDER}"))
}

/// Facts up to `now` with node `down` offline since `since` (still down)
/// among `up` nodes that are fine; all in region eu.
fn open_outage(
    p: &Period,
    now: chrono::DateTime<chrono::Utc>,
    down: &[&str],
    up: &[&str],
    since: chrono::DateTime<chrono::Utc>,
) -> Facts {
    let mut f = facts(p);
    f.end = now;
    for n in up {
        f.nodes.push(node(&f, n, "eu", &[]));
    }
    for n in down {
        let mut nf = node(&f, n, "eu", &[(since, (now - since).num_minutes())]);
        nf.outages[0].ongoing = true;
        f.nodes.push(nf);
    }
    f.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    f
}

fn level_at(r: &Rules, f: &Facts, p: &Period) -> (u32, Option<String>) {
    let e = evaluate(f, r, p, f.end);
    assert_eq!(e.incidents.len(), 1, "{:?}", e.incidents);
    (e.incidents[0].escalation_level, e.incidents[0].escalation.clone())
}

#[test]
fn an_unacknowledged_incident_climbs_the_ladder_as_its_severity_allows() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    let at = |m: i64| s + Duration::minutes(m);
    // P2, one of three nodes: operator, senior at 10 m, core team at 70 m, never the executive.
    for (minutes, want) in [(9, 1), (10, 2), (69, 2), (70, 3), (300, 3)] {
        let f = open_outage(&p, at(minutes), &["a1"], &["a2", "a3"], s);
        let (level, _) = level_at(&r, &f, &p);
        assert_eq!(level, want, "P2 after {minutes} minutes");
    }
    // P0, every node down: the executive is paged with the core team.
    let f = open_outage(&p, at(70), &["a1", "a2"], &[], s);
    assert_eq!(level_at(&r, &f, &p), (4, Some("executive".into())));
    let f = open_outage(&p, at(69), &["a1", "a2"], &[], s);
    assert_eq!(level_at(&r, &f, &p), (2, Some("senior".into())));
    // P3 (degraded) stays with the operator.
    let mut f = open_outage(&p, at(300), &[], &["a1", "a2"], s);
    f.degraded = vec![Interval { node: "a1".into(), start: s, end: at(300) }];
    assert_eq!(level_at(&r, &f, &p), (1, Some("operator".into())));
    // Without a ladder there is no level.
    let f = open_outage(&p, at(300), &["a1"], &["a2", "a3"], s);
    assert_eq!(level_at(&fleet_rules(), &f, &p), (0, None));
}

#[test]
fn an_acknowledgement_stops_the_escalation_where_it_was() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    let at = |m: i64| s + Duration::minutes(m);
    let ack = |m: i64| Some(vec![Acknowledgement { node: "a1".into(), at: at(m) }]);
    let mut f = open_outage(&p, at(300), &["a1"], &["a2", "a3"], s);
    f.acknowledgements = ack(12);
    assert_eq!(level_at(&r, &f, &p), (2, Some("senior".into())), "acknowledged after the senior was paged");
    f.acknowledgements = ack(10);
    assert_eq!(level_at(&r, &f, &p).0, 1, "an acknowledgement as the senior falls due wins");
    // An acknowledgement after the window end is not known yet.
    let mut f = open_outage(&p, at(30), &["a1"], &["a2", "a3"], s);
    f.acknowledgements = ack(31);
    assert_eq!(level_at(&r, &f, &p).0, 2);
    // A resolved incident keeps the level it reached before it ended.
    let mut f = facts(&p);
    f.nodes = vec![node(&f, "a1", "eu", &[(s, 30)]), node(&f, "a2", "eu", &[]), node(&f, "a3", "eu", &[])];
    let e = evaluate(&f, &r, &p, p.end);
    assert_eq!((e.incidents[0].escalation_level, e.incidents[0].end), (2, Some(at(30))));
}

#[test]
fn an_incident_keeps_its_id_when_nodes_join_it_later() {
    let r = ladder_rules();
    let p = period("2026-10");
    let s = t(2026, 10, 8, 12, 0);
    let mut f = open_outage(&p, s + Duration::minutes(20), &["b1"], &["a1", "c1", "c2"], s);
    let before = evaluate(&f, &r, &p, f.end).incidents[0].id.clone();
    assert_eq!(before, "P2-20261008T1200Z-b1");
    // a1 (first by name) fails 8 minutes later: the same incident, same name.
    let a1 = f.nodes.iter_mut().find(|n| n.node == "a1").unwrap();
    a1.outages = vec![Outage { start: s + Duration::minutes(8), end: f.end, ongoing: true }];
    let e = evaluate(&f, &r, &p, f.end);
    assert_eq!((e.incidents.len(), e.incidents[0].id.as_str()), (1, before.as_str()));
    assert_eq!(e.incidents[0].nodes, vec!["a1", "b1"]);
}

#[test]
fn mean_response_per_severity_averages_the_acknowledged_incidents_exactly() {
    let r = fleet_rules();
    let p = period("2026-10");
    let mut f = facts(&p);
    let (s1, s2, s3) = (t(2026, 10, 8, 12, 0), t(2026, 10, 9, 12, 0), t(2026, 10, 10, 12, 0));
    f.nodes = vec![node(&f, "a1", "eu", &[(s1, 20), (s2, 20), (s3, 20)]), node(&f, "a2", "eu", &[])];
    f.acknowledgements = Some(vec![
        Acknowledgement { node: "a1".into(), at: s1 + Duration::seconds(100) },
        Acknowledgement { node: "a1".into(), at: s2 + Duration::seconds(201) },
    ]);
    let e = run(&r, &f, &p);
    let p2 = e.severities.iter().find(|s| s.severity == "P2").unwrap();
    assert_eq!(p2.mean_response_seconds, Some(Decimal::new(1505, 1)), "(100 + 201) / 2; the third is unacknowledged");
    assert_eq!(e.severities.iter().find(|s| s.severity == "P0").unwrap().mean_response_seconds, None);
}
