//! The enforcement families: a payee's states, the pay held per payee and
//! in all, the kill switch.

use super::*;

/// October 2026 of operator `a` (suspended from the 10th) and `b`, who
/// joined on the 1st, with `programme` extra settings.
fn held(programme: &str) -> Evaluation {
    let yaml = format!(
        "version: 1\nprogramme:\n  name: P\n{programme}{SEVERITIES}\noperators:\n  - {{ id: a, name: A, tier: t, start: 2026-10-01, states: [{{ state: warned, since: 2026-10-01, until: 2026-10-09, reason: r }}, {{ state: suspended, since: 2026-10-10, reason: Audit }}] }}\n  - {{ id: b, name: B, tier: t, start: 2026-10-01 }}\ntiers:\n  - {{ id: t, name: T, lines: [{{ id: l, name: L, kind: fixed, amount: 100.25 }}] }}\n"
    );
    let p = period("2026-10");
    evaluate(&facts(&p), &History::default(), &rules(&yaml), &p, p.end)
}

fn rows(e: &Evaluation, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
    let s = parse(&exposition(Some(&encode_evaluation(e)), &SelfMetrics::default()));
    samples_named(&s, name).into_iter().map(|x| (x.labels.clone().into_iter().collect(), x.value)).collect()
}

fn labels(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

#[test]
fn a_payees_states_and_the_pay_held_are_metrics() {
    let e = held("");
    let state = |s: &str| labels(&[("payee_kind", "operator"), ("payee", "a"), ("state", s)]);
    assert_eq!(rows(&e, "fleet_incentives_payee_state"), [(state("warned"), 1.0), (state("suspended"), 1.0)]);
    let payee = |p: &str| labels(&[("payee_kind", "operator"), ("payee", p), ("tier", "t"), ("currency", "USD")]);
    assert_eq!(rows(&e, "fleet_incentives_payee_held_amount"), [(payee("a"), 100.25), (payee("b"), 0.0)]);
    assert_eq!(rows(&e, "fleet_incentives_programme_held_amount"), [(labels(&[("currency", "USD")]), 100.25)]);
    assert_eq!(rows(&e, "fleet_incentives_programme_hold_all"), [(vec![], 0.0)]);
    assert_eq!(rows(&e, "fleet_incentives_payee_payable_amount")[0].1, 0.0, "a's payable");
}

#[test]
fn under_the_kill_switch_everything_is_held_and_said() {
    let e = held("  hold_all: { since: 2026-10-31, reason: Payout audit }\n");
    assert_eq!(rows(&e, "fleet_incentives_programme_hold_all"), [(vec![], 1.0)]);
    assert_eq!(rows(&e, "fleet_incentives_programme_held_amount")[0].1, 200.5);
    assert_eq!(rows(&e, "fleet_incentives_programme_payable_amount")[0].1, 0.0);
}

#[test]
fn a_held_amount_not_known_has_no_sample() {
    let mut e = held("");
    e.operators[1].ledger = Default::default();
    let held = rows(&e, "fleet_incentives_payee_held_amount");
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(rows(&e, "fleet_incentives_programme_held_amount").is_empty());
}
