//! Validation of a merged rule set: required sections, unique ids, every
//! reference and expression variable resolved (with "did you mean", in
//! [`names`]), operators' tier histories ([`roster`]), line kinds
//! ([`tiers`]), PromQL ([`promql`]), no control characters in text
//! ([`text`]), scores and flags ([`scores`]), adjustments and disputes ([`ledger`]), payees' enforcement
//! states and the kill switch ([`states`]) and the programme's settings.
//! Reports into the collector; builds nothing.

mod aggregates;
pub(super) use aggregates::POOLED;
mod incidents;
mod ledger;
mod names;
mod opening;
mod promql;
mod roster;
mod scores;
mod states;
mod targets;
mod text;
mod tiers;

use crate::rules::expr::{Pos, Text};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::load::parse::key_pos;
use crate::rules::spec::ProgrammeSpec;
use names::{Names, check_expr, check_unique, check_word, resolve};
pub(super) use promql::note_whole_inputs;
use promql::{check_source, parse_promql};
use roster::check_operator_tiers;
use std::collections::HashMap;
use tiers::check_tier;

/// What `$__range` stands for when an input query is parsed offline.
const RANGE_FOR_CHECK: &str = "30d";

/// Report everything wrong with `m`, except in what [`build`](super::build)
/// parses and reports itself: time zones, maintenance windows, `missing_data`.
pub(super) fn check(m: &Merged, errs: &mut Errors) {
    check_required(m, errs);
    check_ids(m, errs);
    let names = Names::new(m);
    check_references(m, &names, errs);
    check_severities(m, &names, errs);
    check_escalation(m, &names, errs);
    incidents::check_incidents(m, &names, errs);
    check_inputs(m, &names, errs);
    for t in &m.tiers {
        check_tier(t.file, &t.item, false, &names, errs);
    }
    for t in &m.partner_tiers {
        check_tier(t.file, &t.item, true, &names, errs);
    }
    check_promotions(m, &names, errs);
    aggregates::check_aggregates(m, &names, errs);
    scores::check_scores(m, &names, errs);
    opening::check_opening(m, &names, errs);
    targets::check_targets(m, errs);
    ledger::check_adjustments(m, &names, errs);
    ledger::check_disputes(m, &names, errs);
    states::check_states(m, errs);
    if let Some(p) = &m.programme {
        check_programme(p.file, &p.item, errs);
    }
    if let Some(s) = &m.source {
        check_source(s.file, &s.item, errs);
    }
    text::check_text(errs);
}

fn check_required(m: &Merged, errs: &mut Errors) {
    if errs.partial {
        return;
    }
    if m.programme.is_none() {
        errs.whole("missing section `programme` (name, currency, time_zone, rounding)");
    }
    if m.source.is_none() {
        errs.whole("missing section `source` (at least `up`, the PromQL selector of node availability)");
    }
    if m.severities.is_empty() {
        errs.whole("no `severities`: at least one severity is required");
    }
    if m.tiers.is_empty() {
        errs.whole("no `tiers`: at least one operator tier is required");
    }
}

