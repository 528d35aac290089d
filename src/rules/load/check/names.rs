//! Names: what references may point at and expressions may read
//! ([`Names`]), and resolving a name against them, with "did you mean" for
//! an unknown one.

use crate::rules::expr::{Expr, Pos, Text};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::{AppliesTo, InputUnit};
use crate::rules::vars;
use std::collections::HashMap;

/// The names references may point at and expressions may read.
pub(super) struct Names {
    pub(super) severities: Vec<String>,
    /// Ids of `incident_classes`.
    pub(super) classes: Vec<String>,
    pub(super) tiers: Vec<String>,
    pub(super) partner_tiers: Vec<String>,
    pub(super) operators: Vec<String>,
    pub(super) partners: Vec<String>,
    pub(super) inputs: Vec<String>,
    pub(super) money_inputs: Vec<String>,
    pub(super) aggregates: Vec<String>,
    /// Ids of `scores` and `flags`.
    pub(super) derived: Vec<String>,
    /// Operator variables the engine sets itself (not inputs, not aggregates).
    pub(super) builtin_operator_vars: Vec<String>,
    /// Partner variables the engine sets itself.
    pub(super) builtin_partner_vars: Vec<String>,
    pub(super) incident_vars: Vec<String>,
    pub(super) operator_vars: Vec<String>,
    pub(super) partner_vars: Vec<String>,
    pub(super) referral_vars: Vec<String>,
}

fn ids<T>(v: &[At<T>], id: impl Fn(&T) -> &Text) -> Vec<String> {
    v.iter().map(|a| id(&a.item).value.clone()).collect()
}

fn var_names(list: &[(&str, &str)]) -> impl Iterator<Item = String> {
    list.iter().map(|(n, _)| n.to_string())
}

