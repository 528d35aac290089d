//! Enforcement: a payee's states governing a month (any day of it), a
//! throttle stopping the lines its tier lists, a suspension holding the
//! payout (computed, not payable, carried as held, released in the first
//! month not held), the kill switch holding every payout, a terminated
//! partner's end.

use super::*;
use crate::evaluation::{LineStatus, PROGRAMME_HOLD};
use crate::history::figures;

/// [`programme`] with alice's `states:` (YAML list items), `tier_extra`
/// under tier t1 and a partner `acme` (no referrals; a fee of 10) with
/// `partner_extra` in its mapping.
fn with_states(states: &str, tier_extra: &str, partner_extra: &str) -> Rules {
    let extra = format!(
        "{tier_extra}partner_tiers:\n  - {{id: p, name: P, lines: [{{id: fee, name: Fee, kind: fixed, amount: 10}}]}}\npartners:\n  - {{id: acme, name: Acme, tier: p, start: 2026-01-01{partner_extra}}}\n"
    );
    programme(&extra, &format!("    states:\n{states}"))
}

/// alice's September as figures: 1700 paid, `more` (e.g. `held_out: 900`).
fn september(more: &str) -> History {
    let yaml = format!(
        "- period: 2026-09\n  operators:\n    alice: {{tier: t1, lines: {{stipend: 1700}}{more}}}\n  partners:\n    acme: {{tier: p, lines: {{fee: 10}}}}\n"
    );
    figures::history(serde_saphyr::from_str(&yaml).unwrap(), "test").unwrap()
}

fn october(r: &Rules, history: &History) -> Evaluation {
    let (p, f) = october_three_nodes();
    evaluate(&f, history, r, &p, p.end)
}

#[test]
fn a_warning_is_shown_and_changes_nothing() {
    let r = with_states("      - {state: warned, since: 2026-10-30, reason: Reports late}\n", "", "");
    let e = october(&r, &september(""));
    let alice = statement(&e, "alice");
    let st = &alice.ledger.states;
    assert_eq!(st.len(), 1);
    assert_eq!(
        (st[0].state.as_str(), st[0].since.to_string(), st[0].reason.as_str()),
        ("warned", "2026-10-30".into(), "Reports late")
    );
    assert_eq!((alice.total, alice.ledger.payable), (dec("1700.00"), Some(dec("1700.00"))));
    assert!(!alice.ledger.held() && alice.ledger.held_out.is_none());
    assert!(statement(&e, "acme").ledger.states.is_empty());
}

#[test]
fn a_suspension_on_any_day_holds_the_month_computed_and_not_payable() {
    let r = with_states("      - {state: suspended, since: 2026-10-31, reason: Node n3 under investigation}\n", "", "");
    let e = october(&r, &september(""));
    let alice = statement(&e, "alice");
    assert_eq!(alice.total, dec("1700.00"), "pay is computed as usual");
    assert!(alice.lines.iter().all(|l| l.status == LineStatus::Paid));
    let g = &alice.ledger;
    assert_eq!((g.payable, g.held_out, g.held_in), (Some(dec("0.00")), Some(dec("1700.00")), None));
    assert_eq!(g.holds.len(), 1);
    assert_eq!((g.holds[0].state.as_str(), g.holds[0].reason.as_str()), ("suspended", "Node n3 under investigation"));
    assert_eq!(e.payable, Some(dec("10.00")), "acme's fee only");
    // September, before it: not held.
    let sep = period("2026-09");
    let e = evaluate(&facts(&sep), &History::default(), &r, &sep, sep.end);
    assert!(statement(&e, "alice").ledger.holds.is_empty());
}

#[test]
fn what_is_held_is_released_with_the_first_month_not_held() {
    let r = with_states("      - {state: suspended, since: 2026-08-10, until: 2026-09-01, reason: Audit}\n", "", "");
    let e = october(&r, &september(", balance_out: 0, held_out: 2400"));
    let g = &statement(&e, "alice").ledger;
    assert_eq!(g.states, vec![], "the suspension ended in September");
    assert_eq!((g.held_in, g.payable, g.held_out), (Some(dec("2400")), Some(dec("4100.00")), None));
    assert_eq!(e.payable, Some(dec("4110.00")));
}

#[test]
fn a_held_month_first_pays_off_what_is_owed_and_holds_the_rest() {
    let r = with_states("      - {state: suspended, since: 2026-10-01, reason: Audit}\n", "", "");
    let g = statement(&october(&r, &september(", balance_out: -300")), "alice").ledger.clone();
    assert_eq!((g.balance_in, g.payable, g.balance_out), (Some(dec("-300")), Some(dec("0.00")), Some(dec("0.00"))));
    assert_eq!(g.held_out, Some(dec("1400.00")));
    // A held month below zero holds nothing and carries the balance.
    let clawback = "adjustments:\n  - {id: claw, payee: alice, amount: -2000, currency: USD, reason: r, reference: F-1, approved_by: D, period: 2026-10}\n";
    let r = with_states("      - {state: suspended, since: 2026-10-01, reason: Audit}\n", clawback, "");
    let g = statement(&october(&r, &september(", held_out: 100")), "alice").ledger.clone();
    assert_eq!(
        (g.held_in, g.payable, g.balance_out, g.held_out),
        (Some(dec("100")), Some(dec("0.00")), Some(dec("-200.00")), Some(dec("0.00")))
    );
}

