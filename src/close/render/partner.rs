//! The context of a partner's report (template `partner-report.md.j2`, file
//! `partners/<partner-id>.md`), after the seed's partner report template
//! (seed 000, `templates/partner-report.md`): the partner, its tier, the
//! operators it referred, its commission split into first year and
//! ongoing, with the year to date, and the programme's targets.
//!
//! First year and ongoing: a referred operator is in its first year in its
//! programme months 1–12 (`tenure_months <= 12`, as the shipped partner
//! tiers read it). A commission line counts as first-year when its id
//! starts with `first_year`, as ongoing when it starts with `ongoing` (the
//! shipped partner tiers' ids); any other line is `other`.

use super::programme::Common;
use super::roster::{RosterEntry, roster};
use super::targets::{self, TargetResult};
use crate::evaluation::{Evaluation, LineStatus, Statement};
use crate::period::Period;
use crate::rules::Rules;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct PartnerContext<'a> {
    #[serde(flatten)]
    pub common: Common<'a>,
    /// The whole evaluation (shared between partners, built once).
    pub evaluation: &'a minijinja::Value,
    pub statement: &'a Statement,
    pub tier_name: String,
    /// The partner's first day in the programme.
    pub since: Option<NaiveDate>,
    /// Operators it referred who are on the roster this period.
    pub referred: Vec<Referred<'a>>,
    pub commission: Split,
    /// `None` while months of the year are not closed (see `statement.year_to_date.missing`).
    pub commission_ytd: Option<Split>,
    pub targets: Vec<TargetResult>,
    /// Warnings that name the partner, a referred operator's node or an input its lines read.
    pub warnings: Vec<&'a str>,
}

/// A referred operator: its roster entry, its phase and its statement.
#[derive(Debug, Serialize)]
pub struct Referred<'a> {
    #[serde(flatten)]
    pub roster: RosterEntry,
    /// `first year` (programme months 1–12) or `ongoing`.
    pub phase: &'static str,
    /// The operator's statement this period (its uptime, nodes, variables).
    pub statement: Option<&'a Statement>,
}

/// Commission by phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Split {
    pub first_year: Decimal,
    pub ongoing: Decimal,
    pub other: Decimal,
    pub total: Decimal,
    /// Whether any line counted as `other`.
    pub has_other: bool,
}

impl Split {
    fn add(&mut self, line_id: &str, amount: Decimal) {
        if line_id.starts_with("first_year") {
            self.first_year += amount;
        } else if line_id.starts_with("ongoing") {
            self.ongoing += amount;
        } else {
            self.other += amount;
            self.has_other = true;
        }
        self.total += amount;
    }
}

pub fn context<'a>(
    e: &'a Evaluation,
    rules: &'a Rules,
    evaluation: &'a minijinja::Value,
    p: &'a Statement,
) -> PartnerContext<'a> {
    let period = Period::containing(e.period_start, rules.time_zone);
    let referred = roster(rules, &period)
        .into_iter()
        .filter(|r| r.referred_by.as_deref() == Some(p.id.as_str()))
        .map(|r| Referred {
            phase: if r.tenure_months <= 12 { "first year" } else { "ongoing" },
            statement: e.operators.iter().find(|s| s.id == r.id),
            roster: r,
        })
        .collect();
    let mut commission = Split::default();
    for l in p.lines.iter().filter(|l| l.status == LineStatus::Paid) {
        commission.add(&l.id, l.amount);
    }
    let commission_ytd = p.year_to_date.total.map(|_| {
        let mut ytd = Split::default();
        for (id, amount) in &p.year_to_date.lines {
            ytd.add(id, *amount);
        }
        ytd
    });
    PartnerContext {
        common: Common::new(e, rules),
        evaluation,
        statement: p,
        tier_name: rules.partner_tier(&p.tier).map_or(p.tier.clone(), |t| t.name.clone()),
        since: rules.partners.iter().find(|x| x.id.value == p.id).map(|x| x.start),
        referred,
        commission,
        commission_ytd,
        targets: targets::evaluate(e, rules, &period),
        warnings: super::payee::concerning(p, &e.warnings),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_splits_by_line_id_into_first_year_ongoing_and_other() {
        let mut s = Split::default();
        for (id, amount) in [("first_year_commission", 10), ("ongoing_commission", 5), ("co_marketing", 1)] {
            s.add(id, Decimal::from(amount));
        }
        let d = Decimal::from;
        assert_eq!(s, Split { first_year: d(10), ongoing: d(5), other: d(1), total: d(16), has_other: true });
    }

    #[test]
    fn a_partners_scores_and_flags_are_in_its_report() {
        use crate::engine::testutil::{facts, period, rules};
        let r = rules(
            "version: 1\npartner_tiers:\n  - {id: g, name: G, lines: [{id: x, name: X, kind: fixed, amount: 1}]}\npartners:\n  - {id: p1, name: P, tier: g, start: 2026-01-01}\ntiers:\n  - {id: t, name: T, lines: []}\nscores:\n  - {id: reach, name: Reach, applies_to: partner, scale: {min: 0, max: 5}, criteria: [{id: refs, name: Referrals, weight: 1, value: referrals + 2}]}\nflags:\n  - {id: quiet, name: Quiet, applies_to: partner, when: referrals == 0}\n",
        );
        let p = period("2026-10");
        let e = crate::engine::evaluate(&facts(&p), &Default::default(), &r, &p, p.end);
        let docs = super::super::documents(&e, &r, &super::super::Templates::builtin()).unwrap();
        let report = &docs.iter().find(|(n, _)| n == "partners/p1.md").unwrap().1;
        for needle in [
            "### Scores and Flags",
            "- **Reach** (reach, 0–5): 2.00 — 1 × 2.00 = 2.00",
            "  - Referrals (refs): 2.00 × weight 1",
            "- **Quiet** (quiet): yes — `referrals == 0` holds (referrals = 0)",
        ] {
            assert!(report.contains(needle), "missing {needle:?}:\n{report}");
        }
    }
}