impl Names {
    pub(super) fn new(m: &Merged) -> Names {
        let inputs = ids(&m.inputs, |i| &i.name);
        let money_inputs =
            m.inputs.iter().filter(|i| i.item.unit == InputUnit::Money).map(|i| i.item.name.value.clone()).collect();
        // `incidents_P0` in the table stands for one variable per severity id.
        let per_severity = m.severities.iter().map(|s| format!("incidents_{}", s.item.id));
        let builtin_operator_vars: Vec<String> =
            var_names(vars::OPERATOR).filter(|n| n != "incidents_P0").chain(per_severity).collect();
        let builtin_partner_vars: Vec<String> = var_names(vars::PARTNER).collect();
        let aggregates = ids(&m.aggregates, |a| &a.name);
        // Scores and flags are variables of the payees they apply to.
        let whose = |name: &str| {
            m.scores
                .iter()
                .find(|s| s.item.id.value == name)
                .map(|s| s.item.applies_to)
                .or_else(|| m.flags.iter().find(|f| f.item.id.value == name).map(|f| f.item.applies_to))
        };
        let derived_of = |to: AppliesTo| -> Vec<String> {
            let s = m.scores.iter().filter(|s| s.item.applies_to == to).map(|s| s.item.id.value.clone());
            s.chain(m.flags.iter().filter(|f| f.item.applies_to == to).map(|f| f.item.id.value.clone())).collect()
        };
        // An aggregate is a variable of whoever has the variable it reads
        // (an input: operators and partners alike).
        let of = |mine: &[String], theirs: &[String], to: AppliesTo| -> Vec<String> {
            m.aggregates
                .iter()
                .filter(|a| {
                    let of = &a.item.of.value;
                    match whose(of) {
                        Some(w) => w == to,
                        None => mine.contains(of) || !theirs.contains(of),
                    }
                })
                .map(|a| a.item.name.value.clone())
                .collect()
        };
        let operator_aggregates = of(&builtin_operator_vars, &builtin_partner_vars, AppliesTo::Operator);
        let partner_aggregates = of(&builtin_partner_vars, &builtin_operator_vars, AppliesTo::Partner);
        // The per-class variables are read like built-in ones, but not aggregated.
        let classes = ids(&m.incident_classes, |c| &c.id);
        let class_vars: Vec<String> = classes.iter().flat_map(|c| vars::class_vars(c)).collect();
        let operator_vars: Vec<String> = builtin_operator_vars
            .iter()
            .chain(&class_vars)
            .chain(&inputs)
            .chain(&operator_aggregates)
            .cloned()
            .collect();
        let partner_vars: Vec<String> =
            builtin_partner_vars.iter().chain(&inputs).chain(&partner_aggregates).cloned().collect();
        // `per_referral` lines do not read scores and flags (nor aggregates of them).
        let derived: Vec<String> = ids(&m.scores, |s| &s.id).into_iter().chain(ids(&m.flags, |f| &f.id)).collect();
        let of_derived = |v: &String| {
            derived.contains(v) || m.aggregates.iter().any(|a| a.item.name.value == *v && whose(&a.item.of).is_some())
        };
        let mut referral_vars: Vec<String> =
            partner_vars.iter().chain(&operator_vars).filter(|v| !of_derived(v)).cloned().collect();
        referral_vars.sort();
        referral_vars.dedup();
        let operator_vars: Vec<String> = operator_vars.into_iter().chain(derived_of(AppliesTo::Operator)).collect();
        let partner_vars: Vec<String> = partner_vars.into_iter().chain(derived_of(AppliesTo::Partner)).collect();
        Names {
            severities: ids(&m.severities, |s| &s.id),
            classes,
            tiers: ids(&m.tiers, |t| &t.id),
            partner_tiers: ids(&m.partner_tiers, |t| &t.id),
            operators: ids(&m.operators, |o| &o.id),
            partners: ids(&m.partners, |p| &p.id),
            inputs,
            money_inputs,
            aggregates,
            derived,
            builtin_operator_vars,
            builtin_partner_vars,
            incident_vars: var_names(vars::INCIDENT).collect(),
            operator_vars,
            partner_vars,
            referral_vars,
        }
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// "did you mean `x`?" for a close name, else the nearest valid names;
/// spends `budget` (edit-distance cells), and gives none when it is spent.
pub(super) fn suggestion(name: &str, valid: &[String], budget: &mut u64) -> String {
    if valid.is_empty() {
        return "none is defined".into();
    }
    let cells: u64 = valid.iter().map(|v| (name.len() as u64 + 1) * (v.len() as u64 + 1)).sum();
    if cells > *budget {
        return format!("{} names are defined (too many unknown names to suggest one)", valid.len());
    }
    *budget -= cells;
    let mut by_distance: Vec<(usize, &String)> = valid.iter().map(|v| (edit_distance(name, v), v)).collect();
    by_distance.sort();
    let (best_distance, best) = by_distance[0];
    if best_distance <= (name.chars().count() / 3).max(2) {
        format!("did you mean `{best}`?")
    } else {
        let nearest: Vec<String> = by_distance.iter().take(5).map(|(_, v)| format!("`{v}`")).collect();
        format!("valid names include {}", nearest.join(", "))
    }
}

/// Check that `name` is one of `valid`.
pub(super) fn resolve(file: usize, name: &Text, kind: &str, valid: &[String], errs: &mut Errors) {
    if !errs.partial && !valid.contains(&name.value) && !errs.full() {
        let hint = suggestion(name, valid, &mut errs.suggestions);
        errs.at(file, name.pos, format!("unknown {kind} `{name}`; {hint}"));
    }
}

/// Compile errors and unknown variables of one expression.
pub(super) fn check_expr(file: usize, e: &Expr, valid: &[String], errs: &mut Errors) {
    if let Some(message) = e.error() {
        errs.at(file, e.pos, message);
        return;
    }
    if errs.partial {
        return;
    }
    for v in e.unknown_variables(&|v| valid.iter().any(|x| x == v)) {
        if errs.full() {
            continue;
        }
        let pos = errs.locate(file, e.pos, &v);
        let hint = suggestion(&v, valid, &mut errs.suggestions);
        errs.at(file, pos, format!("unknown variable `{v}` in `{}`; {hint}", e.source));
    }
}

/// Names that become parts of expression variables must be identifiers.
pub(super) fn check_word(file: usize, name: &Text, what: &str, leading_digit: bool, errs: &mut Errors) {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok_first = name.chars().next().is_some_and(|c| leading_digit || !c.is_ascii_digit());
    if !ok_first || !name.chars().all(ok_char) {
        errs.at(file, name.pos, format!("{what} `{name}` must be letters, digits and `_` (it names a variable)"));
    }
}

/// Report every id defined twice among `ids`.
pub(super) fn check_unique<'a>(kind: &str, ids: impl IntoIterator<Item = (usize, &'a Text)>, errs: &mut Errors) {
    let mut seen: HashMap<&str, (usize, Pos)> = HashMap::new();
    for (file, id) in ids {
        if let Some((f0, p0)) = seen.get(id.value.as_str()) {
            let message = format!("duplicate {kind} `{id}` (first defined at {}:{p0})", errs.file_name(*f0));
            errs.at(file, id.pos, message);
        } else {
            seen.insert(&id.value, (file, id.pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    #[test]
    fn a_broken_expression_is_reported_at_the_expression() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptime >> 0.995");
        let errs = errors(&files);
        assert_one(
            &errs,
            "pay.yaml",
            pos(&files, "pay.yaml", "\"uptime >>"),
            &["invalid expression `uptime >> 0.995`"],
        );
    }

    #[test]
    fn an_unknown_variable_is_named_and_the_nearest_valid_name_suggested() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptme > 0.995");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "uptme");
        assert_one(&errs, "pay.yaml", at, &["unknown variable `uptme`", "did you mean `uptime`?"]);
    }

    #[test]
    fn known_of_anything_but_a_variable_is_reported_at_the_expression() {
        let files = edited("pay.yaml", "uptime > 0.995", "known(1 + uptime)");
        let errs = errors(&files);
        assert_one(
            &errs,
            "pay.yaml",
            pos(&files, "pay.yaml", "\"known(1"),
            &[
                "invalid expression `known(1 + uptime)`: `known` takes one variable name, as in `known(avg_response_seconds)`",
            ],
        );
        let files = edited("pay.yaml", "uptime > 0.995", "known(nosuchvar) || uptime > 0.995");
        let errs = errors(&files);
        let at = pos(&files, "pay.yaml", "nosuchvar");
        assert_one(&errs, "pay.yaml", at, &["unknown variable `nosuchvar` in `known(nosuchvar) || uptime > 0.995`"]);
    }

    #[test]
    fn a_dangling_tier_reference_is_reported_with_the_nearest_tier() {
        let files = edited("roster.yaml", "tier: tier1", "tier: tier2");
        let errs = errors(&files);
        assert_one(
            &errs,
            "roster.yaml",
            pos(&files, "roster.yaml", "tier2"),
            &["unknown tier `tier2`; did you mean `tier1`?"],
        );
    }

    #[test]
    fn an_unknown_variable_in_a_block_scalar_points_at_the_expression() {
        let text = "version: 1\npromotions:\n  - from: tier1\n    to: tier1x\n    checks:\n      - name: long\n        when: >-\n          tenure_months >= 6 &&\n          uptim > 0.995\n";
        let files = with_file(fixture(), "zz.yaml", text);
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "zz.yaml", pos(&files, "zz.yaml", "tier1x"), &["unknown tier `tier1x`"]);
        assert_error(
            &errs[1],
            "zz.yaml",
            pos(&files, "zz.yaml", "tenure_months"),
            &["unknown variable `uptim`", "`uptime`"],
        );
    }

    /// Regression: 1,000 unknown long names against 6,000 long ids spent
    /// six minutes (unoptimised) in "did you mean" edit distances.
    #[test]
    fn suggestions_stop_when_their_budget_is_spent() {
        let id = |i: usize| format!("operator-with-a-rather-long-identifier-{i:06}");
        let mut text = String::from("version: 1\noperators:\n");
        for i in 0..3000 {
            text += &format!("  - {{id: {}, name: O, tier: tier1, start: 2026-01-01}}\n", id(i));
        }
        let unknown: Vec<String> = (0..10).map(|i| id(i).replace("operator", "operatr")).collect();
        text +=
            &format!("  - {{id: zed, name: Z, tier: tier1, start: 2026-01-01, mentees: [{}]}}\n", unknown.join(", "));
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_eq!(errs.len(), 10, "{errs:#?}");
        let did_you_mean = format!("did you mean `{}`?", id(0));
        assert!(errs[0].message.ends_with(&did_you_mean), "{}", errs[0]);
        assert!(
            errs[9].message.ends_with("3002 names are defined (too many unknown names to suggest one)"),
            "{}",
            errs[9]
        );
    }
}
