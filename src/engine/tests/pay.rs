//! Pay lines: the missing-data policy, proration, tenure, line kinds,
//! rounding, identical bytes for identical input.

use super::*;
use crate::evaluation::LineStatus;
use crate::facts::{Acknowledgement, InputFacts};
use crate::money::{RoundingMode, round};
use chrono::Duration;

/// [`programme`]'s three nodes, up for 80 % of October and without data
/// for the rest.
fn eighty_percent_covered() -> (Period, Facts) {
    let (p, mut f) = october_three_nodes();
    let total = slots(&f);
    f.nodes.iter_mut().for_each(|n| n.up_samples = total * 8 / 10);
    (p, f)
}

#[test]
fn a_line_reading_uptime_is_withheld_when_coverage_is_below_the_minimum() {
    let r = programme("", "");
    let (p, f) = eighty_percent_covered(); // 80 % coverage, all up
    let e = run(&r, &f, &p);
    let bonus = line(&e, "alice", "uptime_bonus");
    assert_eq!(bonus.status, LineStatus::Withheld);
    assert_eq!(bonus.amount, Decimal::ZERO);
    assert_eq!(bonus.reason, "coverage 80.00% below 90%");
    // The stipend reads no availability variable and is paid.
    assert_eq!(line(&e, "alice", "stipend").status, LineStatus::Paid);
}

/// Under the minimum coverage the availability variables count as unknown:
/// a condition decided without them still decides the line; one that
/// needs them is withheld, as before.
#[test]
fn under_the_minimum_coverage_a_condition_decided_without_availability_data_decides_the_line() {
    let extra = r#"      - id: response
        name: Response bonus
        kind: fixed
        amount: 100
        when: "incidents == 0 || avg_response_seconds < 900"
      - id: veteran
        name: Needs no availability data to fail
        kind: fixed
        amount: 1
        when: "tenure_months > 100 && uptime > 0.995"
      - id: newcomer
        name: Needs no availability data to pass
        kind: fixed
        amount: 1
        when: "tenure_months < 100 || uptime > 0.995"
      - id: quantity
        name: Computed from availability data
        kind: per_unit
        amount: 1
        when: "tenure_months < 100 || uptime > 0.995"
        quantity: "downtime_seconds"
"#;
    let r = programme(extra, "");
    let (p, mut f) = eighty_percent_covered(); // no downtime, so no incident
    f.acknowledgements = Some(vec![]);
    let e = run(&r, &f, &p);
    let status = |id: &str| {
        let l = line(&e, "alice", id);
        (l.status, l.reason.clone())
    };
    assert_eq!(status("response"), (LineStatus::Withheld, "coverage 80.00% below 90%".to_string()));
    assert_eq!(status("veteran").0, LineStatus::NotMet);
    assert_eq!(status("newcomer").0, LineStatus::Paid);
    assert_eq!(status("quantity"), (LineStatus::Withheld, "coverage 80.00% below 90%".to_string()));
    assert_eq!(status("uptime_bonus"), (LineStatus::Withheld, "coverage 80.00% below 90%".to_string()));
    // With an incident the response bonus needs the average: without an
    // acknowledgement source the reason says so, not the coverage.
    let s = t(2026, 10, 6, 10, 0);
    let (p, mut f) = october_with(&[("n1", "eu", &[(s, 30)]), ("n2", "eu", &[]), ("n3", "eu", &[])]);
    f.nodes.iter_mut().for_each(|n| n.up_samples = n.expected_samples * 8 / 10 - n.down_samples);
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "response");
    assert_eq!(l.status, LineStatus::Withheld);
    assert!(
        l.reason.starts_with("condition: no value for avg_response_seconds (acknowledgements unknown"),
        "{}",
        l.reason
    );
    assert_eq!(l.inputs.get("incidents").map(String::as_str), Some("1"));
}

#[test]
fn the_evaluate_policy_pays_a_line_on_the_known_data_alone() {
    let r = programme("        missing_data: evaluate\n", "");
    // (the extra text lands in the last line, uptime_bonus)
    let (p, f) = eighty_percent_covered();
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
    let (p, mut f) = october_three_nodes();
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
    assert!(l.reason.contains("no incident to respond to"), "{}", l.reason);
}

