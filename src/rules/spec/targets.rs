//! The `targets` section: the programme's targets (programme.md §4), which
//! the programme report shows with whether each is met. Every target is
//! optional; one not given is not reported. Ratios are fractions (0.995 is
//! 99.5 %).

use crate::money::Dec;
use crate::rules::expr::Text;
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsSpec {
    /// Operators in the programme at the period's end: at least `min`
    /// (at most `max`, the top of the range) from month `by` on.
    pub active_operators: Option<CountTarget>,
    /// Operators who left in the 12 months ending with the period, of those
    /// in the programme on any day of them: below the fraction.
    pub operator_churn: Option<BelowTarget>,
    /// Fleet uptime of the period (maintenance excluded): above the fraction.
    pub fleet_uptime: Option<AboveTarget>,
    /// Operators in the programme this period that a partner referred
    /// (roster `referred_by`): above the fraction.
    pub partner_sourced: Option<AboveTarget>,
}

/// A count with a range and the month it is due.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountTarget {
    pub min: Spanned<u32>,
    pub max: Option<Spanned<u32>>,
    /// `YYYY-MM`: the month from which the target applies (before it, the
    /// report says it is not due yet).
    pub by: Option<Text>,
    pub description: Option<String>,
}

/// A fraction a figure must stay below.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BelowTarget {
    pub below: Spanned<Dec>,
    pub description: Option<String>,
}

/// A fraction a figure must exceed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AboveTarget {
    pub above: Spanned<Dec>,
    pub description: Option<String>,
}
