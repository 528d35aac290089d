//! `scores` and `flags`: ids that name variables and clash with no other
//! variable, one way to compute each score, criteria weights that add up
//! to exactly 1, known variables in every expression (with "did you
//! mean"), scales that are ranges, and no cycle among scores, flags and
//! the aggregates of them.

use super::names::{Names, check_expr, check_unique, check_word};
use crate::rules::derived;
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use crate::rules::spec::{AppliesTo, ScoreSpec};
use rust_decimal::Decimal;

pub(super) fn check_scores(m: &Merged, n: &Names, errs: &mut Errors) {
    let ids = m.scores.iter().map(|s| (s.file, &s.item.id)).chain(m.flags.iter().map(|f| (f.file, &f.item.id)));
    check_unique("score or flag id", ids, errs);
    let vars = |to: AppliesTo| if to == AppliesTo::Operator { &n.operator_vars } else { &n.partner_vars };
    // Names taken by other variables (built-in, per class, inputs, aggregates).
    let class_vars: Vec<String> = n.classes.iter().flat_map(|c| crate::rules::vars::class_vars(c)).collect();
    let taken = |id: &str| {
        let others = n.builtin_operator_vars.iter().chain(&n.builtin_partner_vars).chain(&class_vars);
        others.chain(&n.inputs).chain(&n.aggregates).any(|v| v == id)
    };
    for At { file, item: s } in &m.scores {
        check_word(*file, &s.id, "score id", false, errs);
        if taken(&s.id) {
            errs.at(*file, s.id.pos, format!("score `{}` has the name of another variable; rename it", s.id));
        }
        check_score(*file, s, errs);
        for e in s.exprs() {
            check_expr(*file, e, vars(s.applies_to), errs);
        }
    }
    for At { file, item: f } in &m.flags {
        check_word(*file, &f.id, "flag id", false, errs);
        if taken(&f.id) {
            errs.at(*file, f.id.pos, format!("flag `{}` has the name of another variable; rename it", f.id));
        }
        check_expr(*file, &f.when, vars(f.applies_to), errs);
    }
    check_cycles(m, errs);
}

/// One way to compute; criteria with one way each, weights adding up to 1.
fn check_score(file: usize, s: &ScoreSpec, errs: &mut Errors) {
    let scale = s.scale_or_default();
    if scale.min.0 >= scale.max.0 {
        errs.at(
            file,
            s.id.pos,
            format!("score `{}`: scale min {} is not below max {}", s.id, scale.min.0, scale.max.0),
        );
    }
    if s.decimals_or_default() > 12 {
        errs.at(file, s.id.pos, format!("score `{}`: at most 12 decimals", s.id));
    }
    match (&s.formula, s.criteria.is_empty()) {
        (Some(_), false) => {
            errs.at(file, s.id.pos, format!("score `{}` has both `formula` and `criteria`; give one", s.id));
        }
        (None, true) => {
            errs.at(file, s.id.pos, format!("score `{}` needs `formula` or `criteria`", s.id));
        }
        _ => {}
    }
    if s.criteria.is_empty() {
        return;
    }
    check_unique(&format!("criterion id in score `{}`", s.id), s.criteria.iter().map(|c| (file, &c.id)), errs);
    for c in &s.criteria {
        check_word(file, &c.id, "criterion id", false, errs);
        let what = format!("score `{}`, criterion `{}`", s.id, c.id);
        if c.weight.0 < Decimal::ZERO {
            errs.at(file, c.id.pos, format!("{what}: weight {} is negative", c.weight.0));
        }
        match (&c.value, &c.measure, c.target, c.worst) {
            (Some(_), None, None, None) => {}
            (None, Some(_), Some(t), Some(w)) if t != w => {}
            (None, Some(_), Some(_), Some(_)) => {
                errs.at(file, c.id.pos, format!("{what}: `target` and `worst` are equal; nothing to normalise by"));
            }
            _ => errs.at(
                file,
                c.id.pos,
                format!("{what}: give `value` (on the scale), or `measure` with `target` and `worst`"),
            ),
        }
    }
    let sum: Decimal = s.criteria.iter().map(|c| c.weight.0).sum();
    if sum != Decimal::ONE {
        errs.at(
            file,
            s.id.pos,
            format!(
                "score `{}`: the weights of its criteria add up to {}; they must add up to exactly 1 (the score stays on its scale)",
                s.id,
                sum.normalize()
            ),
        );
    }
}

