//! Uptime and coverage: known samples only, unknown time neither up nor down.

use super::*;
use crate::evaluation::LineStatus;

#[test]
fn uptime_of_exactly_99_5_percent_does_not_pay_a_bonus_for_more_than_99_5_percent() {
    let r = programme("", "");
    // 223 down of 44,600 known samples is exactly 0.5 %.
    let (p, f) = october_with_samples(44_377, 223);
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
    let (p, f) = october_with_samples(44_378, 222);
    let e = run(&r, &f, &p);
    assert!(Decimal::from(44_378u64) / Decimal::from(44_600u64) > dec("0.995"));
    let l = line(&e, "alice", "uptime_bonus");
    assert_eq!(l.status, LineStatus::Paid, "{l:?}");
    assert_eq!(l.amount, dec("200"));
}

#[test]
fn unknown_time_is_neither_up_nor_down_and_lowers_coverage_only() {
    let r = programme("", "");
    let (p, mut f) = october_three_nodes();
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
