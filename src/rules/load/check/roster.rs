//! An operator's tier: `tier:` or a `tiers:` history (one of them), every
//! tier defined, the history ascending from `start`, each tier governing at
//! least one month while the operator is in the programme (see
//! [`crate::rules::roster`] for the mid-month rule).

use super::names::{Names, resolve};
use crate::rules::load::errors::Errors;
use crate::rules::spec::{OperatorSpec, TierSince};
use chrono::NaiveDate;

pub(super) fn check_operator_tiers(file: usize, o: &OperatorSpec, n: &Names, errs: &mut Errors) {
    match (&o.tier, o.tiers.first()) {
        (Some(t), Some(_)) => {
            let message = format!("operator `{}`: give `tier` or `tiers`, not both", o.id);
            return errs.at(file, t.pos, message);
        }
        (Some(t), None) => return resolve(file, t, "tier", &n.tiers, errs),
        (None, None) => {
            let message = format!(
                "operator `{}` has no tier: give `tier` (its tier since `start`) or `tiers` (a list of \
                 `{{tier: ID, since: DATE}}`, the first since `start`)",
                o.id
            );
            return errs.at(file, o.id.pos, message);
        }
        (None, Some(first)) if first.since != o.start => {
            let message = format!(
                "operator `{}`: the first of `tiers` is since {}, not the operator's `start` ({}); \
                 the history starts with the tier the operator joined in",
                o.id, first.since, o.start
            );
            errs.at(file, first.since_pos, message);
        }
        (None, Some(_)) => {}
    }
    let mut before: Option<(&TierSince, NaiveDate)> = None;
    for (written, at) in o.tiers.iter().zip(o.tier_history()) {
        resolve(file, &written.tier, "tier", &n.tiers, errs);
        let who = format!("operator `{}`: tier `{}` since {}", o.id, at.tier, at.since);
        let governs = at.from.format("%Y-%m");
        if let Some((prev, prev_from)) = before {
            if written.since <= prev.since {
                let message = format!(
                    "{who} is not after the tier before it (`{}` since {}); list the tiers in the order they started",
                    prev.tier, prev.since
                );
                errs.at(file, written.since_pos, message);
            } else if at.from == prev_from {
                let message = format!(
                    "{who} would first govern {governs}, as `{}` since {} would: a tier that starts after \
                     the 1st governs from the next month, so `{}` would govern no month",
                    prev.tier, prev.since, prev.tier
                );
                errs.at(file, written.since_pos, message);
            }
            if written.tier.value == prev.tier.value {
                let message =
                    format!("{who} follows `{}` since {}; list a tier when it changes", prev.tier, prev.since);
                errs.at(file, written.tier.pos, message);
            }
        }
        if let Some(end) = o.end.filter(|end| at.from > *end) {
            let message = format!(
                "{who} would first govern {governs}, after the operator leaves ({end}); a tier that starts \
                 after the 1st governs from the next month"
            );
            errs.at(file, written.since_pos, message);
        }
        before = Some((written, at.from));
    }
}

#[cfg(test)]
mod tests {
    use crate::period::Period;
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use chrono_tz::Tz;
    use std::path::Path;

    const ALICE: &str = "tier: tier1, start: 2026-01-15,";

    fn history(tiers: &str) -> Vec<(String, String)> {
        edited("roster.yaml", ALICE, &format!("start: 2026-01-15, tiers: [{tiers}],"))
    }

    /// `files` with a second tier, `tier2`.
    fn with_tier2(files: Vec<(String, String)>) -> Vec<(String, String)> {
        let tier2 = "tiers:\n  - {id: tier2, name: Two, lines: [{id: b, name: B, kind: fixed, amount: 1}]}\n";
        edit(files, "pay.yaml", "tiers:\n", tier2)
    }

