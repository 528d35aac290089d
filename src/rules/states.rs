//! A payee's standing over time: its enforcement history on the roster
//! (`states:` of an operator or partner) and the programme's kill switch
//! (`programme.hold_all`), and which of them govern a pay period.
//!
//! ```yaml
//! operators:
//!   - id: alice
//!     …
//!     states:
//!       - {state: warned, since: 2026-07-03, until: 2026-07-31, reason: Reports late twice}
//!       - {state: suspended, since: 2026-08-10, until: 2026-09-30, reason: Node n3 under investigation (SEC-12)}
//! programme:
//!   hold_all: {since: 2026-10-01, reason: Payout audit (FIN-88)}
//! ```
//!
//! A state is in force from its `since` through its `until` (its last
//! day); without `until`, up to the day before the next entry's `since`,
//! or for good. The loader checks that the entries are in order, do not
//! overlap, and lie within the payee's `start` … `end`.
//!
//! **Which state governs a month**: every state in force on **any day** of
//! the period while the payee is in the programme governs that period,
//! whole (several may: each has its effect, and the statement lists each).
//! Unlike a tier change (which waits for the 1st, see [`super::roster`]),
//! enforcement errs on the side of holding: pay not made can be released
//! later, pay made can only be clawed back. A suspension on 2026-09-20
//! holds September; one lifted on 2026-09-19 (`until`) still holds
//! September, and October is paid, with what was held.
//!
//! What each does:
//! - `warned`: shown on the statement; nothing else.
//! - `throttled`: the lines the payee's tier (governing the period) lists
//!   in `throttled_lines` are not paid (`not_met`, amount 0; the reason
//!   says it is the throttle and what the line would have paid); lines
//!   that read them (`of: {lines: …}`) see 0.
//! - `suspended`: pay is computed as usual but held: nothing is payable;
//!   what would have been is carried as held (`held_out`) and released,
//!   with that month's pay, in the first month the payee's pay is not held.
//! - `terminated`: the payee's end. `since` is its last day in the
//!   programme and must be the roster's `end` (the loader refuses a
//!   termination without it or with another date); it is the last entry,
//!   without `until`. Pay held when a payee leaves stays held: releasing
//!   it is finance's decision.
//!
//! The kill switch `programme.hold_all: {since, until?, reason}` holds
//! every payee's payout in every period it is in force on any day of, as
//! a suspension does, with its reason on every statement.

use super::spec::{HoldAllSpec, OperatorSpec, PartnerSpec, PayeeState, StateSpec};
use crate::period::Period;
use chrono::NaiveDate;

/// One entry of a payee's enforcement history, with the days it is in force.
#[derive(Debug, Clone, Copy)]
pub struct StateAt<'a> {
    pub spec: &'a StateSpec,
    pub state: PayeeState,
    pub since: NaiveDate,
    /// The last day in force: `until`, or the day before the next entry's
    /// `since`; `None`: for good.
    pub last: Option<NaiveDate>,
}

/// The history with the days each entry is in force, oldest first.
pub fn history(states: &[StateSpec]) -> impl Iterator<Item = StateAt<'_>> {
    states.iter().enumerate().map(|(i, s)| {
        let next = states.get(i + 1).and_then(|n| n.since.value.pred_opt());
        StateAt {
            spec: s,
            state: s.state.value,
            since: s.since.value,
            last: s.until.as_ref().map(|u| u.value).or(next),
        }
    })
}

/// Whether `[from, to]` (`to` absent: for good) meets `[a, b]`.
fn meets(from: NaiveDate, to: Option<NaiveDate>, a: NaiveDate, b: NaiveDate) -> bool {
    from <= b && to.is_none_or(|t| t >= a)
}

/// The states governing `period` for a payee in the programme from `start`
/// through `end`: those in force on any day of the period while it is in.
pub fn states_in<'a>(
    states: &'a [StateSpec],
    start: NaiveDate,
    end: Option<NaiveDate>,
    period: &Period,
) -> Vec<StateAt<'a>> {
    let first = start.max(period.first_day());
    let last = end.map_or(period.last_day(), |e| e.min(period.last_day()));
    if first > last {
        return vec![];
    }
    history(states).filter(|s| meets(s.since, s.last, first, last)).collect()
}

