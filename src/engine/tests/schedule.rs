//! Line schedules: a quarterly or annual line is evaluated only in the last
//! month of a calendar quarter or year, and is otherwise not met, without
//! evaluating its condition or withholding anything.

use super::*;
use crate::evaluation::LineStatus;

const SCHEDULED: &str = r#"      - id: quarterly
        name: Quarterly bonus
        kind: fixed
        amount: 500
        when: "uptime > 0.995"
        schedule: quarterly
      - id: annual
        name: Annual bonus
        kind: fixed
        amount: 1000
        schedule: annually
"#;

/// alice's three nodes up all month in `label`; the statement's
/// (status, amount, reason) of `id`.
fn outcome(r: &Rules, label: &str, up_share: u64, id: &str) -> (LineStatus, Decimal, String) {
    let p = period(label);
    let mut f = facts(&p);
    f.nodes = ["n1", "n2", "n3"].iter().map(|n| node(&f, n, "eu", &[])).collect();
    let total = slots(&f);
    f.nodes.iter_mut().for_each(|n| n.up_samples = total * up_share / 100);
    let e = run(r, &f, &p);
    let l = line(&e, "alice", id);
    (l.status, l.amount, l.reason.clone())
}

#[test]
fn a_quarterly_line_is_evaluated_in_quarter_end_months_only() {
    let r = programme(SCHEDULED, "");
    for (month, due) in [("01", false), ("02", false), ("03", true), ("06", true), ("09", true), ("11", false)] {
        let (status, amount, reason) = outcome(&r, &format!("2026-{month}"), 100, "quarterly");
        if due {
            assert_eq!((status, amount), (LineStatus::Paid, dec("500")), "{month}: {reason}");
        } else {
            assert_eq!((status, amount), (LineStatus::NotMet, dec("0")), "{month}");
            let next = (month.parse::<u32>().unwrap()).div_ceil(3) * 3;
            assert_eq!(reason, format!("paid quarterly: next in 2026-{next:02}"));
        }
    }
    // In December too, with its condition evaluated as any month's.
    let (status, _, reason) = outcome(&r, "2026-12", 100, "quarterly");
    assert_eq!(status, LineStatus::Paid, "{reason}");
}

#[test]
fn an_annual_line_is_evaluated_in_december() {
    let r = programme(SCHEDULED, "");
    assert_eq!(outcome(&r, "2026-12", 100, "annual").0, LineStatus::Paid);
    let (status, _, reason) = outcome(&r, "2026-09", 100, "annual");
    assert_eq!((status, reason.as_str()), (LineStatus::NotMet, "paid annually: next in 2026-12"));
}

#[test]
fn a_line_that_is_not_due_is_not_withheld_for_missing_data() {
    let r = programme(SCHEDULED, "");
    // Half the samples: coverage 50 % is under the 90 % minimum.
    let (status, _, reason) = outcome(&r, "2026-10", 50, "quarterly");
    assert_eq!((status, reason.as_str()), (LineStatus::NotMet, "paid quarterly: next in 2026-12"));
    // In the quarter's last month the missing-data policy applies as usual.
    assert_eq!(outcome(&r, "2026-09", 50, "quarterly").0, LineStatus::Withheld);
}
