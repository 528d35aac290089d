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
    /// The negative balance carried out of the month (≤ 0; see
    /// [`Ledger`](crate::evaluation::Ledger)); `None`: not known at its
    /// close, or closed by a version without balances.
    #[serde(default)]
    pub balance_out: Option<Decimal>,
    /// Pay held at the end of the month, carried into the next (≥ 0; see
    /// [`Ledger::held_out`](crate::evaluation::Ledger)); read only with a
    /// known `balance_out`.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub held_out: Decimal,
    /// The month's payout was held (a suspension or the kill switch), so a
    /// balance settled again from its total is held, not paid.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
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
            balance_out: s.ledger.balance_out,
            held_out: s.ledger.held_out.unwrap_or_default(),
            held: s.ledger.held(),
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

impl History {
    /// This history with the months of `opening` it does not have (opening
    /// figures stand for months before the first close; a closed month
    /// wins), and the months both have.
    pub fn with_opening(&self, opening: &History) -> (History, Vec<String>) {
        let mut h = self.clone();
        let mut both = vec![];
        for (label, month) in &opening.months {
            if h.months.contains_key(label) {
                both.push(label.clone());
            } else {
                h.months.insert(label.clone(), month.clone());
            }
        }
        (h, both)
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

/// The month index of `YYYY-MM`.
pub fn parse_month(s: &str) -> Result<i64, String> {
    chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 7)
        .map(|d| index(chrono::Datelike::year(&d), chrono::Datelike::month(&d)))
        .ok_or_else(|| format!("`{s}` is not a month (YYYY-MM)"))
}

/// The months from `from` to `to` (`YYYY-MM`, both included), in order.
pub fn months_from_to(from: &str, to: &str) -> Result<Vec<String>, String> {
    let (a, b) = (parse_month(from)?, parse_month(to)?);
    if a > b {
        return Err(format!("{from} is after {to}"));
    }
    Ok((a..=b).map(label).collect())
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
    fn opening_figures_fill_the_months_not_closed_and_a_closed_month_wins() {
        let month = |sha: &str| ClosedMonth {
            statement_sha256: sha.into(),
            operators: BTreeMap::new(),
            partners: BTreeMap::new(),
        };
        let closed = History { months: [("2026-06".to_string(), month("closed"))].into() };
        let opening = History {
            months: [("2026-05".to_string(), month("opening")), ("2026-06".to_string(), month("opening"))].into(),
        };
        let (h, both) = closed.with_opening(&opening);
        assert_eq!(both, vec!["2026-06"]);
        assert_eq!(h.months["2026-06"].statement_sha256, "closed");
        assert_eq!(h.months["2026-05"].statement_sha256, "opening");
    }

    #[test]
    fn months_from_to_are_in_order_across_years_and_refuse_a_reversed_range() {
        assert_eq!(months_from_to("2025-11", "2026-02").unwrap(), vec!["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(months_from_to("2026-09", "2026-09").unwrap(), vec!["2026-09"]);
        assert!(months_from_to("2026-10", "2026-09").unwrap_err().contains("2026-10 is after 2026-09"));
        assert!(months_from_to("2026-9", "2026-10").unwrap_err().contains("not a month"));
    }

    #[test]
    fn month_labels_count_back_across_years() {
        assert_eq!(months_before(2026, 2, 3), vec!["2025-11", "2025-12", "2026-01"]);
        assert_eq!(label(index(2026, 12)), "2026-12");
        assert!(months_before(2026, 5, 0).is_empty());
        assert_eq!(not_closed(&["2026-08".into()]), "2026-08 is not closed");
        assert_eq!(not_closed(&["2026-07".into(), "2026-08".into()]), "2026-07, 2026-08 are not closed");
    }
}
