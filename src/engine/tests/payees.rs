//! Payees: an operator's roster of nodes, partners paid per referred operator.

use super::*;
use crate::evaluation::LineStatus;
use crate::facts::InputFacts;
use crate::money::{RoundingMode, round};

#[test]
fn a_roster_node_without_data_has_zero_coverage_and_a_warning() {
    let r = programme("", "");
    let (p, f) = october_with(&[("n1", "eu", &[]), ("n2", "eu", &[]), ("x9", "eu", &[])]);
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
fn a_node_labelled_for_an_operator_with_a_roster_is_not_paid_to_that_operator() {
    let r = programme("", "");
    let (p, mut f) = october_three_nodes();
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
    let (p, mut f) = october_with(&[("a1", "eu", &[]), ("b1", "eu", &[]), ("c1", "us", &[])]);
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
fn mentorship_counts_only_mentees_active_in_the_period() {
    // Regression: `mentees` was the length of the roster list, so a mentor
    // was paid for a mentee who had left (or not yet started).
    let r = programme(
        "      - {id: mentorship, name: Mentorship, kind: per_unit, amount: 150, quantity: mentees}",
        "    mentees: [carol, dave, erin, frank]
  - {id: carol, name: Carol, tier: t1, start: 2026-01-01, end: 2026-09-20, nodes: []}
  - {id: dave, name: Dave, tier: t1, start: 2026-11-05, nodes: []}
  - {id: erin, name: Erin, tier: t1, start: 2026-02-01, nodes: []}
  - {id: frank, name: Frank, tier: t1, start: 2026-03-01, end: 2026-10-20, nodes: []}",
    );
    let (p, f) = october_three_nodes();
    let e = run(&r, &f, &p);
    // erin all month, frank until the 20th; carol left and dave starts after October.
    assert_eq!(line(&e, "alice", "mentorship").amount, dec("300"), "{:?}", line(&e, "alice", "mentorship"));
}