/// Regression (issue 14 b): in a month without incidents there is no
/// average response, and `incidents < 1 || avg_response_seconds < 900`
/// was withheld for it; `||` is now decided by its known side.
#[test]
fn an_operator_without_incidents_gets_the_response_bonus() {
    let extra = r#"      - id: response
        name: Response bonus
        kind: fixed
        amount: 100
        when: "incidents == 0 || avg_response_seconds < 900"
      - id: response_known
        name: Response bonus, with known()
        kind: fixed
        amount: 100
        when: "if(known(avg_response_seconds), avg_response_seconds < 900, incidents < 1)"
"#;
    let r = programme(extra, "");
    let (p, mut f) = october_three_nodes();
    f.acknowledgements = Some(vec![]);
    let e = run(&r, &f, &p);
    for id in ["response", "response_known"] {
        let l = line(&e, "alice", id);
        assert_eq!((l.status, l.amount), (LineStatus::Paid, dec("100.00")), "{id}: {}", l.reason);
    }
    assert!(line(&e, "alice", "response").reason.contains("holds"), "{}", line(&e, "alice", "response").reason);
    assert_eq!(statement(&e, "alice").total, dec("1900.00")); // 1500 + 200 + 100 + 100
}

#[test]
fn an_operator_who_joined_mid_month_gets_a_prorated_stipend() {
    let r = {
        let mut r = programme("", "");
        r.operators[0].start = chrono::NaiveDate::from_ymd_opt(2026, 10, 16).unwrap();
        r
    };
    let (p, f) = october_three_nodes();
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
    let (p, f) = october_three_nodes();
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
    for (up, down) in [(9_983u64, 17u64), (9_950, 50), (9_900, 100), (10_000, 0)] {
        let (p, f) = october_with_samples(up, down);
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
    let (p, mut f) = october_three_nodes();
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
    let (p, mut f) = october_three_nodes();
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
fn amounts_carry_the_programmes_minor_unit() {
    let r = programme("", "");
    let (p, f) = october_three_nodes();
    let e = run(&r, &f, &p);
    let json = serde_json::to_value(statement(&e, "alice")).unwrap();
    assert_eq!(json["lines"][0]["amount"], "1500.00");
    assert_eq!(json["total"], "1700.00");
    assert_eq!(line(&e, "alice", "stipend").inputs["nodes"], "3");
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
    let s = t(2026, 10, 6, 10, 0);
    let (p, mut f) = october_with(&[("n1", "eu", &[(s, 30)]), ("n2", "eu", &[(s, 10)]), ("zz", "us", &[])]);
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

/// [`programme`]'s October with n1 up all month, n2 down all month (only
/// down samples: seen) and n3 without a single sample.
fn october_n3_never_seen() -> (Period, Facts) {
    let (p, mut f) = october_with(&[("n1", "eu", &[]), ("n2", "eu", &[])]);
    let n2 = &mut f.nodes[1];
    (n2.up_samples, n2.down_samples) = (0, n2.expected_samples);
    (p, f)
}

#[test]
fn a_per_node_line_counts_only_the_nodes_seen_in_the_period() {
    // Regression (issue 14 d): the stipend paid for every roster node, even
    // one without a single sample in the period (1500 instead of 1000).
    let r = programme("", "");
    let (p, mut f) = october_n3_never_seen();
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "stipend");
    let note = "not counted: n3, no samples in the period";
    assert_eq!(l.amount, dec("1000"), "{l:?}");
    assert_eq!(l.formula, format!("500 × 2 nodes × 31/31 days = 1000.00 ({note})"));
    assert_eq!(l.reason, format!("no condition; {note}"));
    assert_eq!((l.inputs["nodes"].as_str(), l.inputs["seen_nodes"].as_str()), ("3", "2"));
    // Still on the roster and on the statement, with zero coverage.
    assert_eq!(statement(&e, "alice").nodes, vec!["n1", "n2", "n3"]);
    // A node whose series is there but without a sample outside maintenance
    // (it reported only in a maintenance window, say) is not seen either.
    let mut n3 = node(&f, "n3", "eu", &[]);
    (n3.up_samples, n3.maintenance_samples) = (0, 120);
    f.nodes.push(n3);
    assert_eq!(line(&run(&r, &f, &p), "alice", "stipend").amount, dec("1000"));
}

#[test]
fn a_per_node_line_with_nodes_roster_counts_every_roster_node() {
    let r =
        programme("      - {id: roster_stipend, name: Roster stipend, kind: per_node, amount: 500, nodes: roster}", "");
    let (p, f) = october_n3_never_seen();
    let e = run(&r, &f, &p);
    let l = line(&e, "alice", "roster_stipend");
    assert_eq!(
        (l.amount, l.formula.as_str(), l.reason.as_str()),
        (dec("1500"), "500 × 3 nodes = 1500.00", "no condition")
    );
    assert!(!l.inputs.contains_key("seen_nodes"), "{:?}", l.inputs);
    assert_eq!(line(&e, "alice", "stipend").amount, dec("1000"));
}

/// The default tier 1 response bonus (rules/tiers.yaml).
const RESPONSE_BONUS: &str = r#"      - id: response
        name: Response bonus
        kind: fixed
        amount: 100
        when: "incidents == 0 || avg_response_seconds < 900"
"#;

/// `alice`'s average response and her response bonus's status.
fn response_bonus(f: &Facts, p: &Period) -> (Option<String>, LineStatus) {
    let e = evaluate(f, &History::default(), &programme(RESPONSE_BONUS, ""), p, f.end);
    let l = line(&e, "alice", "response");
    (l.inputs.get("avg_response_seconds").cloned(), l.status)
}

/// Regression (issue 14 c): an incident never acknowledged dropped out of
/// `avg_response_seconds`, so ignoring a page could pay the response bonus
/// (one incident acknowledged at 5 minutes plus one never acknowledged was
/// paid). It counts its whole time from the page to its resolution.
#[test]
fn an_incident_never_acknowledged_counts_against_the_response_bonus() {
    let (s1, s2) = (t(2026, 10, 6, 10, 0), t(2026, 10, 7, 10, 0));
    let (p, mut f) = october_with(&[("n1", "eu", &[(s1, 20)]), ("n2", "eu", &[(s2, 30)]), ("n3", "eu", &[])]);
    let ack = |at| Some(vec![Acknowledgement { node: "n1".into(), at }]);
    f.acknowledgements = ack(paged(s1) + Duration::minutes(5));
    // (300 + (30 − 5) × 60) / 2 = (300 + 1500) / 2 = 900: not under 900.
    assert_eq!(response_bonus(&f, &p), (Some("900".into()), LineStatus::NotMet));
    let e = run(&programme(RESPONSE_BONUS, ""), &f, &p);
    assert_eq!(line(&e, "alice", "response").inputs.get("incidents").map(String::as_str), Some("2"));
    // Alone, the acknowledged one pays.
    f.nodes[1] = node(&f, "n2", "eu", &[]);
    assert_eq!(response_bonus(&f, &p), (Some("300".into()), LineStatus::Paid));
    // An acknowledgement after the resolution counts as the resolution:
    // n1 resolved 15 minutes after its page, acknowledged an hour after it.
    f.acknowledgements = ack(paged(s1) + Duration::hours(1));
    assert_eq!(response_bonus(&f, &p).0.as_deref(), Some("900"));
    f.acknowledgements = Some(vec![]);
    assert_eq!(response_bonus(&f, &p).0.as_deref(), Some("900"), "never acknowledged: the same");
}

/// Month to date (`serve`): an open incident nobody acknowledged counts its
/// time from the page so far.
#[test]
fn month_to_date_an_open_unacknowledged_incident_counts_its_time_so_far() {
    let s = t(2026, 10, 6, 10, 0);
    let (p, mut f) = october_with(&[("n1", "eu", &[(s, 60)]), ("n2", "eu", &[]), ("n3", "eu", &[])]);
    f.acknowledgements = Some(vec![]);
    f.nodes[0].outages[0].ongoing = true;
    for (minutes, want) in [(19, ("840", LineStatus::Paid)), (20, ("900", LineStatus::NotMet))] {
        f.end = s + Duration::minutes(minutes);
        f.nodes[0].outages[0].end = f.end;
        assert_eq!(response_bonus(&f, &p), (Some(want.0.into()), want.1), "{minutes} min after the first down sample");
    }
}
