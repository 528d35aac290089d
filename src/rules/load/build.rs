//! [`Rules`] from merged sections: the programme's time zone, the
//! maintenance windows and the missing-data policy (or its default) parsed,
//! the lists untagged. The one place a [`Rules`] is made, whether the
//! sections were checked ([`load_files`](super::load_files)) or not
//! ([`from_yaml_unchecked`](super::from_yaml_unchecked)).

use super::errors::Errors;
use super::maintenance::{maintenance, time_zone};
use super::merge::{At, Merged, items};
use super::parse::key_pos;
use crate::history::History;
use crate::history::figures::{self, MonthFigures};
use crate::money::Dec;
use crate::rules::derived::{self, Derived};
use crate::rules::expr::Pos;
use crate::rules::model::{Aggregate, Maintenance, OfKind, Rules};
use crate::rules::spec::{AggregateSpec, FlagSpec, How, MissingDataPolicy, MissingDataSpec, ScoreSpec};
use crate::rules::vars;
use rust_decimal::Decimal;

/// The rule set of `m`; None after reporting what is missing or malformed.
/// Its `sha256` is left empty.
pub(super) fn build(m: Merged, errs: &mut Errors) -> Option<Rules> {
    let time_zone = m.programme.as_ref().and_then(|p| time_zone(p.file, p.item.time_zone.as_ref(), errs));
    let maintenance: Vec<Option<Maintenance>> =
        m.maintenance.iter().map(|w| maintenance(w.file, &w.item, errs)).collect();
    let missing_data = missing_data(m.missing_data, errs);
    let opening = opening(&m.opening_figures, errs);
    let (Some(programme), Some(source), Some(time_zone), Some(maintenance), Some(missing_data), Some(opening)) =
        (m.programme, m.source, time_zone, maintenance.into_iter().collect::<Option<Vec<_>>>(), missing_data, opening)
    else {
        return None;
    };
    let severity_ids: Vec<String> = m.severities.iter().map(|s| s.item.id.value.clone()).collect();
    let scores = items(m.scores);
    let flags = items(m.flags);
    let aggregates: Vec<Aggregate> =
        items(m.aggregates).into_iter().map(|a| aggregate(a, &severity_ids, &scores, &flags)).collect();
    let derived = derived_order(&scores, &flags, &aggregates);
    Some(Rules {
        dir: errs.dir.to_path_buf(),
        sha256: String::new(),
        programme: programme.item,
        time_zone,
        source: source.item,
        maintenance,
        severities: items(m.severities),
        escalation: items(m.escalation),
        incident_sources: items(m.incident_sources),
        incident_classes: items(m.incident_classes),
        inputs: items(m.inputs),
        missing_data,
        operators: items(m.operators),
        partners: items(m.partners),
        tiers: items(m.tiers),
        partner_tiers: items(m.partner_tiers),
        promotions: items(m.promotions),
        aggregates,
        scores,
        flags,
        derived,
        opening,
        targets: m.targets.map(|t| t.item).unwrap_or_default(),
        adjustments: items(m.adjustments),
        disputes: items(m.disputes),
    })
}

/// The opening figures as history (each month's source: the file it is
/// written in); None after reporting a month that is not one or negative
/// seconds (the checks report the names that do not resolve).
fn opening(months: &[At<MonthFigures>], errs: &mut Errors) -> Option<History> {
    let mut h = History::default();
    let mut ok = true;
    for At { file, item } in months {
        let source = format!("opening figures in {}", errs.file_name(*file));
        match figures::history(vec![item.clone()], &source) {
            Ok(one) => h.months.extend(one.months),
            Err(e) => {
                errs.at(*file, Pos::of(&item.period), e.replacen("history", "opening figures:", 1));
                ok = false;
            }
        }
    }
    ok.then_some(h)
}

/// An aggregate with its `how` resolved: pooled for the time shares
/// (`uptime`, `coverage`); the checks require one for any other variable
/// (sum where they did not run).
fn aggregate(a: AggregateSpec, severities: &[String], scores: &[ScoreSpec], flags: &[FlagSpec]) -> Aggregate {
    let pooled = super::check::POOLED.contains(&a.of.value.as_str());
    let how = a.how.unwrap_or(if pooled { How::Pooled } else { How::Sum });
    let of_kind = if derived::applies_to(scores, flags, &a.of).is_some() {
        OfKind::Derived
    } else if vars::is_operator_var(&a.of, severities) {
        OfKind::Operator
    } else if vars::is_partner_var(&a.of) {
        OfKind::Partner
    } else {
        OfKind::Input
    };
    Aggregate { name: a.name.value, of: a.of.value, over: a.over, how, of_kind }
}

/// The order scores, flags and the aggregates of them are computed in; a
/// cycle (the checks report it) leaves them in the order written.
pub(super) fn derived_order(scores: &[ScoreSpec], flags: &[FlagSpec], aggregates: &[Aggregate]) -> Vec<Derived> {
    let of_derived: Vec<(usize, &str, &str)> = aggregates
        .iter()
        .enumerate()
        .filter(|(_, a)| a.of_kind == OfKind::Derived)
        .map(|(i, a)| (i, a.name.as_str(), a.of.as_str()))
        .collect();
    derived::order(scores, flags, &of_derived).unwrap_or_else(|_| {
        let s = (0..scores.len()).map(Derived::Score);
        s.chain((0..flags.len()).map(Derived::Flag)).chain(of_derived.iter().map(|a| Derived::Aggregate(a.0))).collect()
    })
}

/// The missing-data section or its default; None after reporting an error.
fn missing_data(md: Option<At<MissingDataSpec>>, errs: &mut Errors) -> Option<MissingDataSpec> {
    let Some(At { file, item }) = md else {
        return Some(MissingDataSpec { min_coverage: Dec(Decimal::new(9, 1)), policy: MissingDataPolicy::Withhold });
    };
    if item.min_coverage.0 < Decimal::ZERO || item.min_coverage.0 > Decimal::ONE {
        let pos = key_pos(errs.text(file), "missing_data");
        errs.at(
            file,
            pos,
            format!("`missing_data.min_coverage` is {}; it must be between 0 and 1", item.min_coverage.0),
        );
        return None;
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::super::load_files;
    use super::super::test_support::*;
    use super::*;
    use chrono::{TimeZone, Utc, Weekday};
    use chrono_tz::Tz;
    use std::path::Path;

    #[test]
    fn min_coverage_must_be_between_0_and_1() {
        let files =
            with_file(fixture(), "zz.yaml", "version: 1\nmissing_data: {min_coverage: 1.5, policy: evaluate}\n");
        assert_one(&errors(&files), "zz.yaml", (2, 1), &["`missing_data.min_coverage` is 1.5"]);
    }

    #[test]
    fn every_line_kind_partner_tiers_and_promotions_load_when_valid() {
        let rules = load_files(Path::new("rules"), &with_file(fixture(), "zz.yaml", EVERY_KIND)).unwrap();
        assert_eq!(rules.tiers.len(), 2);
        assert_eq!(rules.partner_tiers[0].lines.len(), 2);
        assert_eq!(rules.missing_data.policy, MissingDataPolicy::Evaluate);
        let once = &rules.maintenance[1];
        let from = Utc.with_ymd_and_hms(2026, 5, 6, 22, 0, 0).unwrap();
        assert_eq!(once, &Maintenance::Once { name: "move".into(), from, to: from + chrono::Duration::hours(2) });
        assert!(matches!(
            rules.maintenance[2],
            Maintenance::Weekly { weekday: Weekday::Wed, time_zone: Tz::Europe__Berlin, .. }
        ));
    }
}
