//! `opening_figures`: months before the first close, given by hand. Each
//! month once; its payees on the roster; their tiers, variables and pay
//! lines ones the rules define (a misspelt variable would otherwise read as
//! "closed without it" months later). Months that are not one and negative
//! seconds are reported where they are built (`build`).

use super::names::{Names, resolve};
use crate::history::figures::PayeeFigures;
use crate::rules::expr::{Pos, Text};
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use std::collections::{BTreeMap, HashMap};

/// What one kind of payee's figures may name.
struct Known<'a> {
    kind: &'a str,
    ids: &'a [String],
    tiers: &'a [String],
    vars: &'a [String],
    lines: Vec<String>,
}

pub(super) fn check_opening(m: &Merged, n: &Names, errs: &mut Errors) {
    let lines = |tiers: &[At<crate::rules::spec::TierSpec>]| -> Vec<String> {
        let mut v: Vec<String> = tiers.iter().flat_map(|t| t.item.lines.iter().map(|l| l.id.value.clone())).collect();
        v.sort();
        v.dedup();
        v
    };
    let operators =
        Known { kind: "operator", ids: &n.operators, tiers: &n.tiers, vars: &n.operator_vars, lines: lines(&m.tiers) };
    let partners = Known {
        kind: "partner",
        ids: &n.partners,
        tiers: &n.partner_tiers,
        vars: &n.partner_vars,
        lines: lines(&m.partner_tiers),
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for At { file, item } in &m.opening_figures {
        let pos = Pos::of(&item.period);
        if let Some(first) = seen.insert(&item.period.value, *file) {
            let message = format!(
                "opening figures for {} are given twice (also in {})",
                item.period.value,
                errs.file_name(first)
            );
            errs.at(*file, pos, message);
        }
        check_payees(*file, pos, &item.operators, &operators, errs);
        check_payees(*file, pos, &item.partners, &partners, errs);
    }
}

fn check_payees(file: usize, from: Pos, payees: &BTreeMap<String, PayeeFigures>, k: &Known, errs: &mut Errors) {
    for (id, f) in payees {
        let mut named = vec![(id, k.kind.to_string(), k.ids)];
        if !f.tier.is_empty() {
            named.push((&f.tier, format!("{} tier", k.kind), k.tiers));
        }
        named.extend(f.variables.keys().map(|v| (v, format!("{} variable", k.kind), k.vars)));
        named.extend(f.lines.keys().map(|l| (l, format!("{} pay line", k.kind), &k.lines[..])));
        for (word, what, valid) in named {
            if !valid.contains(word) {
                let name = Text { value: word.clone(), pos: place(errs, file, from, word) };
                resolve(file, &name, &what, valid, errs);
            }
        }
    }
}

/// Where `word` is first written as a name at or after `from` (a month's
/// figures follow its `period`), else `from`.
fn place(errs: &mut Errors, file: usize, from: Pos, word: &str) -> Pos {
    let text = errs.text(file);
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    for (i, line) in text.lines().enumerate().skip(from.line.saturating_sub(1) as usize) {
        let found = line
            .match_indices(word)
            .any(|(at, _)| !line[..at].ends_with(is_ident) && !line[at + word.len()..].starts_with(is_ident));
        if found {
            return errs.locate(file, Pos { line: i as u64 + 1, column: 1 }, word);
        }
    }
    from
}

#[cfg(test)]
mod tests {
    use crate::rules::load::test_support::*;

    const OPENING: &str = "version: 1\nopening_figures:\n  - period: 2026-05\n    operators:\n      alice: {tier: tier1, up_seconds: 100, variables: {incidents: 0}, lines: {base: 100}}\n";

    #[test]
    fn opening_figures_load_as_months_before_the_first_close() {
        let files = with_file(fixture(), "opening.yaml", OPENING);
        let rules = crate::rules::load::load_files(std::path::Path::new("rules"), &files).unwrap();
        let may = &rules.opening.months["2026-05"];
        assert_eq!(may.statement_sha256, "opening figures in opening.yaml");
        assert_eq!(may.operators["alice"].total, rust_decimal::Decimal::from(100));
    }

    #[test]
    fn a_misspelt_name_in_the_opening_figures_is_reported_where_it_is_written() {
        let text = OPENING.replace("incidents: 0", "incidnets: 0").replace("alice:", "alise:");
        let files = with_file(fixture(), "opening.yaml", &text);
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        let at = pos(&files, "opening.yaml", "alise");
        assert_one(&errs[..1], "opening.yaml", at, &["unknown operator `alise`; did you mean `alice`?"]);
        let at = pos(&files, "opening.yaml", "incidnets");
        assert_one(
            &errs[1..],
            "opening.yaml",
            at,
            &["unknown operator variable `incidnets`; did you mean `incidents`?"],
        );
    }

    #[test]
    fn a_month_twice_a_month_that_is_not_one_and_negative_seconds_are_reported() {
        let text = format!(
            "{OPENING}  - period: 2026-05\n  - period: 2026-13\n  - period: 2026-04\n    operators:\n      alice: {{down_seconds: -5}}\n"
        );
        let errs = errors(&with_file(fixture(), "opening.yaml", &text));
        let messages: Vec<String> = errs.iter().map(|e| format!("{}:{} {}", e.line, e.column, e.message)).collect();
        assert!(messages.iter().any(|m| m.starts_with("6:") && m.contains("2026-05 are given twice")), "{messages:#?}");
        assert!(messages.iter().any(|m| m.starts_with("7:") && m.contains("`2026-13`")), "{messages:#?}");
        assert!(
            messages.iter().any(|m| m.starts_with("8:") && m.contains("alice: seconds cannot be negative")),
            "{messages:#?}"
        );
    }
}