#[test]
fn a_month_closed_without_a_balance_is_settled_again_held_as_it_was() {
    let r = with_states("      - {state: warned, since: 2026-10-01, reason: r}\n", "", "");
    let mut h = september("");
    let sep = h.months.get_mut("2026-09").unwrap().operators.get_mut("alice").unwrap();
    (sep.balance_out, sep.held) = (None, true);
    let aug = "- period: 2026-08\n  operators:\n    alice: {tier: t1, lines: {stipend: 500}, held_out: 500}\n";
    h.months.extend(figures::history(serde_saphyr::from_str(aug).unwrap(), "test").unwrap().months);
    let g = statement(&october(&r, &h), "alice").ledger.clone();
    assert_eq!(g.held_in, Some(dec("2200")), "August's 500 held and September's 1700, held too");
    assert_eq!(g.payable, Some(dec("3900.00")));
}

#[test]
fn a_throttle_stops_the_lines_its_tier_lists_and_lines_reading_them_see_zero() {
    let tier = "      - {id: share, name: Share, kind: percent, percent: 10, of: {lines: [uptime_bonus]}}\n    throttled_lines: [uptime_bonus]\n";
    let r = with_states(
        "      - {state: throttled, since: 2026-10-15, until: 2026-10-20, reason: SLA breaches}\n",
        tier,
        "",
    );
    let e = october(&r, &september(""));
    let bonus = line(&e, "alice", "uptime_bonus");
    assert_eq!((bonus.status, bonus.amount), (LineStatus::NotMet, dec("0.00")));
    assert_eq!(bonus.amount.to_string(), "0.00");
    assert_eq!(bonus.formula, "0 (throttled; would be 200.00)");
    assert!(
        bonus.reason.starts_with(
            "not paid: throttled since 2026-10-15 (SLA breaches): tier `t1` stops this line while throttled (`throttled_lines`); it would have paid 200.00: "
        ),
        "{}",
        bonus.reason
    );
    assert_eq!(line(&e, "alice", "stipend").amount, dec("1500.00"), "not listed: paid");
    assert_eq!(line(&e, "alice", "share").amount, dec("0.00"), "10 % of the throttled line");
    let alice = statement(&e, "alice");
    assert_eq!((alice.total, alice.ledger.payable), (dec("1500.00"), Some(dec("1500.00"))));
    // November: no longer throttled.
    let nov = period("2026-11");
    let e = evaluate(&facts(&nov), &History::default(), &r, &nov, nov.end);
    assert!(statement(&e, "alice").ledger.states.is_empty());
}

#[test]
fn the_kill_switch_holds_every_payout_with_its_reason() {
    let mut r = with_states("      - {state: suspended, since: 2026-10-05, reason: Audit}\n", "", "");
    r.programme.hold_all = Some(serde_saphyr::from_str("{since: 2026-10-20, reason: Payout audit FIN-88}").unwrap());
    let e = october(&r, &september(""));
    let all = e.hold_all.as_ref().expect("in force in October");
    assert_eq!((all.state.as_str(), all.reason.as_str()), (PROGRAMME_HOLD, "Payout audit FIN-88"));
    for s in e.operators.iter().chain(&e.partners) {
        assert_eq!(s.ledger.payable, Some(dec("0.00")), "{}", s.id);
        assert_eq!(s.ledger.held_out, Some(s.total), "{}", s.id);
        assert_eq!(s.ledger.holds[0], *all, "{}: the kill switch first", s.id);
    }
    assert_eq!(statement(&e, "alice").ledger.holds[1].state, "suspended");
    assert_eq!(e.payable, Some(dec("0.00")));
    assert_eq!(e.total, dec("1710.00"), "the totals are the lines'");
    // Lifted before November: everything held is paid then.
    r.programme.hold_all = Some(serde_saphyr::from_str("{since: 2026-10-20, until: 2026-10-31, reason: r}").unwrap());
    let nov = period("2026-11");
    let e = evaluate(&facts(&nov), &september(""), &r, &nov, nov.end);
    assert!(e.hold_all.is_none());
}

#[test]
fn a_terminated_partner_has_its_last_statement_in_the_month_of_its_end() {
    let r = with_states(
        "      - {state: warned, since: 2026-02-01, reason: r}\n",
        "",
        ", end: 2026-10-12, states: [{state: terminated, since: 2026-10-12, reason: Contract ended}]",
    );
    let e = october(&r, &september(""));
    let acme = statement(&e, "acme");
    assert_eq!(acme.ledger.states[0].state, "terminated");
    assert_eq!(acme.total, dec("10.00"));
    let nov = period("2026-11");
    let e = evaluate(&facts(&nov), &History::default(), &r, &nov, nov.end);
    assert!(e.partners.is_empty(), "after its end a partner has no statement");
}
