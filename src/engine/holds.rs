//! Enforcement (see [`crate::rules::states`] for the rule and the effects):
//! the states governing a payee's period as its statement shows them, the
//! lines a throttle stops, and why a payout is held — the programme's kill
//! switch (`programme.hold_all`) and a payee's suspension. What is held is
//! settled by [`super::ledger`]: nothing payable, carried as held, released
//! in the first month not held.

use crate::evaluation::{LineStatus, PROGRAMME_HOLD, PayLine, StateInForce, Statement};
use crate::period::Period;
use crate::rules::Rules;
use crate::rules::spec::{PayeeState, TierSpec};
use crate::rules::states::StateAt;
use rust_decimal::Decimal;

/// The states governing a period, as a statement shows them.
pub(crate) fn in_force(states: Vec<StateAt>) -> Vec<StateInForce> {
    states
        .into_iter()
        .map(|s| StateInForce {
            state: s.state.name().to_string(),
            since: s.since,
            until: s.last,
            reason: s.spec.reason.value.clone(),
        })
        .collect()
}

/// The lines a throttle stops this period: none unless the payee is
/// throttled; then those its tier lists in `throttled_lines`.
pub(crate) struct Throttle<'a> {
    by: Option<&'a StateInForce>,
    tier: &'a str,
    lines: Vec<&'a str>,
}

impl<'a> Throttle<'a> {
    pub(crate) fn new(states: &'a [StateInForce], tier: Option<&'a TierSpec>) -> Throttle<'a> {
        let by = states.iter().find(|s| s.state == PayeeState::Throttled.name());
        let lines = tier.map(|t| t.throttled_lines.iter().map(|l| l.value.as_str()).collect()).unwrap_or_default();
        Throttle { by, tier: tier.map_or("", |t| t.id.value.as_str()), lines }
    }

    /// A throttled line is not paid (`not_met`, amount 0); the reason says
    /// why and what it would have paid. One that was not to be paid anyway
    /// says it is throttled too.
    pub(crate) fn apply(&self, line: &mut PayLine) {
        let Some(t) = self.by.filter(|_| self.lines.contains(&line.id.as_str())) else { return };
        let why = format!(
            "throttled since {} ({}): tier `{}` stops this line while throttled (`throttled_lines`)",
            t.since, t.reason, self.tier
        );
        if line.status != LineStatus::Paid {
            line.reason = format!("{}; also {why}", line.reason);
            return;
        }
        let would = line.amount;
        line.formula = format!("0 (throttled; would be {})", line.formula);
        line.reason = format!("not paid: {why}; it would have paid {would}: {}", line.reason);
        line.status = LineStatus::NotMet;
        line.amount = Decimal::new(0, would.scale());
    }
}

/// Why each payee's payout is held this period: the kill switch when it is
/// in force, then the payee's suspension. Returns the kill switch.
pub(crate) fn hold(
    rules: &Rules,
    period: &Period,
    operators: &mut [Statement],
    partners: &mut [Statement],
) -> Option<StateInForce> {
    let all = rules.programme.hold_all.as_ref().filter(|h| h.in_force(period)).map(|h| StateInForce {
        state: PROGRAMME_HOLD.to_string(),
        since: h.since.value,
        until: h.until.as_ref().map(|u| u.value),
        reason: h.reason.value.clone(),
    });
    for s in operators.iter_mut().chain(partners.iter_mut()) {
        let g = &mut s.ledger;
        let suspended = g.states.iter().filter(|s| s.state == PayeeState::Suspended.name()).cloned();
        g.holds = all.iter().cloned().chain(suspended).collect();
    }
    all
}
