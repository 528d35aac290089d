//! Promotion checks: undecided while the data they read is too thin.

use super::*;

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
    let (p, mut f) = october_three_nodes();
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