impl OperatorSpec {
    /// The states governing `period` (see the module's rule).
    pub fn states_in(&self, period: &Period) -> Vec<StateAt<'_>> {
        states_in(&self.states, self.start, self.end, period)
    }
}

impl PartnerSpec {
    /// The states governing `period` (see the module's rule).
    pub fn states_in(&self, period: &Period) -> Vec<StateAt<'_>> {
        states_in(&self.states, self.start, self.end, period)
    }
}

impl HoldAllSpec {
    /// In force on any day of `period`.
    pub fn in_force(&self, period: &Period) -> bool {
        meets(self.since.value, self.until.as_ref().map(|u| u.value), period.first_day(), period.last_day())
    }
}

#[cfg(test)]
mod tests {
    use crate::period::Period;
    use crate::rules::spec::{OperatorSpec, PayeeState, ProgrammeSpec};
    use chrono_tz::Tz;

    fn operator(yaml: &str) -> OperatorSpec {
        serde_saphyr::from_str(&format!("{{id: x, name: X, tier: t1, {yaml}}}")).unwrap()
    }

    fn month(label: &str) -> Period {
        Period::month(label, Tz::UTC).unwrap()
    }

    /// The states governing each of `labels`, by name.
    fn governing(o: &OperatorSpec, labels: &[&str]) -> Vec<Vec<&'static str>> {
        labels.iter().map(|l| o.states_in(&month(l)).iter().map(|s| s.state.name()).collect()).collect()
    }

    #[test]
    fn a_state_governs_every_month_it_is_in_force_on_any_day_of() {
        let o = operator(
            "start: 2026-03-01, states: [{state: warned, since: 2026-03-20, until: 2026-04-01, reason: r}, \
             {state: suspended, since: 2026-06-30, until: 2026-08-01, reason: r}, {state: throttled, since: 2026-10-15, reason: r}]",
        );
        let months =
            ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2027-01"];
        let want: Vec<Vec<&str>> = vec![
            vec!["warned"],
            vec!["warned"],
            vec![],
            vec!["suspended"],
            vec!["suspended"],
            vec!["suspended"],
            vec![],
            vec!["throttled"],
            vec!["throttled"],
        ];
        assert_eq!(governing(&o, &months), want);
    }

    #[test]
    fn an_entry_without_until_lasts_until_the_next_and_two_may_govern_one_month() {
        let o = operator(
            "start: 2026-01-01, states: [{state: warned, since: 2026-02-10, reason: r}, {state: suspended, since: 2026-03-15, reason: r}]",
        );
        assert_eq!(
            governing(&o, &["2026-02", "2026-03", "2026-04"]),
            [vec!["warned"], vec!["warned", "suspended"], vec!["suspended"]]
        );
        let h: Vec<_> = super::history(&o.states).collect();
        assert_eq!(h[0].last.map(|d| d.to_string()), Some("2026-03-14".into()));
        assert_eq!(h[1].last, None);
    }

    #[test]
    fn only_days_in_the_programme_count_and_a_termination_governs_its_month() {
        let o = operator(
            "start: 2026-01-01, end: 2026-05-12, states: [{state: terminated, since: 2026-05-12, reason: Fraud}]",
        );
        assert_eq!(governing(&o, &["2026-04", "2026-05", "2026-06"]), [vec![], vec!["terminated"], vec![]]);
        assert_eq!(o.states_in(&month("2026-05"))[0].state, PayeeState::Terminated);
        // A state before the start month's start day does not reach back.
        let o =
            operator("start: 2026-05-20, states: [{state: warned, since: 2026-05-20, until: 2026-05-31, reason: r}]");
        assert_eq!(governing(&o, &["2026-05", "2026-06"]), [vec!["warned"], vec![]]);
    }

    #[test]
    fn the_kill_switch_holds_every_month_it_is_in_force_on_any_day_of() {
        let p: ProgrammeSpec =
            serde_saphyr::from_str("{name: P, hold_all: {since: 2026-09-30, until: 2026-11-01, reason: audit}}")
                .unwrap();
        let h = p.hold_all.unwrap();
        let on: Vec<bool> =
            ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"].iter().map(|m| h.in_force(&month(m))).collect();
        assert_eq!(on, [false, true, true, true, false]);
    }
}
