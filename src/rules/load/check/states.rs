//! Enforcement (see [`crate::rules::states`]): each payee's `states:` in
//! order, not overlapping, within its `start` … `end`, each with a reason;
//! a `terminated` state is the last, without `until`, on the payee's
//! `end`; a `throttled` payee's tier lists the lines throttling stops; a
//! tier's `throttled_lines` are lines of the tier; the kill switch
//! (`programme.hold_all`) has a reason and ends after it starts.

use super::names::resolve;
use crate::period::Period;
use crate::rules::expr::{Pos, Text};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::{PayeeState, StateSpec, TierSpec};
use chrono::{Datelike, NaiveDate};

/// A payee on the roster as far as its states are concerned.
struct Payee<'a> {
    who: String,
    start: NaiveDate,
    end: Option<NaiveDate>,
    states: &'a [StateSpec],
    /// The tier governing the month of a day (its id).
    tier: Box<dyn Fn(NaiveDate) -> Option<&'a Text> + 'a>,
    tiers: &'a [At<TierSpec>],
}

pub(super) fn check_states(m: &Merged, errs: &mut Errors) {
    for At { file, item: o } in &m.operators {
        let tier = move |day: NaiveDate| {
            let period = Period::month(&day.format("%Y-%m").to_string(), chrono_tz::Tz::UTC).ok()?;
            o.tier_in(&period).map(|t| t.tier)
        };
        let who = format!("operator `{}`", o.id);
        let payee = Payee { who, start: o.start, end: o.end, states: &o.states, tier: Box::new(tier), tiers: &m.tiers };
        check_payee(*file, &payee, errs);
    }
    for At { file, item: p } in &m.partners {
        let who = format!("partner `{}`", p.id);
        let tier = Box::new(move |_: NaiveDate| Some(&p.tier));
        let payee = Payee { who, start: p.start, end: p.end, states: &p.states, tier, tiers: &m.partner_tiers };
        check_payee(*file, &payee, errs);
        if let Some(end) = p.end.filter(|end| *end < p.start) {
            errs.at(*file, p.id.pos, format!("partner `{}` ends ({end}) before it starts ({})", p.id, p.start));
        }
    }
    for At { file, item: t } in m.tiers.iter().chain(&m.partner_tiers) {
        let lines: Vec<String> = t.lines.iter().map(|l| l.id.value.clone()).collect();
        for id in &t.throttled_lines {
            resolve(*file, id, &format!("line of tier `{}` (throttled_lines)", t.id), &lines, errs);
        }
    }
    if let Some(At { file, item: p }) = &m.programme
        && let Some(h) = &p.hold_all
    {
        if h.reason.value.trim().is_empty() {
            errs.at(
                *file,
                h.reason.pos,
                "`programme.hold_all`: `reason` is empty; every statement shows it".to_string(),
            );
        }
        if let Some(u) = h.until.as_ref().filter(|u| u.value < h.since.value) {
            let message = format!("`programme.hold_all` ends ({}) before it starts ({})", u.value, h.since.value);
            errs.at(*file, Pos::of(u), message);
        }
    }
}

fn check_payee(file: usize, p: &Payee, errs: &mut Errors) {
    let mut before: Option<&StateSpec> = None;
    for (i, s) in p.states.iter().enumerate() {
        let (state, since) = (s.state.value, s.since.value);
        let what = format!("{}: state `{}` since {since}", p.who, state.name());
        let at_since = Pos::of(&s.since);
        if since < p.start {
            errs.at(file, at_since, format!("{what} is before the payee's `start` ({})", p.start));
        }
        if let Some(end) = p.end.filter(|end| since > *end) {
            errs.at(file, at_since, format!("{what} is after the payee's `end` ({end})"));
        }
        if let Some(u) = s.until.as_ref().filter(|u| u.value < since) {
            errs.at(file, Pos::of(u), format!("{what} ends ({}) before it starts", u.value));
        }
        if s.reason.value.trim().is_empty() {
            errs.at(file, s.reason.pos, format!("{what}: `reason` is empty; the statement shows it"));
        }
        if let Some(prev) = before {
            let (prev_state, prev_since) = (prev.state.value.name(), prev.since.value);
            if since <= prev_since {
                let message = format!(
                    "{what} is not after the state before it (`{prev_state}` since {prev_since}); list the states in the order they started"
                );
                errs.at(file, at_since, message);
            } else if let Some(u) = prev.until.as_ref().filter(|u| u.value >= since) {
                let message = format!(
                    "{what} starts while `{prev_state}` (since {prev_since}) is in force, until {}; end that one before, or leave out its `until` (an entry lasts until the next)",
                    u.value
                );
                errs.at(file, at_since, message);
            }
        }
        match state {
            PayeeState::Terminated => check_terminated(file, p, s, i + 1 == p.states.len(), errs),
            PayeeState::Throttled => check_throttled(file, p, s, errs),
            PayeeState::Warned | PayeeState::Suspended => {}
        }
        before = Some(s);
    }
}

