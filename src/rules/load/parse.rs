//! YAML to [`RuleFile`]: the parser's limits, its errors worded for rule
//! authors at their line and column, and where a top-level key is written.

use super::errors::Errors;
use super::files::{MAX_FILE_BYTES, too_large};
use crate::rules::expr::Pos;
use crate::rules::spec::RuleFile;
use serde_saphyr::MessageFormatter;

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_recorded_anchor_events = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// File `i` of `errs` parsed; None after reporting why it is not.
pub(super) fn parse_file(i: usize, errs: &mut Errors) -> Option<(usize, RuleFile)> {
    let text = errs.text(i);
    if text.len() > MAX_FILE_BYTES {
        errs.at(i, Pos { line: 1, column: 1 }, too_large(text.len() as u64));
        errs.partial = true;
        return None;
    }
    if is_blank(text) {
        errs.at(i, Pos { line: 1, column: 1 }, "empty rule file; a rule file starts with `version: 1`");
        return None;
    }
    match serde_saphyr::from_str_with_options::<RuleFile>(text, yaml_options()) {
        Ok(file) => Some((i, file)),
        Err(e) => {
            let pos = e.location().map_or(Pos { line: 1, column: 1 }, |l| Pos { line: l.line(), column: l.column() });
            // The user-facing wording: the default one gives API advice
            // ("use from_str_multiple", "set DuplicateKeyPolicy in Options").
            let message: String = serde_saphyr::UserMessageFormatter
                .format_message(e.without_snippet())
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let message = if message.starts_with("YAML document too large or too complex") {
                format!("rule file refused, too many aliases or events ({message})")
            } else {
                message
            };
            errs.at(i, pos, message);
            errs.partial = true;
            None
        }
    }
}

/// Nothing but blank lines and comments.
fn is_blank(text: &str) -> bool {
    text.lines().map(str::trim).all(|l| l.is_empty() || l.starts_with('#'))
}

/// Position of a top-level `key:` in a file (for sections, which carry no
/// position of their own); line 1 if not found.
pub(super) fn key_pos(text: &str, key: &str) -> Pos {
    let line = text
        .lines()
        .position(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
        .map_or(1, |i| i as u64 + 1);
    Pos { line, column: 1 }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use std::path::Path;

    #[test]
    fn a_misspelt_field_is_reported_at_the_field_with_the_valid_names() {
        let files = edited("pay.yaml", "amount: 500", "amout: 500");
        let errs = errors(&files);
        assert_one(&errs, "pay.yaml", pos(&files, "pay.yaml", "amout"), &["unknown field `amout`", "expected one of"]);
        assert!(errs[0].message.contains(" amount,"), "{}", errs[0]);
    }

    #[test]
    fn a_yaml_error_in_one_file_does_not_cause_missing_section_errors() {
        let files = edited("programme.yaml", "version: 1", "version: 1\n  bad: [");
        let errs = errors(&files);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].file, Path::new("rules/programme.yaml"));
    }

    #[test]
    fn an_empty_file_is_an_error_not_a_parser_message() {
        let files = with_file(fixture(), "zz.yaml", "# nothing yet\n");
        assert_one(&errors(&files), "zz.yaml", (1, 1), &["empty rule file"]);
    }

    #[test]
    fn aliases_beyond_the_budget_are_refused() {
        let mut text = String::from(
            "version: 1\noperators:\n  - {id: o0, name: n, tier: tier1, start: 2026-01-01, mentees: &m [o0]}\n",
        );
        for i in 1..1100 {
            text += &format!("  - {{id: o{i}, name: n, tier: tier1, start: 2026-01-01, mentees: *m}}\n");
        }
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].message.contains("too many aliases or events"), "{}", errs[0]);
        assert!(errs[0].message.contains("Aliases"), "{}", errs[0]);
    }

    /// Regression: the parser's messages named its API to rule authors.
    #[test]
    fn yaml_errors_are_worded_for_rule_authors() {
        let files = edited("roster.yaml", "name: Alice,", "name: Alice, name: Alicia,");
        let at = pos(&files, "roster.yaml", "name: Alicia");
        assert_one(&errors(&files), "roster.yaml", at, &["duplicate mapping key `name` is not allowed here"]);
        let files = with_file(fixture(), "zz.yaml", "version: 1\n---\nversion: 1\n");
        assert_one(&errors(&files), "zz.yaml", (3, 1), &["only single YAML document expected but multiple found"]);
        let files = edited("roster.yaml", "start: 2026-01-15", "start: 2026-01-15, end: yes");
        let errs = errors(&files);
        assert!(errs.iter().all(|e| !e.message.contains("Options") && !e.message.contains("from_str")), "{errs:#?}");
    }

    #[test]
    fn a_huge_file_is_refused_before_parsing() {
        let text = format!("version: 1\n# {}\n", "x".repeat(MAX_FILE_BYTES));
        let errs = errors(&with_file(fixture(), "zz.yaml", &text));
        assert_one(&errs, "zz.yaml", (1, 1), &["rule files are limited to 1048576"]);
        // What a refused file defines is unknown: no missing-section errors.
        assert_one(&errors(&[("zz.yaml".into(), text)]), "zz.yaml", (1, 1), &["rule files are limited"]);
    }
}
