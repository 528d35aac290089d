//! The roster over time: whether a payee is in the programme on some day
//! of a span, an operator's tier history and the tier that governs a pay
//! period, months in that tier, and whether an operator completed the
//! programme's first six months.
//!
//! An operator has `tier: X` (X since `start`) or `tiers:`, a list of tiers
//! with the day each started, the first on `start` (the loader checks it).
//!
//! **Mid-month change rule**: the tier in force on the first day of the
//! period the operator is active (the 1st, or `start` in the start month)
//! governs the whole month: its pay lines, the statement's tier, the
//! promotion checked, the report. A change on 2026-07-15 takes effect for
//! August; one on 2026-07-01 for July. Nothing is prorated between tiers.

use super::expr::Text;
use super::spec::{OperatorSpec, PartnerSpec};
use crate::period::{Period, month_number};
use chrono::{Datelike, NaiveDate};

/// Months of the churn-rebate window (rules/tiers.yaml `churn_rebate`:
/// leaving in one of the first six programme months).
pub const CHURN_WINDOW_MONTHS: i64 = 6;

/// One tier of an operator's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierAt<'a> {
    /// The tier id.
    pub tier: &'a Text,
    /// The day the roster gives (`since`, or `start` for `tier:`).
    pub since: NaiveDate,
    /// The first day of the first period it governs: `since` when that is
    /// the operator's start or the 1st of a month, else the 1st of the next
    /// month.
    pub from: NaiveDate,
}

/// Whether a payee from `start` to `end` (its last day) is in the
/// programme on some day of `first ..= last`.
fn in_programme(start: NaiveDate, end: Option<NaiveDate>, first: NaiveDate, last: NaiveDate) -> bool {
    start <= last && end.is_none_or(|e| e >= first)
}

impl PartnerSpec {
    /// In the programme on some day of `first ..= last`.
    pub fn in_programme(&self, first: NaiveDate, last: NaiveDate) -> bool {
        in_programme(self.start, self.end, first, last)
    }
}

impl OperatorSpec {
    /// In the programme on some day of `first ..= last`.
    pub fn in_programme(&self, first: NaiveDate, last: NaiveDate) -> bool {
        in_programme(self.start, self.end, first, last)
    }

    /// The tier history, oldest first: `tier:` as one tier since `start`,
    /// or the `tiers:` list.
    pub fn tier_history(&self) -> impl Iterator<Item = TierAt<'_>> {
        let single = self.tier.iter().map(|t| (t, self.start));
        let listed = self.tiers.iter().map(|t| (&t.tier, t.since));
        single.chain(listed).map(|(tier, since)| TierAt { tier, since, from: self.governs_from(since) })
    }

    /// The first day of the first period a tier started on `since` governs.
    fn governs_from(&self, since: NaiveDate) -> NaiveDate {
        if since <= self.start {
            self.start
        } else if since.day() == 1 {
            since
        } else {
            since.with_day(1).expect("day 1") + chrono::Months::new(1)
        }
    }

    /// The tier governing `period`: the one in force on the first day of
    /// the period the operator is active (see the module's mid-month rule).
    /// For a period before `start`, the first tier. `None` only for rules
    /// without any tier (not validated).
    pub fn tier_in(&self, period: &Period) -> Option<TierAt<'_>> {
        let day = self.start.max(period.first_day());
        let mut history = self.tier_history();
        let first = history.next()?;
        Some(history.filter(|t| t.from <= day).last().unwrap_or(first))
    }

    /// Month of its current tier `period` is for the operator: 1 in the
    /// month the tier took effect (for a single tier: `tenure_months`).
    pub fn tier_months(&self, period: &Period) -> Option<i64> {
        self.tier_in(period).map(|t| period.month_number(t.from))
    }

    /// Whether the operator completed the programme's first six months by
    /// the end of `period`: its sixth programme month (the start month is
    /// month 1, as `tenure_months` counts) is `period` or earlier, and it
    /// did not leave within the first six months (what `churn_rebate`
    /// deducts for); or its tier history moved it on from its first tier
    /// (a promotion) in a period up to `period`.
    pub fn completed_first_months(&self, period: &Period) -> bool {
        let stayed = period.month_number(self.start) >= CHURN_WINDOW_MONTHS
            && self.end.is_none_or(|end| month_number(self.start, end) > CHURN_WINDOW_MONTHS);
        stayed || self.tier_history().skip(1).any(|t| t.from <= period.last_day())
    }
}

