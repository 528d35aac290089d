//! `payroll.csv`: finance's payroll file of a closed month, one row per
//! payee (operators, then partners): what to pay (the ledger's `payable`),
//! the hold that stops it and the amount held, and a reference to pay it
//! under. A payee whose payable is not known (a month before not closed)
//! gets no number: the amount is empty and `payable_unknown` says why —
//! never a guessed 0. Written through [`crate::report::CsvTable`] (RFC
//! 4180, CRLF, formula-like text neutralised).

use super::statement;
use crate::evaluation::{Evaluation, Statement};
use crate::report::{Cell, CsvTable};
use rust_decimal::Decimal;

/// The payroll file in a closed month's directory.
pub const PAYROLL_CSV: &str = "payroll.csv";

/// The columns: `net_payable` and `held_amount` are numbers (decimal
/// strings; empty when not known).
const COLUMNS: [(&str, Cell); 11] = [
    ("period", Cell::Text),
    ("payee_kind", Cell::Text),
    ("payee_id", Cell::Text),
    ("payee_name", Cell::Text),
    ("net_payable", Cell::Number),
    ("currency", Cell::Text),
    ("hold", Cell::Text),
    ("held_amount", Cell::Number),
    ("state", Cell::Text),
    ("reference", Cell::Text),
    ("payable_unknown", Cell::Text),
];

/// `none`, or why the payout is held: `programme_hold` (the kill switch),
/// `suspended`, or both (`programme_hold; suspended`).
pub fn hold(s: &Statement) -> String {
    let mut by: Vec<&str> = s.ledger.holds.iter().map(|h| h.state.as_str()).collect();
    by.dedup();
    if by.is_empty() { "none".to_string() } else { by.join("; ") }
}

/// The payment reference of a payee's month: `<period>-<payee id>`.
pub fn reference(period: &str, s: &Statement) -> String {
    format!("{period}-{}", s.id)
}

/// The payroll file of an evaluated month.
pub fn csv(e: &Evaluation) -> String {
    let mut t = CsvTable::new(&COLUMNS);
    for (kind, s) in statement::payees(e) {
        let g = &s.ledger;
        let payable = g.payable.map(|p| p.to_string()).unwrap_or_default();
        // Known: what is held after this month (0 when nothing is).
        let held = g.payable.map(|p| g.held_out.unwrap_or(Decimal::new(0, p.scale())).to_string()).unwrap_or_default();
        let states: Vec<&str> = g.states.iter().map(|st| st.state.as_str()).collect();
        let unknown = match (g.payable, &g.balance_unknown) {
            (Some(_), _) => String::new(),
            (None, why) => {
                format!("the balance carried in is not known: {}", why.as_deref().unwrap_or("not evaluated"))
            }
        };
        let hold = hold(s);
        let reference = reference(&e.period, s);
        t.row(&[
            &e.period,
            kind,
            &s.id,
            &s.name,
            &payable,
            &e.currency,
            &hold,
            &held,
            &states.join("; "),
            &reference,
            &unknown,
        ]);
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testutil::*;
    use crate::history::History;

    /// October of operators `a` (suspended) and `b`, who start on `start`.
    fn evaluation(start: &str, extra: &str) -> Evaluation {
        let yaml = format!(
            "version: 1\noperators:\n  - {{id: a, name: '=cmd()', tier: t, start: {start}, states: [{{state: suspended, since: 2026-10-03, reason: Audit}}]}}\n  - {{id: b, name: B, tier: t, start: {start}}}\ntiers:\n  - id: t\n    name: T\n    lines:\n      - {{id: l, name: L, kind: fixed, amount: 100}}\n{extra}"
        );
        let p = period("2026-10");
        crate::engine::evaluate(&facts(&p), &History::default(), &rules(&yaml), &p, p.end)
    }

    fn rows(text: &str) -> Vec<csv::StringRecord> {
        csv::Reader::from_reader(text.as_bytes()).into_records().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn one_row_per_payee_with_the_payable_the_hold_and_a_reference() {
        let text = csv(&evaluation("2026-10-01", ""));
        assert!(text.starts_with("period,payee_kind,payee_id,payee_name,net_payable,currency,hold,held_amount,state,reference,payable_unknown\r\n"), "{text}");
        let r = rows(&text);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].iter().collect::<Vec<_>>(),
            ["2026-10", "operator", "a", "'=cmd()", "0.00", "USD", "suspended", "100.00", "suspended", "2026-10-a", ""]
        );
        assert_eq!(
            r[1].iter().collect::<Vec<_>>(),
            ["2026-10", "operator", "b", "B", "100.00", "USD", "none", "0.00", "", "2026-10-b", ""]
        );
    }

    #[test]
    fn a_payable_not_known_gets_no_number_and_says_why() {
        // The payees started in January; September is not closed.
        let r = rows(&csv(&evaluation("2026-01-01", "")));
        assert_eq!((&r[1][4], &r[1][7]), ("", ""), "no amount, nothing held that is known");
        assert_eq!(&r[1][10], "the balance carried in is not known: 2026-09 is not closed");
    }

    #[test]
    fn under_the_kill_switch_every_row_is_held() {
        let e = evaluation("2026-10-01", "programme: {name: P, hold_all: {since: 2026-10-31, reason: Audit}}\n");
        let r = rows(&csv(&e));
        assert_eq!((&r[0][4], &r[0][6]), ("0.00", "programme_hold; suspended"));
        assert_eq!((&r[1][4], &r[1][6], &r[1][7]), ("0.00", "programme_hold", "100.00"));
    }
}
