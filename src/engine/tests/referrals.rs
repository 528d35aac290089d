//! Partners across months: a partner's own variables and inputs over
//! several months, a referred operator's inputs over its months inside a
//! per-referral line, and retention over the last 12 months.

use super::*;
use crate::evaluation::{LineStatus, Recorded};
use crate::facts::InputFacts;
use crate::history::figures::{self, MonthFigures};

const PARTNER_RULES: &str = r#"
version: 1
programme:
  name: Fleet
SEVERITIES
inputs:
  - {name: revenue, query: sum by (operator) (revenue), unit: money}
  - {name: conversions, query: sum by (partner) (conversions), by: partner}
operators:
  - { id: a, name: A, tier: t1, start: 2026-03-01, nodes: [a1], referred_by: p1 }
  - { id: b, name: B, tier: t1, start: 2025-06-01, end: 2026-02-10, nodes: [], referred_by: p1 }
  - { id: c, name: C, tier: t1, start: 2025-01-01, end: 2025-11-30, nodes: [], referred_by: p1 }
partners:
  - { id: p1, name: Partner One, tier: silver, start: 2025-01-01 }
tiers:
  - { id: t1, name: T1, lines: [{ id: base, name: Base, kind: fixed, amount: 100 }] }
partner_tiers:
  - id: silver
    name: Silver
    lines:
      - { id: quarter, name: Quarter, kind: fixed, amount: 100, when: "conversions_q >= 3" }
      - { id: steady, name: Steady, kind: fixed, amount: 10, when: "referrals_peak <= 1" }
      - id: share
        name: Share
        kind: percent
        percent: 10
        of: { input: revenue }
        per_referral: true
        when: "revenue_3m > 500"
aggregates:
  - { name: conversions_q, of: conversions, over: quarter, how: sum }
  - { name: revenue_3m, of: revenue, over: 3 months, how: sum }
  - { name: referrals_peak, of: referrals, over: 3 months, how: max }
"#;

fn history(yaml: &str) -> History {
    let months: Vec<MonthFigures> = serde_saphyr::from_str(yaml).unwrap();
    figures::history(months, "test").unwrap()
}

#[test]
fn partners_aggregate_their_own_months_and_per_referral_lines_the_operators() {
    let r = rules(&PARTNER_RULES.replace("SEVERITIES", SEVERITIES));
    let (p, mut f) = october_with(&[("a1", "eu", &[])]);
    f.inputs.insert("revenue".into(), InputFacts::Values([("a".to_string(), 200.0)].into()));
    f.inputs.insert("conversions".into(), InputFacts::Values([("p1".to_string(), 1.0)].into()));
    // Q4 to date is October alone: 1 conversion. August is not closed.
    let h = history(
        "- period: 2026-09\n  operators:\n    a: {variables: {revenue: 400}}\n  partners:\n    p1: {variables: {conversions: 5, referrals: 1}}\n",
    );
    let e = evaluate(&f, &h, &r, &p, p.end);
    let quarter = line(&e, "p1", "quarter");
    assert_eq!(quarter.status, LineStatus::NotMet, "September is another quarter: {quarter:?}");
    assert_eq!(quarter.inputs["conversions_q"], "1");
    let share = line(&e, "p1", "share");
    assert_eq!(share.status, LineStatus::Withheld, "{share:?}");
    assert!(share.reason.contains("2026-08 is not closed"), "{}", share.reason);
    // The partner's months are its own: it had no month before, so its
    // peak of referrals needs September only.
    let steady = line(&e, "p1", "steady");
    assert!(steady.reason.contains("2026-08 is not closed"), "{}", steady.reason);

    // With August closed, a's three months of revenue are 100 + 400 + 200.
    let h = history(
        "- period: 2026-08\n  operators:\n    a: {variables: {revenue: 100}}\n  partners:\n    p1: {variables: {conversions: 0, referrals: 1}}\n- period: 2026-09\n  operators:\n    a: {variables: {revenue: 400}}\n  partners:\n    p1: {variables: {conversions: 5, referrals: 1}}\n",
    );
    let e = evaluate(&f, &h, &r, &p, p.end);
    let share = line(&e, "p1", "share");
    assert_eq!((share.status, share.amount), (LineStatus::Paid, dec("20")), "{share:?}");
    assert_eq!(share.inputs["a.revenue_3m"], "700");
    // referrals: 1 in each month → peak 1; retention over 12 months (Nov
    // 2025 – Oct 2026): a stayed, b left in February, c left on 30
    // November 2025: 1 of 3.
    let s = statement(&e, "p1");
    assert_eq!(s.variables["referrals_peak"], Some(Recorded::Num(1.0)));
    assert_eq!(s.variables["retention_12m"], Some(Recorded::Num(1.0 / 3.0)));
    assert_eq!(s.variables["retention"], Some(Recorded::Num(1.0 / 3.0)));
    assert_eq!(line(&e, "p1", "steady").status, LineStatus::Paid);
}

#[test]
fn retention_over_twelve_months_forgets_who_left_before_them() {
    let r = rules(&PARTNER_RULES.replace("SEVERITIES", SEVERITIES));
    // December 2026: the 12 months are January – December 2026; c left in
    // November 2025, before them; b left in February, within them.
    let p = period("2026-12");
    let f = facts(&p);
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    let s = statement(&e, "p1");
    assert_eq!(s.variables["retention_12m"], Some(Recorded::Num(0.5)));
    assert_eq!(s.variables["retention"], Some(Recorded::Num(1.0 / 3.0)), "lifetime retention still counts c");
}