#[cfg(test)]
mod tests {
    use crate::period::Period;
    use crate::rules::spec::OperatorSpec;
    use chrono_tz::Tz;

    fn operator(yaml: &str) -> OperatorSpec {
        serde_saphyr::from_str(&format!("{{id: x, name: X, {yaml}}}")).unwrap()
    }

    fn month(label: &str) -> Period {
        Period::month(label, Tz::UTC).unwrap()
    }

    /// (tier, tier_months) of `o` in each of `labels`.
    fn tiers(o: &OperatorSpec, labels: &[&str]) -> Vec<(String, i64)> {
        labels
            .iter()
            .map(|l| {
                let p = month(l);
                (o.tier_in(&p).unwrap().tier.value.clone(), o.tier_months(&p).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_single_tier_governs_every_month_from_the_start() {
        let o = operator("tier: t1, start: 2026-03-15");
        let t = |s: &str, n| (s.to_string(), n);
        assert_eq!(tiers(&o, &["2026-03", "2026-04", "2027-03"]), vec![t("t1", 1), t("t1", 2), t("t1", 13)]);
        let p = month("2026-08");
        assert_eq!(o.tier_in(&p).unwrap().since, o.start);
    }

    #[test]
    fn a_change_on_the_first_governs_its_month_and_a_mid_month_change_the_next() {
        let o = operator(
            "start: 2025-05-10, tiers: [{tier: t1, since: 2025-05-10}, {tier: t2, since: 2025-11-01}, {tier: t3, since: 2026-07-15}]",
        );
        let t = |s: &str, n| (s.to_string(), n);
        assert_eq!(
            tiers(&o, &["2025-05", "2025-10", "2025-11", "2026-07", "2026-08", "2026-09"]),
            vec![t("t1", 1), t("t1", 6), t("t2", 1), t("t2", 9), t("t3", 1), t("t3", 2)]
        );
        let july = o.tier_in(&month("2026-08")).unwrap();
        assert_eq!((july.since.to_string(), july.from.to_string()), ("2026-07-15".into(), "2026-08-01".into()));
        // Before the start: the first tier.
        assert_eq!(o.tier_in(&month("2025-01")).unwrap().tier.value, "t1");
    }

    #[test]
    fn an_operator_without_a_tier_has_none() {
        let o = operator("start: 2026-01-01");
        assert!(o.tier_in(&month("2026-01")).is_none() && o.tier_months(&month("2026-01")).is_none());
    }

    #[test]
    fn the_first_six_months_are_completed_at_the_end_of_the_sixth_programme_month() {
        let o = operator("tier: t1, start: 2026-03-01");
        assert!(!o.completed_first_months(&month("2026-07")), "month 5");
        assert!(o.completed_first_months(&month("2026-08")), "month 6");
        // Joined mid-month: months count as `tenure_months` does (March = 1).
        assert!(operator("tier: t1, start: 2026-03-20").completed_first_months(&month("2026-08")));
        // Left in month 5 or on the last day of month 6: never; in month 7: yes.
        for (end, done) in [("2026-07-31", false), ("2026-08-31", false), ("2026-09-01", true)] {
            let o = operator(&format!("tier: t1, start: 2026-03-01, end: {end}"));
            assert_eq!(o.completed_first_months(&month("2027-03")), done, "{end}");
        }
    }

    #[test]
    fn a_promotion_counts_as_completed_from_the_month_it_governs() {
        let o = operator(
            "start: 2026-03-01, end: 2026-06-10, tiers: [{tier: t1, since: 2026-03-01}, {tier: t2, since: 2026-04-15}]",
        );
        assert!(!o.completed_first_months(&month("2026-04")));
        assert!(o.completed_first_months(&month("2026-05")));
    }
}
