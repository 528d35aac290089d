//! The programme's history: what the closed months before a period recorded
//! per payee — the input of every figure over several months (aggregates,
//! year to date, "eligible since"). Pure data: [`History::add_statement`]
//! turns a closed month's evaluation into its record; [`dir`] is the one
//! reader of a directory of closed months; a close keeps the history it
//! used in its evidence so that a replay needs no directory.

pub mod dir;
pub mod figures;

use crate::evaluation::{Availability, Evaluation, Recorded, Statement};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Closed months by `YYYY-MM`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub months: BTreeMap<String, ClosedMonth>,
}

/// One closed month: who was paid what, and the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedMonth {
    /// SHA-256 of the month's `statement.json`.
    pub statement_sha256: String,
    pub operators: BTreeMap<String, PayeeMonth>,
    pub partners: BTreeMap<String, PayeeMonth>,
}

/// One payee in one closed month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayeeMonth {
    pub tier: String,
    /// Availability seconds over the payee's nodes (pooled aggregates add them up).
    pub availability: Availability,
    /// Every variable the month's rules could read, as recorded (`None`: unknown that month).
    pub variables: BTreeMap<String, Option<Recorded>>,
    /// Amount of each pay line.
    pub lines: BTreeMap<String, Decimal>,
    pub total: Decimal,
    /// Promotion eligibility that month (`None`: no promotion from the tier, or undecided).
    pub eligible: Option<bool>,
}

impl PayeeMonth {
    fn of(s: &Statement) -> PayeeMonth {
        PayeeMonth {
            tier: s.tier.clone(),
            availability: s.availability.clone(),
            variables: s.variables.clone(),
            lines: s.lines.iter().map(|l| (l.id.clone(), l.amount)).collect(),
            total: s.total,
            eligible: s.promotion.as_ref().map(|p| p.eligible),
        }
    }
}

impl History {
    /// Add a closed month from its evaluation and the SHA-256 of its statement file.
    pub fn add_statement(&mut self, statement_sha256: &str, e: &Evaluation) {
        let payees = |list: &[Statement]| list.iter().map(|s| (s.id.clone(), PayeeMonth::of(s))).collect();
        self.months.insert(
            e.period.clone(),
            ClosedMonth {
                statement_sha256: statement_sha256.to_string(),
                operators: payees(&e.operators),
                partners: payees(&e.partners),
            },
        );
    }
}

/// Months as one number: `year × 12 + month − 1`.
pub fn index(year: i32, month: u32) -> i64 {
    year as i64 * 12 + month as i64 - 1
}

/// `YYYY-MM` of a month index.
pub fn label(index: i64) -> String {
    format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

/// The `n` months before `year-month`, oldest first, as `YYYY-MM`.
pub fn months_before(year: i32, month: u32, n: u32) -> Vec<String> {
    let at = index(year, month);
    (at - n as i64..at).map(label).collect()
}

/// `a is not closed` / `a, b are not closed`.
pub fn not_closed(months: &[String]) -> String {
    match months {
        [one] => format!("{one} is not closed"),
        many => format!("{} are not closed", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_labels_count_back_across_years() {
        assert_eq!(months_before(2026, 2, 3), vec!["2025-11", "2025-12", "2026-01"]);
        assert_eq!(label(index(2026, 12)), "2026-12");
        assert!(months_before(2026, 5, 0).is_empty());
        assert_eq!(not_closed(&["2026-08".into()]), "2026-08 is not closed");
        assert_eq!(not_closed(&["2026-07".into(), "2026-08".into()]), "2026-07, 2026-08 are not closed");
    }
}
