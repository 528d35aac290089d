//! Loading and validating a rules directory.
//!
//! [`load_dir`] reads every `*.yaml`/`*.yml` at the top of a directory (sorted
//! by name), parses each into a [`RuleFile`](crate::rules::spec::RuleFile),
//! merges them, validates the result and returns either the [`Rules`] or
//! *every* error found, each with file:line:column. [`check_tree`] does the
//! same for every rule set below a directory (the offline `check` command).
//! [`from_yaml_unchecked`] builds rules from one file without validating them.
//!
//! The stages, each in its own file and each using only those before it:
//! `errors` (what is reported, and the collector), `files` (reading and
//! hashing), `parse` (YAML, positions), `merge` (files into one set of
//! sections), `maintenance` (time zones, maintenance windows), `build` (the
//! [`Rules`]) and `check` (validation and "did you mean" suggestions).

mod build;
mod check;
mod errors;
mod files;
mod maintenance;
mod merge;
mod parse;
#[cfg(test)]
mod test_support;

use super::model::Rules;
use errors::Errors;
use std::path::{Path, PathBuf};

pub use errors::{DirError, LoadError, RuleError};
pub use files::read_rule_files;

/// Read, merge and validate every `*.yaml` at the top of `dir`.
pub fn load_dir(dir: &Path) -> Result<Rules, LoadError> {
    let files = read_rule_files(dir).map_err(|e| LoadError(vec![e]))?;
    load_files(dir, &files)
}

/// Merge and validate rule files already read, `(name, content)`, as if
/// read from `dir`: the files an evidence file keeps (`close`, `replay`) and
/// rule sets written by tests.
pub fn load_files(dir: &Path, files: &[(String, String)]) -> Result<Rules, LoadError> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errs = Errors::new(dir, &files);
    if files.is_empty() {
        errs.whole("no rule files (*.yaml, *.yml) in this directory");
        return errs.finish(None);
    }
    let parsed: Vec<_> = (0..files.len()).filter_map(|i| parse::parse_file(i, &mut errs)).collect();
    let merged = merge::merge(parsed, &mut errs);
    check::check(&merged, &mut errs);
    let rules = build::build(merged, &mut errs);
    let rules = errs.finish(rules)?;
    Ok(Rules { sha256: files::sha256(&files), ..rules })
}

/// Rules from the YAML of one rule file, parsed but NOT validated: for tests
/// that need rules the loader refuses (a bad selector, unbalanced PromQL, an
/// unknown variable) or that leave out sections (no `programme` stands for
/// `name: test`, no `source` for `up: up`). What it cannot build from is an
/// error at its line and column of `rules.yaml`: YAML that is not a rule
/// file, a bad time zone or maintenance window, `min_coverage` out of range.
/// The rules' `dir` is empty and their `sha256` that of `rules.yaml`.
pub fn from_yaml_unchecked(yaml: &str) -> Result<Rules, LoadError> {
    let files = [("rules.yaml".to_string(), yaml.to_string())];
    let mut errs = Errors::new(Path::new(""), &files);
    let parsed = parse::parse_file(0, &mut errs).map(|(i, mut file)| {
        file.programme.get_or_insert_with(|| serde_saphyr::from_str("name: test").expect("default programme"));
        file.source.get_or_insert_with(|| serde_saphyr::from_str("up: up").expect("default source"));
        (i, file)
    });
    let merged = merge::merge(parsed.into_iter().collect(), &mut errs);
    let rules = build::build(merged, &mut errs);
    let rules = errs.finish(rules)?;
    Ok(Rules { sha256: files::sha256(&files), ..rules })
}

/// Notes on the rule set in `dir` that are not errors: each input `serve`
/// reads over the whole month at every refresh, at its query. Empty if the
/// files cannot be read.
pub fn notes(dir: &Path) -> Vec<RuleError> {
    let Ok(mut files) = read_rule_files(dir) else { return vec![] };
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errs = Errors::new(dir, &files);
    let parsed: Vec<_> = (0..files.len()).filter_map(|i| parse::parse_file(i, &mut errs)).collect();
    let merged = merge::merge(parsed, &mut errs);
    let mut notes = Errors::new(dir, &files);
    check::note_whole_inputs(&merged, &mut notes);
    notes.finish(None::<()>).map_or_else(|e| e.0, |()| vec![])
}

