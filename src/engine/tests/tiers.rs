//! The roster over time: a tier history governs each month's statement
//! (lines, tier, promotion), `tier_months`, and mentees who succeeded.

use super::*;
use crate::evaluation::LineStatus;

/// alice: t1 from 2026-01-15, t2 from 2026-09-15 (mid-month: governs from
/// October). Each tier pays its own fixed base and 1 per `tier_months`.
fn promoted() -> Rules {
    rules(&format!(
        r#"
version: 1
{SEVERITIES}
operators:
  - id: alice
    name: Alice
    start: 2026-01-15
    tiers:
      - {{ tier: t1, since: 2026-01-15 }}
      - {{ tier: t2, since: 2026-09-15 }}
    nodes: [n1]
tiers:
  - id: t1
    name: T1
    lines:
      - {{ id: base, name: Base, kind: fixed, amount: 100 }}
      - {{ id: months, name: Months, kind: per_unit, amount: 1, quantity: tier_months }}
  - id: t2
    name: T2
    lines:
      - {{ id: base, name: Base, kind: fixed, amount: 200 }}
      - {{ id: months, name: Months, kind: per_unit, amount: 1, quantity: tier_months }}
promotions:
  - {{ from: t1, to: t2, checks: [{{ name: six months as t1, when: "tier_months >= 6" }}] }}
  - {{ from: t2, to: t3, checks: [{{ name: a year as t2, when: "tier_months >= 12" }}] }}
"#
    ))
}

/// `label` with node n1 up all month.
fn month(label: &str) -> (Period, Facts) {
    let p = period(label);
    let mut f = facts(&p);
    f.nodes = vec![node(&f, "n1", "eu", &[])];
    (p, f)
}

#[test]
fn the_tier_in_force_on_the_first_day_governs_the_month() {
    let r = promoted();
    // September: the change on the 15th is not yet in force on the 1st.
    let (p, f) = month("2026-09");
    let e = run(&r, &f, &p);
    let s = statement(&e, "alice");
    assert_eq!((s.tier.as_str(), s.tier_since.map(|d| d.to_string())), ("t1", Some("2026-01-15".into())));
    assert_eq!(line(&e, "alice", "base").amount, dec("100"));
    // January (the start month) = 1 … September = 9.
    assert_eq!(line(&e, "alice", "months").amount, dec("9"));
    let pr = s.promotion.as_ref().unwrap();
    assert_eq!((pr.to.as_str(), pr.eligible), ("t2", true));
    // October: t2 in its first month; the statement names the roster's date.
    let (p, f) = month("2026-10");
    let e = run(&r, &f, &p);
    let s = statement(&e, "alice");
    assert_eq!((s.tier.as_str(), s.tier_since.map(|d| d.to_string())), ("t2", Some("2026-09-15".into())));
    assert_eq!(line(&e, "alice", "base").amount, dec("200"));
    assert_eq!(line(&e, "alice", "months").amount, dec("1"));
    assert_eq!(line(&e, "alice", "months").inputs["tier_months"], "1");
    let pr = s.promotion.as_ref().unwrap();
    assert_eq!((pr.to.as_str(), pr.eligible), ("t3", false));
    assert!(pr.checks[0].detail.contains("tier_months = 1"), "{}", pr.checks[0].detail);
    // September 2027: the twelfth month as t2.
    let (p, f) = month("2027-09");
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "alice", "months").amount, dec("12"));
    assert!(statement(&e, "alice").promotion.as_ref().unwrap().eligible);
}

#[test]
fn a_single_tier_counts_tier_months_from_the_start_month_and_partners_have_no_tier_since() {
    let r = promoted();
    let mut r1 = r.clone();
    r1.operators[0].tier = Some(r.operators[0].tiers[0].tier.clone());
    r1.operators[0].tiers.clear();
    let (p, f) = month("2026-10");
    let e = run(&r1, &f, &p);
    let s = statement(&e, "alice");
    assert_eq!((s.tier.as_str(), line(&e, "alice", "months").amount), ("t1", dec("10")));
    assert_eq!(s.tier_since.map(|d| d.to_string()), Some("2026-01-15".into()));
    let json = serde_json::to_string(s).unwrap();
    assert!(json.contains(r#""tier_since":"2026-01-15""#), "{json}");
    let partner = Statement { tier_since: None, ..s.clone() };
    assert!(!serde_json::to_string(&partner).unwrap().contains("tier_since"));
}

/// grace mentors m1…m5 (see [`mentors`]); her `mentees_successful` in `label`.
fn successful(r: &Rules, label: &str) -> String {
    let (p, f) = month(label);
    let e = run(r, &f, &p);
    line(&e, "grace", "successful").inputs["mentees_successful"].clone()
}

/// grace (t1) mentors:
/// - m1: from 2026-03-01, still in;
/// - m2: from 2026-03-20 (mid-month; March is month 1), still in;
/// - m3: from 2026-03-01, left 2026-08-31 (in month 6, the churn window);
/// - m4: from 2026-03-01, left 2026-09-01 (in month 7);
/// - m5: from 2026-06-01, promoted to t2 from 2026-07-10 (governs August), left 2026-08-31.
fn mentors() -> Rules {
    rules(&format!(
        r#"
version: 1
{SEVERITIES}
operators:
  - {{ id: grace, name: G, tier: t1, start: 2025-01-01, nodes: [n1], mentees: [m1, m2, m3, m4, m5, nobody] }}
  - {{ id: m1, name: M1, tier: t1, start: 2026-03-01 }}
  - {{ id: m2, name: M2, tier: t1, start: 2026-03-20 }}
  - {{ id: m3, name: M3, tier: t1, start: 2026-03-01, end: 2026-08-31 }}
  - {{ id: m4, name: M4, tier: t1, start: 2026-03-01, end: 2026-09-01 }}
  - id: m5
    name: M5
    start: 2026-06-01
    end: 2026-08-31
    tiers: [{{ tier: t1, since: 2026-06-01 }}, {{ tier: t2, since: 2026-07-10 }}]
tiers:
  - id: t1
    name: T1
    lines:
      - {{ id: successful, name: Successful, kind: per_unit, amount: 150, quantity: mentees_successful }}
"#
    ))
}

#[test]
fn mentees_succeed_after_six_programme_months_without_leaving_in_them_or_by_promotion() {
    let r = mentors();
    // July: nobody has six months yet (March = month 1, July = 5); m5's
    // promotion governs from August.
    assert_eq!(successful(&r, "2026-07"), "0");
    // August: m5's promotion is in force; m1, m2 (mid-month start, months
    // as tenure_months counts), m4 finish month 6; m3 left in month 6.
    assert_eq!(successful(&r, "2026-08"), "4");
    // Later months: the same four, whether still active (m4 and m5 left).
    assert_eq!(successful(&r, "2027-05"), "4");
    let (p, f) = month("2026-08");
    let e = run(&r, &f, &p);
    assert_eq!(line(&e, "grace", "successful").amount, dec("600"));
    assert_eq!(line(&e, "grace", "successful").status, LineStatus::Paid);
}
