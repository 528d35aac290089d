//! Promotion eligibility: the checks of the `promotions` entry whose `from`
//! is the operator's tier, evaluated with the operator's variables.

use super::fmt_var;
use crate::evaluation::{Check, Promotion};
use crate::rules::Rules;
use crate::rules::expr::{EvalError, Vars};

/// `None` when no promotion starts from `tier`.
pub(crate) fn promotion(rules: &Rules, tier: &str, vars: &Vars) -> Option<Promotion> {
    let spec = rules.promotions.iter().find(|p| p.from.value == tier)?;
    let checks: Vec<Check> = spec
        .checks
        .iter()
        .map(|c| {
            let values: Vec<String> = c
                .when
                .variables()
                .iter()
                .map(|n| format!("{n} = {}", fmt_var(vars.get(n))))
                .collect();
            let values = if values.is_empty() {
                String::new()
            } else {
                format!(" ({})", values.join(", "))
            };
            let (passed, detail) = match c.when.eval_bool(vars) {
                Ok(true) => (Some(true), format!("`{}` holds{values}", c.when.source)),
                Ok(false) => (
                    Some(false),
                    format!("`{}` does not hold{values}", c.when.source),
                ),
                Err(EvalError::Unknown(v)) => (
                    None,
                    format!("`{}`: no value for {}", c.when.source, v.join(", ")),
                ),
                Err(EvalError::Failed(m)) => (None, m),
            };
            Check {
                name: c.name.clone(),
                passed,
                detail,
            }
        })
        .collect();
    Some(Promotion {
        to: spec.to.value.clone(),
        eligible: checks.iter().all(|c| c.passed == Some(true)),
        checks,
    })
}