fn check_ids(m: &Merged, errs: &mut Errors) {
    check_unique("severity id", m.severities.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("escalation level id", m.escalation.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("operator id", m.operators.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("partner id", m.partners.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("tier id", m.tiers.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("partner tier id", m.partner_tiers.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("input name", m.inputs.iter().map(|s| (s.file, &s.item.name)), errs);
    check_unique("aggregate name", m.aggregates.iter().map(|s| (s.file, &s.item.name)), errs);
    check_unique("maintenance name", m.maintenance.iter().map(|s| (s.file, &s.item.name)), errs);
    check_unique("adjustment id", m.adjustments.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("dispute id", m.disputes.iter().map(|s| (s.file, &s.item.id)), errs);
    check_unique("incident class id", m.incident_classes.iter().map(|c| (c.file, &c.item.id)), errs);
    check_unique("incident source name", m.incident_sources.iter().map(|s| (s.file, &s.item.name)), errs);
    for t in m.tiers.iter().chain(&m.partner_tiers) {
        let kind = format!("line id in tier `{}`", t.item.id);
        check_unique(&kind, t.item.lines.iter().map(|l| (t.file, &l.id)), errs);
    }
    check_nodes(m, errs);
}

/// A node belongs to one operator.
fn check_nodes(m: &Merged, errs: &mut Errors) {
    let mut owner: HashMap<&str, (&Text, usize, Pos)> = HashMap::new();
    for At { file, item: o } in &m.operators {
        for node in &o.nodes {
            if let Some((first, f0, p0)) = owner.get(node.value.as_str()) {
                let message = format!(
                    "node `{node}` is already listed under operator `{first}` ({}:{p0}); a node has one operator",
                    errs.file_name(*f0)
                );
                errs.at(*file, node.pos, message);
            } else {
                owner.insert(&node.value, (&o.id, *file, node.pos));
            }
        }
    }
}

fn check_references(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: o } in &m.operators {
        check_operator_tiers(*file, o, n, errs);
        for mentee in &o.mentees {
            resolve(*file, mentee, "operator (mentee)", &n.operators, errs);
            if mentee.value == o.id.value {
                errs.at(*file, mentee.pos, format!("operator `{}` cannot mentor itself", o.id));
            }
        }
        if let Some(p) = &o.referred_by {
            resolve(*file, p, "partner (referred_by)", &n.partners, errs);
        }
        if let Some(end) = o.end.filter(|end| *end < o.start) {
            errs.at(*file, o.id.pos, format!("operator `{}` ends ({end}) before it starts ({})", o.id, o.start));
        }
    }
    for At { file, item: p } in &m.partners {
        resolve(*file, &p.tier, "partner tier", &n.partner_tiers, errs);
    }
}

/// Currency code and rounding.
fn check_programme(file: usize, p: &ProgrammeSpec, errs: &mut Errors) {
    let pos = key_pos(errs.text(file), "programme");
    if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
        errs.at(file, pos, format!("`programme.currency` `{}` is not an ISO 4217 code such as `USD`", p.currency));
    }
    if p.rounding.decimals > 10 {
        errs.at(file, pos, format!("`programme.rounding.decimals` is {}; at most 10", p.rounding.decimals));
    }
}

fn check_severities(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: s } in &m.severities {
        check_word(*file, &s.id, "severity id", true, errs);
        check_expr(*file, &s.when, &n.incident_vars, errs);
        if s.resolve_within.seconds() <= 0 || s.respond_within.seconds() <= 0 {
            errs.at(
                *file,
                s.id.pos,
                format!("severity `{}`: respond_within and resolve_within must be positive", s.id),
            );
        }
    }
}

/// Escalation levels name known severities.
fn check_escalation(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: l } in &m.escalation {
        for s in l.severities.iter().flatten() {
            resolve(*file, s, "severity", &n.severities, errs);
        }
    }
}

fn check_inputs(m: &Merged, n: &Names, errs: &mut Errors) {
    let builtin: Vec<String> = n.referral_vars.iter().filter(|v| !n.inputs.contains(v)).cloned().collect();
    for At { file, item: i } in &m.inputs {
        check_word(*file, &i.name, "input name", false, errs);
        if builtin.contains(&i.name.value) {
            errs.at(*file, i.name.pos, format!("input `{}` has the name of a built-in variable; rename it", i.name));
        }
        let query = i.query.value.replace("$__range", RANGE_FOR_CHECK);
        if let Err(e) = parse_promql(&query) {
            errs.at(*file, i.query.pos, format!("input `{}`: {e}", i.name));
        }
    }
}

fn check_promotions(m: &Merged, n: &Names, errs: &mut Errors) {
    for At { file, item: p } in &m.promotions {
        resolve(*file, &p.from, "tier", &n.tiers, errs);
        resolve(*file, &p.to, "tier", &n.tiers, errs);
        if p.from.value == p.to.value {
            errs.at(*file, p.to.pos, format!("promotion from `{}` to itself", p.from));
        }
        for c in &p.checks {
            check_expr(*file, &c.when, &n.operator_vars, errs);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use std::path::Path;

    #[test]
    fn an_escalation_level_for_an_unknown_severity_is_reported_at_the_severity() {
        let ladder = "version: 1\nescalation:\n  - id: operator\n    name: Operator\n    after: 0s\n  - id: exec\n    name: Executive\n    after: 1h\n    severities: [P0, P9]\n";
        let files = with_file(fixture(), "escalation.yaml", ladder);
        assert_one(
            &errors(&files),
            "escalation.yaml",
            pos(&files, "escalation.yaml", "P9"),
            &["unknown severity `P9`"],
        );
        let ok = load_files(Path::new("rules"), &with_file(fixture(), "escalation.yaml", &ladder.replace("P9", "P2")))
            .unwrap();
        assert_eq!(ok.escalation.len(), 2);
        assert!(ok.escalation[1].applies_to("P2") && !ok.escalation[1].applies_to("P3"));
        assert!(ok.escalation[0].applies_to("P3"), "a level without severities is for all");
        // A second ladder in another file is refused, as any section defined twice.
        let twice = with_file(with_file(fixture(), "a.yaml", ladder), "b.yaml", ladder);
        let errs = errors(&twice);
        assert!(errs.iter().any(|e| e.message.contains("section `escalation` is already defined in")), "{errs:#?}");
    }

    #[test]
    fn a_duplicate_id_is_reported_at_the_second_and_names_the_first() {
        let files = edited("programme.yaml", "id: P2", "id: P0");
        let errs = errors(&files);
        let first = pos(&files, "programme.yaml", "P0");
        let second = pos(&files, "programme.yaml", "P0, name: Single");
        let message = format!("duplicate severity id `P0` (first defined at programme.yaml:{}:{})", first.0, first.1);
        assert_one(&errs, "programme.yaml", second, &[&message]);
    }

    #[test]
    fn a_node_under_two_operators_is_reported_at_the_second_listing() {
        let files = with_file(
            fixture(),
            "roster2.yaml",
            "version: 1\noperators:\n  - {id: bob, name: Bob, tier: tier1, start: 2026-01-01, nodes: [node-001]}\n",
        );
        let errs = errors(&files);
        let at = pos(&files, "roster2.yaml", "node-001");
        assert_one(
            &errs,
            "roster2.yaml",
            at,
            &["node `node-001` is already listed under operator `alice` (roster.yaml:3:"],
        );
    }

    #[test]
    fn missing_sections_are_reported_against_the_directory() {
        let files = vec![("pay.yaml".to_string(), "version: 1\n".to_string())];
        let errs = errors(&files);
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(errs.iter().all(|e| e.file == Path::new("rules") && e.line == 0), "{errs:#?}");
        assert!(errs.iter().any(|e| e.message.contains("missing section `programme`")), "{errs:#?}");
    }

    #[test]
    fn ids_that_name_variables_must_be_identifiers() {
        let files = edited("programme.yaml", "id: P2", "id: P-2");
        assert_one(
            &errors(&files),
            "programme.yaml",
            pos(&files, "programme.yaml", "P-2"),
            &["severity id `P-2` must be"],
        );
        let files = edited("programme.yaml", "name: partner_revenue", "name: 2rev");
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(
            &errs[0],
            "pay.yaml",
            pos(&files, "pay.yaml", "partner_revenue"),
            &["unknown input `partner_revenue`"],
        );
        assert_error(&errs[1], "programme.yaml", pos(&files, "programme.yaml", "2rev"), &["input name `2rev` must be"]);
    }

    #[test]
    fn the_currency_must_be_an_iso_code() {
        let files = edited("programme.yaml", "currency: USD", "currency: usd");
        assert_one(&errors(&files), "programme.yaml", (3, 1), &["`programme.currency` `usd` is not an ISO 4217 code"]);
    }
}