    #[test]
    fn a_tier_history_loads_and_governs_by_period() {
        let files = with_tier2(history("{tier: tier1, since: 2026-01-15}, {tier: tier2, since: 2026-07-15}"));
        let rules = load_files(Path::new("rules"), &files).unwrap();
        let alice = &rules.operators[0];
        let tier = |label: &str| alice.tier_in(&Period::month(label, Tz::UTC).unwrap()).unwrap().tier.value.clone();
        assert_eq!((tier("2026-07").as_str(), tier("2026-08").as_str()), ("tier1", "tier2"));
    }

    #[test]
    fn tier_and_tiers_together_are_refused_at_tier() {
        let files = edited("roster.yaml", ALICE, &format!("{ALICE} tiers: [{{tier: tier1, since: 2026-01-15}}],"));
        let at = pos(&files, "roster.yaml", "tier1");
        assert_one(&errors(&files), "roster.yaml", at, &["operator `alice`: give `tier` or `tiers`, not both"]);
    }

    #[test]
    fn an_operator_without_a_tier_is_refused_at_its_id() {
        let files = edited("roster.yaml", ALICE, "start: 2026-01-15,");
        let at = pos(&files, "roster.yaml", "alice");
        assert_one(&errors(&files), "roster.yaml", at, &["operator `alice` has no tier: give `tier`"]);
        let files = edited("roster.yaml", ALICE, "start: 2026-01-15, tiers: [],");
        assert_one(&errors(&files), "roster.yaml", at, &["operator `alice` has no tier"]);
    }

    #[test]
    fn the_history_starts_on_start_and_names_defined_tiers() {
        let files = history("{tier: tier1, since: 2026-02-01}, {tier: tier9, since: 2026-03-01}");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        let first = pos(&files, "roster.yaml", "2026-02-01");
        assert_error(
            &errs[0],
            "roster.yaml",
            first,
            &["the first of `tiers` is since 2026-02-01, not the operator's `start` (2026-01-15)"],
        );
        assert_error(&errs[1], "roster.yaml", pos(&files, "roster.yaml", "tier9"), &["unknown tier `tier9`"]);
    }

    #[test]
    fn the_history_is_ascending_and_changes_tier() {
        let files = history("{tier: tier1, since: 2026-01-15}, {tier: tier1, since: 2026-01-10}");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        let at = pos(&files, "roster.yaml", "tier1, since: 2026-01-10");
        assert_error(&errs[0], "roster.yaml", at, &["follows `tier1` since 2026-01-15; list a tier when it changes"]);
        let second = pos(&files, "roster.yaml", "2026-01-10");
        assert_error(
            &errs[1],
            "roster.yaml",
            second,
            &[
                "tier `tier1` since 2026-01-10 is not after the tier before it (`tier1` since 2026-01-15); list the tiers in the order they started",
            ],
        );
    }

    #[test]
    fn every_tier_governs_a_month_while_the_operator_is_in() {
        // Two changes in one month: the first would never govern.
        let files = with_tier2(history(
            "{tier: tier1, since: 2026-01-15}, {tier: tier2, since: 2026-03-10}, {tier: tier1, since: 2026-03-20}",
        ));
        let at = pos(&files, "roster.yaml", "2026-03-20");
        assert_one(
            &errors(&files),
            "roster.yaml",
            at,
            &["tier `tier1` since 2026-03-20 would first govern 2026-04, as `tier2` since 2026-03-10 would"],
        );
        // A change after the operator left, or in its last month after the 1st.
        let files = edited(
            "roster.yaml",
            ALICE,
            "start: 2026-01-15, end: 2026-03-31, tiers: [{tier: tier1, since: 2026-01-15}, {tier: tier1x, since: 2026-03-02}],",
        );
        let errs = errors(&files);
        let at = pos(&files, "roster.yaml", "2026-03-02");
        assert!(
            errs.iter()
                .any(|e| e.message.contains("would first govern 2026-04, after the operator leaves (2026-03-31)")
                    && (e.line, e.column) == at),
            "{errs:#?}"
        );
    }
}