/// The payee's end: the last entry, without `until`, on the roster's `end`.
fn check_terminated(file: usize, p: &Payee, s: &StateSpec, last: bool, errs: &mut Errors) {
    let since = s.since.value;
    let what = format!("{}: state `terminated` since {since}", p.who);
    if !last {
        let message = format!("{what} is not the last state; a termination ends the payee's history");
        errs.at(file, Pos::of(&s.state), message);
    }
    if let Some(u) = &s.until {
        let message = format!(
            "{what} has an `until`; a termination is for good (a payee who comes back is a new entry on the roster)"
        );
        errs.at(file, Pos::of(u), message);
    }
    match p.end {
        Some(end) if end == since => {}
        Some(end) => {
            let message = format!(
                "{what}: the payee's `end` is {end}; a termination is the payee's end, its `since` the last day in the programme: make them the same day"
            );
            errs.at(file, Pos::of(&s.since), message);
        }
        None => {
            let message = format!(
                "{what}: the payee has no `end`; a termination is the payee's end: give `end: {since}` (its last day in the programme)"
            );
            errs.at(file, Pos::of(&s.since), message);
        }
    }
}

/// A throttle stops something: the tier governing its first month lists `throttled_lines`.
fn check_throttled(file: usize, p: &Payee, s: &StateSpec, errs: &mut Errors) {
    let since = s.since.value;
    let Some(tier) = (p.tier)(since.with_day(1).unwrap_or(since).max(p.start)) else { return };
    let Some(t) = p.tiers.iter().find(|t| t.item.id.value == tier.value) else { return };
    if t.item.throttled_lines.is_empty() {
        let message = format!(
            "{}: state `throttled` since {since}, but tier `{}` lists no `throttled_lines`: throttling would stop nothing; list in the tier the lines it stops",
            p.who, tier
        );
        errs.at(file, Pos::of(&s.state), message);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use std::path::Path;

    const ALICE: &str = "tier: tier1, start: 2026-01-15,";

    /// The fixture with alice's `states:` (and `more` roster fields).
    fn states(more: &str, list: &str) -> Vec<(String, String)> {
        edited("roster.yaml", ALICE, &format!("{ALICE} {more} states: [{list}],"))
    }

    #[test]
    fn a_history_in_order_loads() {
        let files = states(
            "end: 2026-09-30,",
            "{state: warned, since: 2026-02-01, until: 2026-02-28, reason: Late}, {state: suspended, since: 2026-05-10, reason: Audit}, {state: terminated, since: 2026-09-30, reason: Fraud}",
        );
        let rules = load_files(Path::new("rules"), &files).unwrap();
        assert_eq!(rules.operators[0].states.len(), 3);
    }

    #[test]
    fn states_out_of_order_or_overlapping_are_refused_at_since() {
        let files = states(
            "",
            "{state: suspended, since: 2026-03-01, until: 2026-04-10, reason: A}, {state: warned, since: 2026-04-01, reason: B}, {state: throttled, since: 2026-03-15, reason: C}",
        );
        let errs = errors(&files);
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_error(
            &errs[0],
            "roster.yaml",
            pos(&files, "roster.yaml", "2026-04-01"),
            &[
                "operator `alice`: state `warned` since 2026-04-01 starts while `suspended` (since 2026-03-01) is in force, until 2026-04-10",
            ],
        );
        assert!(errs[1].message.contains("tier `tier1` lists no `throttled_lines`"), "{errs:#?}");
        assert_error(
            &errs[2],
            "roster.yaml",
            pos(&files, "roster.yaml", "2026-03-15"),
            &["state `throttled` since 2026-03-15 is not after the state before it (`warned` since 2026-04-01)"],
        );
    }

    #[test]
    fn a_state_outside_the_payees_days_or_ending_before_it_starts_is_refused() {
        let files = states(
            "end: 2026-06-30,",
            "{state: warned, since: 2026-01-10, reason: A}, {state: suspended, since: 2026-03-01, until: 2026-02-01, reason: B}, {state: warned, since: 2026-07-01, reason: C}",
        );
        let errs = errors(&files);
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert_error(
            &errs[0],
            "roster.yaml",
            pos(&files, "roster.yaml", "2026-01-10"),
            &["state `warned` since 2026-01-10 is before the payee's `start` (2026-01-15)"],
        );
        assert_error(
            &errs[1],
            "roster.yaml",
            pos(&files, "roster.yaml", "2026-02-01"),
            &["ends (2026-02-01) before it starts"],
        );
        assert_error(
            &errs[2],
            "roster.yaml",
            pos(&files, "roster.yaml", "2026-07-01"),
            &["is after the payee's `end` (2026-06-30)"],
        );
    }

    #[test]
    fn a_termination_is_the_payees_end_the_last_state_for_good() {
        let files = states("", "{state: terminated, since: 2026-05-12, reason: Fraud}");
        let at = pos(&files, "roster.yaml", "2026-05-12");
        assert_one(&errors(&files), "roster.yaml", at, &["the payee has no `end`", "give `end: 2026-05-12`"]);
        let files = states("end: 2026-05-31,", "{state: terminated, since: 2026-05-12, reason: Fraud}");
        let at = pos(&files, "roster.yaml", "2026-05-12");
        assert_one(&errors(&files), "roster.yaml", at, &["the payee's `end` is 2026-05-31", "make them the same day"]);
        let files =
            states("end: 2026-05-12,", "{state: terminated, since: 2026-05-12, until: 2026-05-12, reason: Fraud}");
        let at = pos(&files, "roster.yaml", "until: 2026-05-12");
        assert_one(&errors(&files), "roster.yaml", (at.0, at.1 + 7), &["has an `until`; a termination is for good"]);
        let files = states(
            "end: 2026-05-12,",
            "{state: terminated, since: 2026-05-12, reason: Fraud}, {state: warned, since: 2026-05-13, reason: x}",
        );
        let errs = errors(&files);
        assert!(
            errs.iter().any(|e| e.message.contains("`terminated` since 2026-05-12 is not the last state")),
            "{errs:#?}"
        );
    }

    #[test]
    fn throttled_lines_name_lines_of_the_tier_and_an_empty_reason_is_refused() {
        let files = edited(
            "pay.yaml",
            "    name: Certified Operator\n",
            "    name: Certified Operator\n    throttled_lines: [uptime_bonu]\n",
        );
        let at = pos(&files, "pay.yaml", "uptime_bonu]");
        assert_one(
            &errors(&files),
            "pay.yaml",
            at,
            &["unknown line of tier `tier1` (throttled_lines) `uptime_bonu`; did you mean `uptime_bonus`?"],
        );
        let files = states("", "{state: warned, since: 2026-02-01, reason: ' '}");
        assert_one(
            &errors(&files),
            "roster.yaml",
            pos(&files, "roster.yaml", "' '"),
            &["state `warned` since 2026-02-01: `reason` is empty"],
        );
    }

    #[test]
    fn the_kill_switch_has_a_reason_and_ends_after_it_starts() {
        let files = edited(
            "programme.yaml",
            "programme: {name: Fleet programme,",
            "programme: {hold_all: {since: 2026-10-01, until: 2026-09-01, reason: ''}, name: Fleet programme,",
        );
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs.iter().any(|e| e.message.contains("`programme.hold_all`: `reason` is empty")), "{errs:#?}");
        let at = pos(&files, "programme.yaml", "2026-09-01");
        assert!(
            errs.iter()
                .any(|e| (e.line, e.column) == at
                    && e.message.contains("ends (2026-09-01) before it starts (2026-10-01)")),
            "{errs:#?}"
        );
    }
}
