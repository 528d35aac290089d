//! The programme's targets (rules section `targets:`) against a period:
//! each target's figure, the target as text, and whether it is met. A
//! figure that cannot be known (no uptime data, nobody in the programme)
//! is `unknown`, never met or missed.

use super::filters::{fixed_text, points};
use crate::evaluation::Evaluation;
use crate::period::Period;
use crate::report::percent;
use crate::rules::Rules;
use rust_decimal::Decimal;
use serde::Serialize;

/// One target and how the period did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    /// `active_operators`, `operator_churn`, `fleet_uptime`, `partner_sourced`.
    pub id: &'static str,
    pub name: &'static str,
    /// The target as text: `3–5 by 2026-10`, `< 10.000 % a year`, `> 99.500 %`.
    pub target: String,
    /// The period's figure as text.
    pub actual: String,
    /// The figure (a count, or a ratio 0–1); `None` when it cannot be known.
    pub value: Option<Decimal>,
    /// The figure minus the threshold (ratios: a fraction).
    pub variance: Option<Decimal>,
    /// The variance as text: `+7`, `-0.386 pp`, `n/a`.
    pub variance_text: String,
    /// `None`: cannot be told.
    pub met: Option<bool>,
    /// `met`, `not met`, `unknown`, or `not yet (due 2026-10)`.
    pub status: String,
    pub description: Option<String>,
}

/// Every target the rules set, in the template's order.
pub fn evaluate(e: &Evaluation, rules: &Rules, period: &Period) -> Vec<TargetResult> {
    let t = &rules.targets;
    let mut out = vec![];
    if let Some(c) = &t.active_operators {
        let last = period.last_day();
        let active = rules.operators.iter().filter(|op| op.start <= last && op.end.is_none_or(|e| e > last)).count();
        let (min, max) = (c.min.value, c.max.as_ref().map(|m| m.value));
        let met = active as u64 >= u64::from(min);
        let due = c.by.as_ref().map(|b| b.value.clone());
        let status = match (&due, met) {
            (_, true) if max.is_some_and(|max| active as u64 > u64::from(max)) => "met (above the range)".to_string(),
            (_, true) => "met".into(),
            (Some(by), false) if period.label < *by => format!("not yet (due {by})"),
            (_, false) => "not met".into(),
        };
        let range = match max {
            Some(max) if max != min => format!("{min}–{max}"),
            _ => format!("≥ {min}"),
        };
        out.push(TargetResult {
            id: "active_operators",
            name: "Active operators",
            target: due.map_or(range.clone(), |by| format!("{range} by {by}")),
            actual: format!("{active} at the period's end"),
            value: Some(Decimal::from(active as u64)),
            variance: Some(Decimal::from(active as u64) - Decimal::from(min)),
            variance_text: format!("{:+}", active as i64 - i64::from(min)),
            met: Some(met),
            status,
            description: c.description.clone(),
        });
    }
    if let Some(c) = &t.operator_churn {
        let below = c.below.value.0;
        let (first, last) = (twelve_months_back(period).first_day(), period.last_day());
        let in_window: Vec<_> = rules.operators.iter().filter(|op| op.in_programme(first, last)).collect();
        let left = in_window.iter().filter(|op| op.end.is_some_and(|e| e >= first && e <= last)).count();
        let churn = ratio(left, in_window.len());
        out.push(ratio_target(
            ("operator_churn", "Operator churn"),
            (churn, below, false),
            format!("< {} a year", percent(Some(below))),
            format!(
                "{} ({left} of {} left in the 12 months {} … {})",
                percent(churn),
                in_window.len(),
                twelve_months_back(period).label,
                period.label
            ),
            c.description.clone(),
        ));
    }
    if let Some(c) = &t.fleet_uptime {
        let above = c.above.value.0;
        out.push(ratio_target(
            ("fleet_uptime", "Fleet uptime"),
            (e.fleet.uptime, above, true),
            format!("> {}", percent(Some(above))),
            format!(
                "{} ({} node-hours up, {} down)",
                percent(e.fleet.uptime),
                fixed_text(Decimal::from(e.fleet.up_seconds) / Decimal::from(3600), 2),
                fixed_text(Decimal::from(e.fleet.down_seconds) / Decimal::from(3600), 2)
            ),
            c.description.clone(),
        ));
    }
    if let Some(c) = &t.partner_sourced {
        let above = c.above.value.0;
        let (first, last) = (period.first_day(), period.last_day());
        let operators: Vec<_> = rules.operators.iter().filter(|op| op.in_programme(first, last)).collect();
        let referred = operators.iter().filter(|op| op.referred_by.is_some()).count();
        let share = ratio(referred, operators.len());
        out.push(ratio_target(
            ("partner_sourced", "Partner-sourced operators"),
            (share, above, true),
            format!("> {}", percent(Some(above))),
            format!("{} ({referred} of {} referred by a partner)", percent(share), operators.len()),
            c.description.clone(),
        ));
    }
    out
}

