//! The ledger sections: `adjustments` (manual credits and debits kept in
//! git) and the programme's `negative_balance` setting. Closed months are never
//! rewritten: a correction of one is an adjustment paid in an open month
//! that names the month it corrects (`corrects`).

use crate::money::Dec;
use crate::rules::expr::{Pos, Text};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A manual credit (positive) or debit (negative) to one payee, paid in
/// `period`: a statement line of its own (kind and category `adjustment`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentSpec {
    /// Unique among adjustments and distinct from every pay line id: it is
    /// the statement line's id.
    pub id: Text,
    /// An operator or partner id on the roster.
    pub payee: Text,
    /// Signed and exact, at most the programme's `rounding.decimals` decimals.
    pub amount: Spanned<Dec>,
    /// Must be the programme's currency.
    pub currency: Text,
    /// Why, in words the payee reads on the statement.
    pub reason: Text,
    /// The ticket, invoice or e-mail it is based on.
    pub reference: Text,
    /// Who approved it.
    pub approved_by: Text,
    /// `YYYY-MM`: the month the adjustment is paid in.
    pub period: Text,
    /// `YYYY-MM` of a closed month it corrects (back-pay when positive,
    /// clawback when negative): before `period`.
    pub corrects: Option<Text>,
}

impl AdjustmentSpec {
    pub fn amount_pos(&self) -> Pos {
        Pos::of(&self.amount)
    }
}

/// What happens to a payee's month that ends below zero (a churn rebate
/// larger than the month's pay, a clawback): nothing negative is paid.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeBalance {
    /// The negative balance is carried into the next month and recovered
    /// from its payout (and the months after, until it is paid off).
    #[default]
    CarryForward,
    /// The negative balance is written off; nothing is carried.
    WriteOff,
}
