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

/// alice's months of 2026 before October as figures: `(month, total, balance_out)`.
fn alice_months(months: &[(u32, &str, Option<&str>)]) -> History {
    let mut yaml = String::new();
    for (m, total, out) in months {
        let out = out.map_or(String::new(), |b| format!(", balance_out: {b}"));
        yaml += &format!(
            "- period: 2026-{m:02}\n  operators:\n    alice: {{tier: t1, lines: {{stipend: {total}}}{out}}}\n"
        );
    }
    let mut h = figures::history(serde_saphyr::from_str(&yaml).unwrap(), "test").unwrap();
    // Not given: closed without a balance (figures default to 0).
    for (m, _, out) in months {
        if out.is_none() {
            h.months.get_mut(&format!("2026-{m:02}")).unwrap().operators.get_mut("alice").unwrap().balance_out = None;
        }
    }
    h
}

/// October for alice (1700: three nodes and the uptime bonus) with `history`.
fn october_ledger(r: &Rules, history: &History) -> crate::evaluation::Ledger {
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, history, r, &p, p.end);
    assert_eq!(statement(&e, "alice").total, dec("1700.00"));
    statement(&e, "alice").ledger.clone()
}

fn known(balance_in: &str, payable: &str, balance_out: &str, written_off: &str) -> crate::evaluation::Ledger {
    crate::evaluation::Ledger {
        balance_in: Some(dec(balance_in)),
        payable: Some(dec(payable)),
        balance_out: Some(dec(balance_out)),
        written_off: Some(dec(written_off)),
        balance_unknown: None,
        disputes: vec![],
        ..Default::default()
    }
}

#[test]
fn a_payees_first_month_starts_at_zero_and_a_positive_month_pays_its_total() {
    let r = programme("", "");
    let jan = period("2026-01");
    let e = evaluate(&facts(&jan), &History::default(), &r, &jan, jan.end);
    let alice = statement(&e, "alice");
    let t = alice.total.to_string();
    assert_eq!(alice.ledger, known("0.00", &t, "0.00", "0.00"));
    assert_eq!(e.payable, Some(alice.total));
    assert_eq!(october_ledger(&r, &alice_months(&[(9, "900", Some("0"))])), known("0", "1700.00", "0.00", "0.00"));
}

#[test]
fn a_negative_balance_is_carried_forward_and_recovered_from_later_payouts() {
    let r = programme("", "");
    // September left alice owing 2000: October's 1700 pays part of it.
    let oct = october_ledger(&r, &alice_months(&[(9, "-2000", Some("-2000"))]));
    assert_eq!(oct, known("-2000", "0.00", "-300.00", "0.00"));
    // Owing 300: October pays 1400 and the balance is cleared.
    let oct = october_ledger(&r, &alice_months(&[(9, "-300", Some("-300"))]));
    assert_eq!(oct, known("-300", "1400.00", "0.00", "0.00"));
}

#[test]
fn a_clawback_larger_than_the_month_pays_nothing_and_carries_the_rest() {
    let r = with_adjustments(&adjustment("claw", "alice", "-2500", "2026-10", Some("2026-09")));
    let (p, f) = october_three_nodes();
    let e = evaluate(&f, &alice_months(&[(9, "1700", None), (8, "1700", Some("0"))]), &r, &p, p.end);
    let alice = statement(&e, "alice");
    assert_eq!(alice.total, dec("-800.00"), "the total stays the sum of the lines");
    assert_eq!(alice.ledger, known("0.00", "0.00", "-800.00", "0.00"));
}

#[test]
fn under_write_off_a_negative_balance_is_written_off_and_nothing_is_carried() {
    let mut r = programme("", "");
    r.programme.negative_balance = crate::rules::spec::NegativeBalance::WriteOff;
    let oct = october_ledger(&r, &alice_months(&[(9, "-2000", Some("-2000"))]));
    assert_eq!(oct, known("-2000", "0.00", "0.00", "300.00"), "a balance carried before the change is honoured");
    let next = crate::engine::ledger::settle(dec("0.00"), dec("-40.00"), r.programme.negative_balance, dec("0.00"));
    assert_eq!(next, (dec("0.00"), dec("0.00"), dec("40.00")));
}

