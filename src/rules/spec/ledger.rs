//! The ledger sections: `adjustments` (manual credits and debits kept in
//! git), `disputes` (a payee's objection to a line of a month) and the
//! programme's `negative_balance` setting. Closed months are never
//! rewritten: a correction of one is an adjustment paid in an open month
//! that names the month it corrects (`corrects`).

use crate::money::Dec;
use crate::rules::expr::{Pos, Text};
use chrono::NaiveDate;
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
    /// Id of the dispute (of the same payee) it resolves.
    pub dispute: Option<Text>,
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

/// A payee's dispute of one line of one month, kept in git. It shows on
/// the payee's statements while it is open; resolving it is an adjustment
/// in an open month that names it (`dispute:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeSpec {
    pub id: Text,
    /// An operator or partner id on the roster.
    pub payee: Text,
    /// `YYYY-MM` of the month disputed.
    pub period: Text,
    /// A pay line id of the payee's tier, or the id of one of its adjustments.
    pub line: Text,
    /// The day it was opened: on or after the first day of `period`.
    pub opened_on: Spanned<NaiveDate>,
    pub opened_by: Text,
    /// The payee's objection.
    pub text: Text,
    pub status: Spanned<DisputeStatus>,
    /// Required once resolved or rejected.
    pub resolution: Option<Text>,
    /// Required once resolved or rejected; not before `opened_on`.
    pub resolved_on: Option<Spanned<NaiveDate>>,
}

impl DisputeSpec {
    /// Open on `day`: opened by then, and not resolved or rejected before it.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        self.opened_on.value <= day
            && match self.status.value {
                DisputeStatus::Open => true,
                _ => self.resolved_on.as_ref().is_some_and(|r| r.value > day),
            }
    }
}

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    /// Upheld: an adjustment naming it pays what was owed.
    Resolved,
    /// Not upheld.
    Rejected,
}
