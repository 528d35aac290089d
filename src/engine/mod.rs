//! The engine: a pure function of (facts, rules, period, evaluation time).
use crate::evaluation::Evaluation;
use crate::facts::Facts;
use crate::period::Period;
use crate::rules::Rules;
use chrono::{DateTime, Utc};

/// Evaluate one period. No I/O, no clock.
pub fn evaluate(_facts: &Facts, _rules: &Rules, _period: &Period, _now: DateTime<Utc>) -> Evaluation {
    todo!("engine")
}
