//! A payee's scores and flags as the evaluation records them: numbers and
//! yes/no verdicts that are not money (see `crate::rules::spec::ScoreSpec`).
//! Values are decimal strings, rounded to the score's decimals; `None`
//! (JSON `null`) when not known this period, with the reason.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreResult {
    pub id: String,
    pub name: String,
    /// The score, or `None` when something it needs has no value.
    pub value: Option<Decimal>,
    /// The scale (`[min, max]`) the score and its criteria are on.
    pub scale: [Decimal; 2],
    /// The criteria of a weighted score (empty for a formula).
    #[serde(default)]
    pub criteria: Vec<CriterionResult>,
    /// How the value was computed, or why it is not known.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriterionResult {
    pub id: String,
    pub name: String,
    pub weight: Decimal,
    /// What was measured (for a `measure` criterion), before normalising.
    pub measured: Option<Decimal>,
    /// The criterion's value on the scale (clamped), or `None`.
    pub value: Option<Decimal>,
    /// `weight × value`, or `None`.
    pub contribution: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagResult {
    pub id: String,
    pub name: String,
    /// Whether the condition holds, or `None` when it cannot be decided.
    pub value: Option<bool>,
    /// The condition with the values it read, or why it is not known.
    pub reason: String,
}