/// The first of the 12 months ending with `period`.
fn twelve_months_back(period: &Period) -> Period {
    (0..11).fold(period.clone(), |p, _| p.previous())
}

fn ratio(n: usize, of: usize) -> Option<Decimal> {
    crate::money::ratio(n as u64, of as u64)
}

/// A ratio target: `(value, threshold, above)` — met when the value is
/// above the threshold (`above`) or below it.
fn ratio_target(
    (id, name): (&'static str, &'static str),
    (value, threshold, above): (Option<Decimal>, Decimal, bool),
    target: String,
    actual: String,
    description: Option<String>,
) -> TargetResult {
    let met = value.map(|v| if above { v > threshold } else { v < threshold });
    TargetResult {
        id,
        name,
        target,
        actual,
        value,
        variance: value.map(|v| v - threshold),
        variance_text: value.map_or("n/a".into(), |v| points(v - threshold)),
        met,
        status: match met {
            Some(true) => "met",
            Some(false) => "not met",
            None => "unknown",
        }
        .into(),
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testutil::{facts, period, rules};

    const RULES: &str = "version: 1\ntiers:\n  - {id: t1, name: Certified, lines: [{id: b, name: B, kind: fixed, amount: 1}]}\npartners:\n  - {id: acme, name: Acme, tier: bronze, start: 2025-01-01}\npartner_tiers:\n  - {id: bronze, name: Bronze, lines: []}\noperators:\n  - {id: a, name: A, tier: t1, start: 2025-01-01, referred_by: acme}\n  - {id: b, name: B, tier: t1, start: 2025-01-01, end: 2025-10-31}\n  - {id: c, name: C, tier: t1, start: 2026-10-10, end: 2026-10-31}\n  - {id: d, name: D, tier: t1, start: 2026-02-01}\n";

    fn targets(extra: &str, label: &str) -> Vec<TargetResult> {
        let r = rules(&format!("{RULES}{extra}"));
        let p = period(label);
        evaluate(&crate::engine::evaluate(&facts(&p), &Default::default(), &r, &p, p.end), &r, &p)
    }

    #[test]
    fn active_operators_count_those_at_the_period_end_and_are_due_by_their_month() {
        let extra = "targets:\n  active_operators: {min: 3, max: 5, by: 2026-12}\n";
        let t = &targets(extra, "2026-10")[0];
        // a and d; b left in 2025, c on the period's last day.
        assert_eq!(
            (t.actual.as_str(), t.met, t.status.as_str()),
            ("2 at the period's end", Some(false), "not yet (due 2026-12)")
        );
        assert_eq!(t.target, "3–5 by 2026-12");
        let t = &targets(extra, "2027-01")[0];
        assert_eq!(t.status, "not met");
        let t = &targets("targets:\n  active_operators: {min: 2}\n", "2026-10")[0];
        assert_eq!((t.target.as_str(), t.status.as_str()), ("≥ 2", "met"));
        let t = &targets("targets:\n  active_operators: {min: 1, max: 1}\n", "2026-10")[0];
        assert_eq!(t.status, "met (above the range)");
    }

    #[test]
    fn churn_is_who_left_in_the_twelve_months_of_who_was_in_them() {
        let t = &targets("targets:\n  operator_churn: {below: 0.5}\n", "2026-10")[0];
        // 2025-11 … 2026-10: a, c, d in it (b left before); c left.
        assert_eq!(t.actual, "33.333 % (1 of 3 left in the 12 months 2025-11 … 2026-10)");
        assert_eq!((t.met, t.target.as_str()), (Some(true), "< 50.000 % a year"));
        let t = &targets("targets:\n  operator_churn: {below: 0.5}\n", "2026-09")[0];
        // 2025-10 … 2026-09: a, b, d; b left on 2025-10-31.
        assert_eq!(t.actual, "33.333 % (1 of 3 left in the 12 months 2025-10 … 2026-09)");
        let t = &targets("targets:\n  operator_churn: {below: 0.3}\n", "2026-10")[0];
        assert_eq!(t.met, Some(false));
    }

    #[test]
    fn uptime_without_data_is_unknown_and_partner_sourced_counts_referrals() {
        let t = targets("targets:\n  fleet_uptime: {above: 0.995}\n  partner_sourced: {above: 0.30}\n", "2026-10");
        assert_eq!((t[0].met, t[0].status.as_str(), t[0].target.as_str()), (None, "unknown", "> 99.500 %"));
        // a, c, d this month; a referred.
        assert_eq!(t[1].actual, "33.333 % (1 of 3 referred by a partner)");
        assert_eq!(t[1].met, Some(true));
    }
}