/// Every rule set under `root`: `root` itself and each subdirectory
/// (recursively, skipping `tests` and hidden directories) with YAML files at
/// its top, sorted by path. Empty if there is none.
pub fn check_tree(root: &Path) -> Vec<(PathBuf, Result<Rules, LoadError>)> {
    files::rule_dirs(root)
        .into_iter()
        .map(|d| {
            let r = load_dir(&d);
            (d, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::rules::model::Maintenance;
    use chrono::Weekday;

    #[test]
    fn a_directory_without_rule_files_is_one_error() {
        let errs = errors(&[]);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!((errs[0].file.as_path(), errs[0].line), (Path::new("rules"), 0));
        assert!(errs[0].message.contains("no rule files"));
    }

    #[test]
    fn inputs_read_whole_every_refresh_are_noted_at_their_query() {
        let root = std::env::temp_dir().join(format!("fi-notes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let more = "version: 1\ninputs:\n  - {name: sales, query: 'sum by (operator) (sum_over_time(sales_minute[$__range]))'}\n  - {name: customers, query: 'max by (operator) (customers)'}\n  - {name: calls, query: 'sum by (operator) (rate(calls_total[$__range]))'}\n";
        for (name, text) in with_file(fixture(), "more.yaml", more) {
            std::fs::write(root.join(&name), text).unwrap();
        }
        assert!(load_dir(&root).is_ok());
        let got: Vec<String> = notes(&root).iter().map(|n| n.to_string()).collect();
        let at = |file: &str, line| format!("{}:{line}:", root.join(file).display());
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with(&at("more.yaml", 5)) && got[0].contains("input `calls` is re-read over the whole month")
        );
        assert!(got[1].starts_with(&at("programme.yaml", 11)) && got[1].contains("input `partner_revenue`"));
        assert!(got.iter().all(|n| n.contains(": note: ")), "{got:#?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn check_tree_of_a_directory_without_rules_is_empty() {
        assert!(check_tree(&Path::new(FIXTURE).join("no-such-dir")).is_empty());
    }

    #[test]
    fn check_tree_finds_every_rule_set_but_not_the_rule_tests() {
        let root = std::env::temp_dir().join(format!("fi-check-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let example = root.join("examples").join("one");
        std::fs::create_dir_all(&example).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        for (name, text) in fixture() {
            std::fs::write(root.join(&name), &text).unwrap();
            std::fs::write(example.join(&name), text.replace("tier: tier1", "tier: tier9")).unwrap();
        }
        std::fs::write(root.join("tests").join("a.yaml"), "not: rules\n").unwrap();
        let got = check_tree(&root);
        let dirs: Vec<&PathBuf> = got.iter().map(|(d, _)| d).collect();
        assert_eq!(dirs, vec![&root, &example]);
        assert!(got[0].1.is_ok());
        let errs = &got[1].1.as_ref().unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].file, example.join("roster.yaml"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn unchecked_rules_keep_what_the_loader_refuses_and_default_what_is_left_out() {
        let yaml = "version: 1\nsource: {up: 'sum(up'}\nmaintenance:\n  - {name: w, weekday: sun, at: \"02:00\", duration: 2h, time_zone: Europe/Berlin}\n";
        assert!(load_files(Path::new("rules"), &[("rules.yaml".into(), yaml.into())]).is_err());
        let rules = from_yaml_unchecked(yaml).unwrap();
        assert_eq!(rules.source.up.value, "sum(up");
        assert_eq!(rules.programme.name, "test");
        assert!(rules.tiers.is_empty() && rules.severities.is_empty());
        assert_eq!(rules.missing_data.policy, crate::rules::spec::MissingDataPolicy::Withhold);
        assert!(matches!(
            rules.maintenance[0],
            Maintenance::Weekly { weekday: Weekday::Sun, time_zone: chrono_tz::Tz::Europe__Berlin, .. }
        ));
        assert_eq!(from_yaml_unchecked("version: 1\n").unwrap().source.up.value, "up");
    }

    #[test]
    fn unchecked_rules_report_what_they_cannot_be_built_from_at_its_place() {
        let yaml = "version: 1\nmaintenance:\n  - {name: w, weekday: sundy, at: \"02:00\", duration: 2h}\n";
        let err = from_yaml_unchecked(yaml).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 error(s) in rules:\nrules.yaml:3:24: unknown weekday `sundy`; use `monday` … `sunday` or `mon` … `sun`"
        );
        let err = from_yaml_unchecked("version: 1\nbogus: 1\n").unwrap_err();
        assert!(err.to_string().contains("\nrules.yaml:2:1: unknown field `bogus`"), "{err}");
    }
}