#[test]
fn a_month_closed_without_a_balance_is_settled_again_from_its_total() {
    let r = programme("", "");
    // August carried 500 out; September (1000) was closed without a
    // balance: it paid 500 and carried nothing.
    let oct = october_ledger(&r, &alice_months(&[(8, "-500", Some("-500")), (9, "1000", None)]));
    assert_eq!(oct, known("0.00", "1700.00", "0.00", "0.00"));
    let oct = october_ledger(&r, &alice_months(&[(8, "-500", Some("-500")), (9, "200", None)]));
    assert_eq!(oct, known("-300.00", "1400.00", "0.00", "0.00"));
}

#[test]
fn a_missing_month_makes_the_balance_unknown_naming_the_month() {
    let r = programme("", "");
    let unknown = |why: &str| crate::evaluation::Ledger { balance_unknown: Some(why.into()), ..Default::default() };
    assert_eq!(october_ledger(&r, &History::default()), unknown("2026-09 is not closed"));
    // September closed without a balance and August not closed: not guessed.
    assert_eq!(october_ledger(&r, &alice_months(&[(9, "1000", None)])), unknown("2026-08 is not closed"));
    let (p, f) = october_three_nodes();
    assert_eq!(evaluate(&f, &History::default(), &r, &p, p.end).payable, None);
}

/// `disputes` (YAML list items) of alice's September lines.
fn with_disputes(disputes: &str, adjustments: &str) -> Rules {
    let adjustments = if adjustments.is_empty() { "  []\n" } else { adjustments };
    with_adjustments(&format!("{adjustments}disputes:\n{disputes}"))
}

#[test]
fn an_open_dispute_shows_on_every_statement_while_open_with_its_age() {
    let d = "  - {id: d1, payee: alice, period: 2026-09, line: stipend, opened_on: 2026-10-05, opened_by: Alice, text: One node short, status: open}\n";
    let r = with_disputes(d, "");
    let (p, f) = october_three_nodes();
    // Closed at the period end: 2026-11-01 is 27 days after the 5th.
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    let open = &statement(&e, "alice").ledger.disputes;
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].id.as_str(), open[0].line.as_str(), open[0].period.as_str()), ("d1", "stipend", "2026-09"));
    assert_eq!((open[0].age_days, open[0].age_seconds), (27, 27 * 86_400));
    assert!(statement(&e, "acme").ledger.disputes.is_empty());
    // Month to date on the 5th at noon: half a day.
    let mut f5 = f.clone();
    f5.end = t(2026, 10, 5, 12, 0);
    let e = evaluate(&f5, &History::default(), &r, &p, f5.end);
    assert_eq!(statement(&e, "alice").ledger.disputes[0].age_seconds, 43_200);
    // Before it was opened (a replay of an earlier evaluation): not there.
    f5.end = t(2026, 10, 4, 12, 0);
    assert!(statement(&evaluate(&f5, &History::default(), &r, &p, f5.end), "alice").ledger.disputes.is_empty());
    // Still open a month later.
    let nov = period("2026-11");
    let e = evaluate(&facts(&nov), &History::default(), &r, &nov, nov.end);
    assert_eq!(statement(&e, "alice").ledger.disputes[0].age_days, 57);
}

#[test]
fn a_resolved_dispute_is_open_until_its_day_and_the_adjustment_names_it() {
    let d = "  - {id: d1, payee: alice, period: 2026-09, line: uptime_bonus, opened_on: 2026-10-02, opened_by: Alice, text: Bonus missing, status: resolved, resolution: Paid in October, resolved_on: 2026-10-20}\n";
    let fix = "  - {id: fix, payee: alice, amount: 200, currency: USD, reason: Uptime bonus of September, reference: FIN-3, approved_by: Dana, period: 2026-10, corrects: 2026-09, dispute: d1}\n";
    let r = with_disputes(d, fix);
    let (p, mut f) = october_three_nodes();
    let e = evaluate(&f, &History::default(), &r, &p, p.end);
    assert!(statement(&e, "alice").ledger.disputes.is_empty(), "resolved on the 20th");
    let l = line(&e, "alice", "fix");
    assert!(l.reason.ends_with("; corrects 2026-09 (back-pay); resolves dispute d1"), "{}", l.reason);
    assert_eq!(l.formula, "adjustment of 200.00 USD, corrects 2026-09 (back-pay), resolves dispute d1");
    assert_eq!(l.inputs["dispute"], "d1");
    f.end = t(2026, 10, 19, 0, 0);
    let e = evaluate(&f, &History::default(), &r, &p, f.end);
    assert_eq!(statement(&e, "alice").ledger.disputes[0].age_days, 17, "open on the 19th");
}
