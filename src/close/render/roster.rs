//! The operators on the roster during a period, as the reports list them:
//! the tier governing the month (by name), nodes, status and dates, and who
//! referred them.

use crate::period::Period;
use crate::rules::Rules;
use crate::rules::spec::OperatorSpec;
use chrono::NaiveDate;
use serde::Serialize;

/// An operator in the programme on some day of the period.
#[derive(Debug, Clone, Serialize)]
pub struct RosterEntry {
    pub id: String,
    pub name: String,
    /// The tier governing the period, by name (its id if the rules lack it).
    pub tier: String,
    pub tier_id: String,
    /// Node count, or `region <r>` for an operator of a whole region.
    pub nodes: String,
    /// `active`, `joined <date>` or `left <date>` (this period).
    pub status: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub certified: Option<NaiveDate>,
    /// Left during the period (its `end` is in it).
    pub left_this_month: bool,
    /// The operator's month in the programme (1 in its first month).
    pub tenure_months: i64,
    /// The partner who referred it, if any.
    pub referred_by: Option<String>,
}

/// Operators in the programme at some day of `period`, in roster order.
pub fn roster(rules: &Rules, period: &Period) -> Vec<RosterEntry> {
    let (first, last) = (period.first_day(), period.last_day());
    rules.operators.iter().filter(|op| op.in_programme(first, last)).map(|op| entry(rules, op, period)).collect()
}

fn entry(rules: &Rules, op: &OperatorSpec, period: &Period) -> RosterEntry {
    let (first, last) = (period.first_day(), period.last_day());
    let left = op.end.is_some_and(|e| e <= last);
    let status = match op.end {
        Some(end) if left => format!("left {end}"),
        _ if op.start >= first => format!("joined {}", op.start),
        _ => "active".into(),
    };
    let nodes = match &op.region {
        Some(region) => format!("region {}", region.value),
        None => op.nodes.len().to_string(),
    };
    let tier_id = op.tier_in(period).map_or(String::new(), |t| t.tier.value.clone());
    RosterEntry {
        id: op.id.value.clone(),
        name: op.name.clone(),
        tier: rules.tier(&tier_id).map_or(tier_id.clone(), |t| t.name.clone()),
        tier_id,
        nodes,
        status,
        start: op.start,
        end: op.end,
        certified: op.certified,
        left_this_month: left,
        tenure_months: period.month_number(op.start),
        referred_by: op.referred_by.as_ref().map(|p| p.value.clone()),
    }
}
