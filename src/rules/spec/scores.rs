//! The `scores` and `flags` sections: named numbers and yes/no verdicts per
//! payee that are not money (seed 002's operator scorecard, seed 003's
//! partner tier criteria 0–5, action thresholds, eligibility). They are
//! computed from the payee's variables each period, recorded on the
//! statement (so closed months keep them for aggregates), exported as
//! metrics, and are variables themselves: lines, promotion checks, other
//! scores and flags may read them by id. They pay nothing unless a line
//! reads them.

use crate::money::Dec;
use crate::rules::expr::{Expr, Text};
use serde::Deserialize;

/// Whose score or flag it is.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// Every operator's statement (an operator variable).
    #[default]
    Operator,
    /// Every partner's statement (a partner variable).
    Partner,
}

impl AppliesTo {
    pub fn name(self) -> &'static str {
        match self {
            AppliesTo::Operator => "operator",
            AppliesTo::Partner => "partner",
        }
    }
}

/// A score: `formula` (one expression), or `criteria` (a weighted sum,
/// the weights exact decimals adding up to 1). Its value is a number on
/// `scale` (default 0–1), rounded to `decimals`; unknown when anything it
/// needs has no value this period (never 0).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSpec {
    /// Variable name in expressions (letters, digits, `_`).
    pub id: Text,
    pub name: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// The range of the score and of each criterion's value: values
    /// outside it are clamped to it (the statement says so).
    pub scale: Option<ScaleSpec>,
    /// Decimals the score (and each criterion's value) is rounded to, half
    /// to even; default 2.
    pub decimals: Option<u32>,
    /// The score as one expression (clamped to `scale` when one is given).
    pub formula: Option<Expr>,
    /// Or: the criteria of a weighted sum.
    #[serde(default)]
    pub criteria: Vec<CriterionSpec>,
    pub description: Option<String>,
}

/// `{min, max}`: the range a score's values are clamped to.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    pub min: Dec,
    pub max: Dec,
}

/// One criterion of a weighted score: its value on the score's scale is
/// `value` (an expression, e.g. a 0–5 rating), or `measure` normalised
/// linearly between `worst` (the scale's minimum) and `target` (its
/// maximum) — `worst` above `target` for a measure where lower is better
/// (days to go-live). Either way the value is clamped to the scale.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionSpec {
    pub id: Text,
    pub name: String,
    /// Exact decimal; the weights of a score add up to 1.
    pub weight: Dec,
    /// The criterion's value on the scale.
    pub value: Option<Expr>,
    /// Or: what is measured …
    pub measure: Option<Expr>,
    /// … the measure that scores the scale's maximum …
    pub target: Option<Dec>,
    /// … and the one that scores its minimum.
    pub worst: Option<Dec>,
    pub description: Option<String>,
}

/// A flag: a named condition reported per payee (true, false or unknown).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// Variable name in expressions (letters, digits, `_`).
    pub id: Text,
    pub name: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// The condition.
    pub when: Expr,
    pub description: Option<String>,
}

impl ScoreSpec {
    /// Every expression of the score: its formula, its criteria's values and measures.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.formula.iter().chain(self.criteria.iter().flat_map(|c| c.value.iter().chain(c.measure.iter())))
    }

    /// The scale, 0–1 by default.
    pub fn scale_or_default(&self) -> ScaleSpec {
        self.scale.unwrap_or(ScaleSpec { min: Dec(rust_decimal::Decimal::ZERO), max: Dec(rust_decimal::Decimal::ONE) })
    }

    pub fn decimals_or_default(&self) -> u32 {
        self.decimals.unwrap_or(2)
    }
}
