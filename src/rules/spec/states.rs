//! Enforcement kept in git: a payee's dated states on the roster (`states:`
//! of an operator or partner: warned, throttled, suspended, terminated) and
//! the programme's kill switch (`programme.hold_all`). Which state governs
//! a period, and what each does, is [`crate::rules::states`].

use crate::rules::expr::Text;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A step of the enforcement ladder, mildest first.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayeeState {
    /// Shown on the statement; nothing else changes.
    Warned,
    /// The lines the payee's tier lists in `throttled_lines` are not paid.
    Throttled,
    /// Pay is computed but held: nothing is payable; what would be is
    /// carried as held and released in the first month not held.
    Suspended,
    /// The payee's end: `since` is its last day, the roster's `end`.
    Terminated,
}

impl PayeeState {
    pub fn name(self) -> &'static str {
        match self {
            PayeeState::Warned => "warned",
            PayeeState::Throttled => "throttled",
            PayeeState::Suspended => "suspended",
            PayeeState::Terminated => "terminated",
        }
    }

    pub const ALL: [PayeeState; 4] =
        [PayeeState::Warned, PayeeState::Throttled, PayeeState::Suspended, PayeeState::Terminated];
}

/// One entry of a payee's enforcement history:
/// `{state: suspended, since: 2026-08-10, until: 2026-09-30, reason: …}`.
/// In force from `since` through `until` (its last day); without `until`,
/// up to the day before the next entry's `since`, or for good.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    pub state: Spanned<PayeeState>,
    /// The first day in force.
    pub since: Spanned<NaiveDate>,
    /// The last day in force (not for `terminated`).
    pub until: Option<Spanned<NaiveDate>>,
    /// Why, in words the payee reads on the statement.
    pub reason: Text,
}

/// The kill switch: every payout of the programme held (`programme.hold_all`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldAllSpec {
    /// The first day in force.
    pub since: Spanned<NaiveDate>,
    /// The last day in force; absent: until it is taken out of the rules.
    pub until: Option<Spanned<NaiveDate>>,
    /// Why, shown on every statement.
    pub reason: Text,
}