/// A score, flag or aggregate of them that needs itself.
fn check_cycles(m: &Merged, errs: &mut Errors) {
    let scores: Vec<ScoreSpec> = m.scores.iter().map(|s| s.item.clone()).collect();
    let flags: Vec<_> = m.flags.iter().map(|f| f.item.clone()).collect();
    let aggs: Vec<(usize, &str, &str)> = m
        .aggregates
        .iter()
        .enumerate()
        .filter(|(_, a)| derived::applies_to(&scores, &flags, &a.item.of).is_some())
        .map(|(i, a)| (i, a.item.name.value.as_str(), a.item.of.value.as_str()))
        .collect();
    if let Err(cycle) = derived::order(&scores, &flags, &aggs) {
        let first = &cycle[0];
        let at = m
            .scores
            .iter()
            .map(|s| (s.file, &s.item.id))
            .chain(m.flags.iter().map(|f| (f.file, &f.item.id)))
            .chain(m.aggregates.iter().map(|a| (a.file, &a.item.name)))
            .find(|(_, id)| id.value == *first);
        if let Some((file, id)) = at {
            let path: Vec<String> = cycle.iter().map(|c| format!("`{c}`")).collect();
            errs.at(file, id.pos, format!("`{first}` needs itself: {}", path.join(" → ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    const OK: &str = r#"version: 1
scores:
  - id: card
    name: Scorecard
    scale: {min: 0, max: 100}
    criteria:
      - {id: up, name: Uptime, weight: 0.75, measure: uptime, target: 0.999, worst: 0.99}
      - {id: rev, name: Revenue, weight: 0.25, value: "partner_revenue / 100"}
  - {id: half, name: Half, formula: card / 2}
flags:
  - {id: low, name: Low score, when: card < 50 && half_min_2m < 25}
aggregates:
  - {name: half_min_2m, of: half, over: 2 months, how: min}
"#;

    #[test]
    fn scores_flags_and_aggregates_of_them_load_in_the_order_they_need() {
        let files = edited("pay.yaml", "uptime > 0.995", "uptime > 0.995 && !low");
        let rules =
            crate::rules::load::load_files(std::path::Path::new("rules"), &with_file(files, "zz.yaml", OK)).unwrap();
        use crate::rules::derived::Derived::*;
        assert_eq!(rules.derived, vec![Score(0), Score(1), Aggregate(0), Flag(0)]);
        assert_eq!(rules.aggregates[0].of_kind, crate::rules::model::OfKind::Derived);
    }

    #[test]
    fn weights_that_do_not_add_up_to_one_are_reported_at_the_score() {
        let files = with_file(fixture(), "zz.yaml", &OK.replace("weight: 0.25", "weight: 0.2"));
        let at = pos(&files, "zz.yaml", "card");
        assert_one(&errors(&files), "zz.yaml", at, &["the weights of its criteria add up to 0.95", "exactly 1"]);
    }

    #[test]
    fn an_unknown_variable_in_a_criterion_is_named_with_the_nearest() {
        let files = with_file(fixture(), "zz.yaml", &OK.replace("partner_revenue / 100", "partner_revenu / 100"));
        let at = pos(&files, "zz.yaml", "partner_revenu /");
        assert_one(
            &errors(&files),
            "zz.yaml",
            at,
            &["unknown variable `partner_revenu`", "did you mean `partner_revenue`?"],
        );
    }

    #[test]
    fn a_cycle_among_scores_flags_and_their_aggregates_is_reported() {
        let files =
            with_file(fixture(), "zz.yaml", &OK.replace("formula: card / 2", "formula: \"card / 2 + (low ? 1 : 0)\""));
        // evalexpr has no `?:`; use if().
        let files = edit(files, "zz.yaml", "\"card / 2 + (low ? 1 : 0)\"", "\"card / 2 + if(low, 1, 0)\"");
        let at = pos(&files, "zz.yaml", "half,");
        assert_one(&errors(&files), "zz.yaml", at, &["`half` needs itself: `half` → `low` → `half_min_2m` → `half`"]);
    }

    #[test]
    fn a_score_needs_one_way_and_a_criterion_its_measure_target_and_worst() {
        let text = "version: 1\nscores:\n  - {id: a, name: A}\n  - id: b\n    name: B\n    criteria:\n      - {id: c, name: C, weight: 1, measure: uptime, target: 1}\n";
        let errs = errors(&with_file(fixture(), "zz.yaml", text));
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].message.contains("score `a` needs `formula` or `criteria`"), "{}", errs[0]);
        assert!(
            errs[1].message.contains("give `value` (on the scale), or `measure` with `target` and `worst`"),
            "{}",
            errs[1]
        );
    }

    #[test]
    fn a_score_may_not_take_the_name_of_a_variable_nor_a_partner_read_an_operator_score() {
        let text = "version: 1\nscores:\n  - {id: uptime, name: U, formula: \"1\"}\n  - {id: p, name: P, applies_to: partner, formula: \"card2 + referrals\"}\n  - {id: card2, name: C, formula: \"2\"}\n";
        let errs = errors(&with_file(fixture(), "zz.yaml", text));
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].message.contains("score `uptime` has the name of another variable"), "{}", errs[0]);
        assert!(errs[1].message.contains("unknown variable `card2`"), "{}", errs[1]);
    }
}
