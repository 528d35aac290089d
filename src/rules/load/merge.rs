//! Merging the parsed files of a rule set into one [`Merged`] set of
//! sections, each item tagged with its file; a section defined in two files
//! and an unknown `version` are reported here.

use super::errors::Errors;
use super::parse::key_pos;
use crate::history::figures::MonthFigures;
use crate::rules::spec::*;

/// An item and the index of the file it came from.
pub(super) struct At<T> {
    pub(super) file: usize,
    pub(super) item: T,
}

fn tag<T>(file: usize, items: Vec<T>) -> impl Iterator<Item = At<T>> {
    items.into_iter().map(move |item| At { file, item })
}

/// The items of `v`, untagged.
pub(super) fn items<T>(v: Vec<At<T>>) -> Vec<T> {
    v.into_iter().map(|a| a.item).collect()
}

/// Every section of a rule set.
#[derive(Default)]
pub(super) struct Merged {
    pub(super) programme: Option<At<ProgrammeSpec>>,
    pub(super) source: Option<At<SourceSpec>>,
    pub(super) missing_data: Option<At<MissingDataSpec>>,
    pub(super) maintenance: Vec<At<MaintenanceSpec>>,
    pub(super) severities: Vec<At<SeveritySpec>>,
    pub(super) escalation: Vec<At<EscalationLevelSpec>>,
    pub(super) incident_sources: Vec<At<IncidentSourceSpec>>,
    pub(super) incident_classes: Vec<At<IncidentClassSpec>>,
    pub(super) inputs: Vec<At<InputSpec>>,
    pub(super) operators: Vec<At<OperatorSpec>>,
    pub(super) partners: Vec<At<PartnerSpec>>,
    pub(super) tiers: Vec<At<TierSpec>>,
    pub(super) partner_tiers: Vec<At<TierSpec>>,
    pub(super) promotions: Vec<At<PromotionSpec>>,
    pub(super) aggregates: Vec<At<AggregateSpec>>,
    pub(super) scores: Vec<At<ScoreSpec>>,
    pub(super) flags: Vec<At<FlagSpec>>,
    pub(super) opening_figures: Vec<At<MonthFigures>>,
    pub(super) targets: Option<At<TargetsSpec>>,
    pub(super) adjustments: Vec<At<AdjustmentSpec>>,
    pub(super) disputes: Vec<At<DisputeSpec>>,
}

pub(super) fn merge(parsed: Vec<(usize, RuleFile)>, errs: &mut Errors) -> Merged {
    let mut m = Merged::default();
    for (i, f) in parsed {
        if f.version != 1 {
            let pos = key_pos(errs.text(i), "version");
            errs.at(i, pos, format!("unsupported `version: {}`; only version 1 exists", f.version));
        }
        set_once(&mut m.programme, i, f.programme, "programme", errs);
        set_once(&mut m.source, i, f.source, "source", errs);
        set_once(&mut m.missing_data, i, f.missing_data, "missing_data", errs);
        m.maintenance.extend(tag(i, f.maintenance));
        m.severities.extend(tag(i, f.severities));
        if !f.escalation.is_empty() && !m.escalation.is_empty() {
            let message =
                format!("section `escalation` is already defined in {}", errs.file_name(m.escalation[0].file));
            let pos = key_pos(errs.text(i), "escalation");
            errs.at(i, pos, message);
        } else {
            m.escalation.extend(tag(i, f.escalation));
        }
        m.incident_sources.extend(tag(i, f.incident_sources));
        m.incident_classes.extend(tag(i, f.incident_classes));
        m.inputs.extend(tag(i, f.inputs));
        m.operators.extend(tag(i, f.operators));
        m.partners.extend(tag(i, f.partners));
        m.tiers.extend(tag(i, f.tiers));
        m.partner_tiers.extend(tag(i, f.partner_tiers));
        m.promotions.extend(tag(i, f.promotions));
        m.aggregates.extend(tag(i, f.aggregates));
        m.scores.extend(tag(i, f.scores));
        m.flags.extend(tag(i, f.flags));
        m.opening_figures.extend(tag(i, f.opening_figures));
        set_once(&mut m.targets, i, f.targets, "targets", errs);
        m.adjustments.extend(tag(i, f.adjustments));
        m.disputes.extend(tag(i, f.disputes));
    }
    m
}

/// A section may be defined in one file only.
fn set_once<T>(slot: &mut Option<At<T>>, file: usize, item: Option<T>, key: &str, errs: &mut Errors) {
    let Some(item) = item else { return };
    match slot {
        Some(first) => {
            let message = format!("section `{key}` is already defined in {}", errs.file_name(first.file));
            let pos = key_pos(errs.text(file), key);
            errs.at(file, pos, message);
        }
        None => *slot = Some(At { file, item }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn a_section_defined_twice_is_reported_in_the_second_file() {
        let files = with_file(fixture(), "zz.yaml", "version: 1\nsource: {up: up}\n");
        let errs = errors(&files);
        assert_one(&errs, "zz.yaml", (2, 1), &["section `source` is already defined in programme.yaml"]);
    }

    #[test]
    fn only_version_1_exists() {
        let files = edited("roster.yaml", "version: 1", "version: 2");
        assert_one(&errors(&files), "roster.yaml", (1, 1), &["unsupported `version: 2`"]);
    }
}
