//! The ledger: adjustments kept in git are statement lines of their own, in
//! the total and the year to date; an adjustment for a month closed without
//! it is not applied, and the evaluation says to move it.

use super::*;
use crate::evaluation::{ADJUSTMENT, LineStatus};
use crate::history::figures;

/// [`programme`] with `adjustments` (YAML list items) and a partner `acme`
/// who referred nobody.
fn with_adjustments(adjustments: &str) -> Rules {
    let extra = format!(
        "partner_tiers:\n  - {{id: p, name: P, lines: [{{id: fee, name: Fee, kind: fixed, amount: 10}}]}}\npartners:\n  - {{id: acme, name: Acme, tier: p, start: 2026-01-01}}\nadjustments:\n{adjustments}"
    );
    programme(&extra, "")
}

fn adjustment(id: &str, payee: &str, amount: &str, period: &str, corrects: Option<&str>) -> String {
    let corrects = corrects.map_or(String::new(), |c| format!(", corrects: {c}"));
    format!(
        "  - {{id: {id}, payee: {payee}, amount: {amount}, currency: USD, reason: Missed bonus, reference: FIN-{id}, approved_by: Dana, period: {period}{corrects}}}\n"
    )
}

/// Every month of 2026 before October closed, alice paid `stipend` 1500
/// and acme `fee` 10 in each, and `extra` lines in September.
fn closed_year(extra_september: &str) -> History {
    let mut yaml = String::new();
    for m in 1..=9 {
        let extra = if m == 9 { extra_september } else { "" };
        yaml += &format!(
            "- period: 2026-{m:02}\n  operators:\n    alice: {{tier: t1, lines: {{stipend: 1500{extra}}}}}\n  partners:\n    acme: {{tier: p, lines: {{fee: 10}}}}\n"
        );
    }
    figures::history(serde_saphyr::from_str(&yaml).unwrap(), "test").unwrap()
}

#[test]
fn an_adjustment_is_a_line_of_its_own_in_the_total_and_the_year_to_date() {
    let r = with_adjustments(&adjustment("adj1", "alice", "125.5", "2026-10", None));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &closed_year(""), &r, &p, p.end);
    let l = line(&e, "alice", "adj1");
    assert_eq!((l.kind.as_str(), l.category.as_str(), l.status), (ADJUSTMENT, ADJUSTMENT, LineStatus::Paid));
    assert_eq!(l.amount.to_string(), "125.50", "exact, at the programme's decimals");
    assert_eq!(l.name, "Adjustment (credit)");
    assert!(l.reason.contains("Missed bonus; reference FIN-adj1; approved by Dana"), "{}", l.reason);
    assert_eq!(l.inputs["approved_by"], "Dana");
    let alice = statement(&e, "alice");
    assert_eq!(alice.lines.last().unwrap().id, "adj1", "after the tier's lines");
    let sum: Decimal = alice.lines.iter().map(|l| l.amount).sum();
    assert_eq!(alice.total, sum);
    assert_eq!(alice.total, dec("1500") + dec("200") + dec("125.50"));
    assert_eq!(e.total, alice.total + statement(&e, "acme").total);
    let ytd = &alice.year_to_date;
    assert_eq!(ytd.lines["adj1"], dec("125.50"));
    assert_eq!(ytd.total, Some(dec("1500") * Decimal::from(9) + alice.total));
    assert!(e.warnings.iter().all(|w| !w.contains("adj1")), "{:?}", e.warnings);
}

#[test]
fn an_adjustment_of_another_month_is_not_applied() {
    let r = with_adjustments(&adjustment("later", "acme", "-5", "2026-11", None));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &closed_year(""), &r, &p, p.end);
    assert!(statement(&e, "acme").lines.iter().all(|l| l.id != "later"));
    assert_eq!(statement(&e, "acme").total, dec("10.00"));
    assert!(e.warnings.iter().all(|w| !w.contains("later")), "{:?}", e.warnings);
}

#[test]
fn a_partner_is_adjusted_and_a_clawback_of_a_closed_month_names_it() {
    let r = with_adjustments(&adjustment("claw", "acme", "-25", "2026-10", Some("2026-08")));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &closed_year(""), &r, &p, p.end);
    let l = line(&e, "acme", "claw");
    assert_eq!((l.name.as_str(), l.amount), ("Clawback for 2026-08", dec("-25.00")));
    assert_eq!(l.formula, "adjustment of -25.00 USD, corrects 2026-08 (clawback)");
    assert!(l.reason.ends_with("corrects 2026-08 (clawback)"), "{}", l.reason);
    assert_eq!(l.inputs["corrects"], "2026-08");
    assert_eq!(statement(&e, "acme").total, dec("-15.00"));
    let back = with_adjustments(&adjustment("back", "alice", "40", "2026-10", Some("2026-09")));
    assert_eq!(line(&evaluate(&f, &closed_year(""), &back, &p, p.end), "alice", "back").name, "Back-pay for 2026-09");
}

#[test]
fn an_adjustment_for_a_month_closed_without_it_is_not_applied_and_named_in_a_warning() {
    let r = with_adjustments(&adjustment("late", "alice", "60", "2026-09", None));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &closed_year(""), &r, &p, p.end);
    assert!(statement(&e, "alice").lines.iter().all(|l| l.id != "late"));
    assert!(
        e.warnings.contains(
            &"adjustment late is for 2026-09, which is closed; move it to an open month (with `corrects: 2026-09`)"
                .to_string()
        ),
        "{:?}",
        e.warnings
    );
    // September closed with it: applied then, nothing to say now.
    let e = evaluate(&f, &closed_year(", late: 60"), &r, &p, p.end);
    assert!(e.warnings.iter().all(|w| !w.contains("late")), "{:?}", e.warnings);
    assert_eq!(statement(&e, "alice").year_to_date.lines["late"], dec("60"));
    // September itself, re-evaluated (re-close, replay): it is applied.
    let sep = period("2026-09");
    let e = evaluate(&facts(&sep), &History::default(), &r, &sep, sep.end);
    assert_eq!(line(&e, "alice", "late").amount, dec("60.00"));
}

#[test]
fn an_adjustment_for_a_payee_without_a_statement_is_not_applied_and_said() {
    let r = with_adjustments(&adjustment("ghost", "nobody", "5", "2026-10", None));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    assert!(
        e.warnings.iter().any(|w| w == "adjustment ghost is for nobody, who has no statement in 2026-10: not applied")
    );
}
