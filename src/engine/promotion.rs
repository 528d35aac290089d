//! Promotion eligibility: the checks of the `promotions` entry whose `from`
//! is the operator's tier, evaluated with the operator's variables.

use super::pay::{coverage_short, reads_availability};
use super::{Notes, fmt_var, no_value};
use crate::evaluation::{Check, Promotion};
use crate::rules::Rules;
use crate::rules::expr::{EvalError, Vars};
use crate::rules::spec::MissingDataPolicy;
use rust_decimal::Decimal;

/// `None` when no promotion starts from `tier`.
/// A check that reads availability variables is undecided (`passed: None`)
/// when coverage is under the minimum and the default policy withholds.
pub(crate) fn promotion(rules: &Rules, tier: &str, vars: &Vars, notes: &Notes, coverage: Decimal) -> Option<Promotion> {
    let spec = rules.promotions.iter().find(|p| p.from.value == tier)?;
    let checks: Vec<Check> = spec
        .checks
        .iter()
        .map(|c| {
            let values: Vec<String> =
                c.when.variables().iter().map(|n| format!("{n} = {}", fmt_var(vars.get(n)))).collect();
            let values = if values.is_empty() { String::new() } else { format!(" ({})", values.join(", ")) };
            let low = (rules.missing_data.policy == MissingDataPolicy::Withhold
                && c.when.variables().iter().any(|v| reads_availability(rules, v)))
            .then(|| coverage_short(rules, coverage))
            .flatten();
            if let Some(why) = low {
                return Check { name: c.name.clone(), passed: None, detail: format!("`{}`: {why}", c.when.source) };
            }
            let (passed, detail) = match c.when.eval_bool(vars) {
                Ok(true) => (Some(true), format!("`{}` holds{values}", c.when.source)),
                Ok(false) => (Some(false), format!("`{}` does not hold{values}", c.when.source)),
                Err(EvalError::Unknown(v)) => (None, format!("`{}`: {}", c.when.source, no_value(&v, notes))),
                Err(EvalError::Failed(m)) => (None, m),
            };
            Check { name: c.name.clone(), passed, detail }
        })
        .collect();
    Some(Promotion {
        to: spec.to.value.clone(),
        eligible: checks.iter().all(|c| c.passed == Some(true)),
        eligible_since: None,
        eligible_since_note: None,
        checks,
    })
}
