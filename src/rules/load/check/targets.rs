//! `targets`: fractions between 0 and 1, a range whose top is not below its
//! bottom, a due month that is one. Unknown targets and fields are refused
//! by the parser (with the valid names); the section is defined once
//! (`merge`).

use crate::money::Dec;
use crate::period::Period;
use crate::rules::expr::Pos;
use crate::rules::load::errors::Errors;
use crate::rules::load::merge::{At, Merged};
use rust_decimal::Decimal;
use serde_saphyr::Spanned;

pub(super) fn check_targets(m: &Merged, errs: &mut Errors) {
    let Some(At { file, item: t }) = &m.targets else { return };
    let file = *file;
    if let Some(c) = &t.active_operators {
        if let Some(max) = c.max.as_ref().filter(|max| max.value < c.min.value) {
            let message = format!("`targets.active_operators`: max {} is below min {}", max.value, c.min.value);
            errs.at(file, Pos::of(max), message);
        }
        if let Some(by) = &c.by
            && let Err(e) = Period::month(&by.value, chrono_tz::Tz::UTC)
        {
            errs.at(file, by.pos, format!("`targets.active_operators.by`: {e}"));
        }
    }
    let fractions = [
        ("operator_churn.below", t.operator_churn.as_ref().map(|x| &x.below)),
        ("fleet_uptime.above", t.fleet_uptime.as_ref().map(|x| &x.above)),
        ("partner_sourced.above", t.partner_sourced.as_ref().map(|x| &x.above)),
    ];
    for (field, value) in fractions {
        if let Some(v) = value {
            fraction(file, field, v, errs);
        }
    }
}

fn fraction(file: usize, field: &str, v: &Spanned<Dec>, errs: &mut Errors) {
    if v.value.0 < Decimal::ZERO || v.value.0 > Decimal::ONE {
        let message = format!(
            "`targets.{field}` is {}; a target ratio is a fraction between 0 and 1 (0.995 is 99.5 %)",
            v.value.0
        );
        errs.at(file, Pos::of(v), message);
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::load::load_files;
    use crate::rules::load::test_support::*;
    use rust_decimal::Decimal;
    use std::path::Path;

    const TARGETS: &str = "version: 1\ntargets:\n  active_operators: {min: 3, max: 5, by: 2026-10}\n  operator_churn: {below: 0.10}\n  fleet_uptime: {above: 0.995, description: \"§4\"}\n  partner_sourced: {above: 0.30}\n";

    #[test]
    fn targets_load_when_valid_and_are_optional() {
        let rules = load_files(Path::new("rules"), &with_file(fixture(), "targets.yaml", TARGETS)).unwrap();
        let t = &rules.targets;
        let count = t.active_operators.as_ref().unwrap();
        assert_eq!((count.min.value, count.max.as_ref().unwrap().value), (3, 5));
        assert_eq!(count.by.as_ref().unwrap().value, "2026-10");
        assert_eq!(t.operator_churn.as_ref().unwrap().below.value.0, Decimal::new(10, 2));
        assert_eq!(t.fleet_uptime.as_ref().unwrap().above.value.0, Decimal::new(995, 3));
        assert_eq!(t.fleet_uptime.as_ref().unwrap().description.as_deref(), Some("§4"));
        let none = load_files(Path::new("rules"), &fixture()).unwrap();
        assert!(none.targets.active_operators.is_none() && none.targets.fleet_uptime.is_none());
    }

    #[test]
    fn a_ratio_outside_0_to_1_is_reported_at_the_value() {
        let files = with_file(fixture(), "targets.yaml", &TARGETS.replace("above: 0.995", "above: 99.5"));
        assert_one(
            &errors(&files),
            "targets.yaml",
            pos(&files, "targets.yaml", "99.5"),
            &["`targets.fleet_uptime.above` is 99.5; a target ratio is a fraction between 0 and 1"],
        );
    }

    #[test]
    fn a_range_upside_down_and_a_due_month_that_is_not_one_are_reported_at_them() {
        let files =
            with_file(fixture(), "targets.yaml", &TARGETS.replace("max: 5, by: 2026-10", "max: 2, by: 2026-13"));
        let errs = errors(&files);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_error(&errs[0], "targets.yaml", pos(&files, "targets.yaml", "2, by"), &["max 2 is below min 3"]);
        assert_error(
            &errs[1],
            "targets.yaml",
            pos(&files, "targets.yaml", "2026-13"),
            &["`targets.active_operators.by`: period `2026-13` is not a calendar month"],
        );
    }

    #[test]
    fn an_unknown_target_or_field_is_named_with_the_valid_ones() {
        let files = with_file(fixture(), "targets.yaml", &TARGETS.replace("operator_churn: {below", "churn: {below"));
        assert_one(
            &errors(&files),
            "targets.yaml",
            pos(&files, "targets.yaml", "churn:"),
            &["unknown field `churn`", "operator_churn"],
        );
        let files = with_file(fixture(), "targets.yaml", &TARGETS.replace("{below: 0.10}", "{above: 0.10}"));
        assert_one(
            &errors(&files),
            "targets.yaml",
            pos(&files, "targets.yaml", "above: 0.10"),
            &["unknown field `above`", "below"],
        );
    }

    #[test]
    fn targets_are_defined_once_and_their_text_is_checked() {
        let twice = with_file(with_file(fixture(), "a.yaml", TARGETS), "b.yaml", TARGETS);
        let errs = errors(&twice);
        assert_one(&errs, "b.yaml", (2, 1), &["section `targets` is already defined in a.yaml"]);
        let files = with_file(fixture(), "targets.yaml", &TARGETS.replace("\"§4\"", "\"§4\\u001b[31m\""));
        let errs = errors(&files);
        assert_one(
            &errs,
            "targets.yaml",
            pos(&files, "targets.yaml", "\"§4"),
            &["`targets.fleet_uptime.description` holds a control character (U+001B)"],
        );
    }
}
