//! The shipped rules: `check` passes, the rule tests pass, and a broken copy
//! is reported with file:line:column for every error — through the binary,
//! as a rule author would run it.

use fleet_incentives::local_prometheus::copy_dir;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

#[test]
fn check_accepts_the_shipped_rules_and_every_example() {
    let out = bin().arg("check").arg(rules_dir()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for example in ["v1-programme", "vehicle-fleet", "operator-network", "partner-governance"] {
        assert!(stdout.contains(example), "example {example} not checked:\n{stdout}");
    }
}

#[test]
fn the_rule_tests_pass_examples_included_and_junit_is_written() {
    let junit = std::env::temp_dir().join(format!("fi-junit-{}.xml", std::process::id()));
    let out = bin().arg("test").arg(rules_dir()).arg("--junit").arg(&junit).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rule tests failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuites") && xml.contains("<testcase"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    let _ = std::fs::remove_file(junit);
}

/// Line and column (1-based) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in file"));
    let line = text[..offset].lines().count().max(1);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = if text[..offset].ends_with('\n') { line + 1 } else { line };
    (line, offset - line_start + 1)
}

#[test]
fn a_misspelt_field_and_a_broken_expression_are_both_reported_with_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("fi-broken-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&rules_dir(), &dir).unwrap();
    let _ = std::fs::remove_dir_all(dir.join("examples"));

    // Misspell `resolve_within` in the severities file.
    let sev = dir.join("severities.yaml");
    let text = std::fs::read_to_string(&sev).unwrap().replacen("resolve_within", "resolve_witin", 1);
    std::fs::write(&sev, &text).unwrap();
    let (sev_line, _) = position(&text, "resolve_witin");

    // Break the first `uptime > ` condition in the tiers file.
    let tiers = dir.join("tiers.yaml");
    let text = std::fs::read_to_string(&tiers).unwrap();
    let cond = text.find("when: uptime > ").expect("tiers.yaml has an uptime condition") + "when: ".len();
    let broken = format!("{}uptime >> {}", &text[..cond], &text[cond + "uptime > ".len()..]);
    std::fs::write(&tiers, &broken).unwrap();
    let (tiers_line, _) = position(&broken, "uptime >> ");

    let out = bin().arg("check").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let sev_prefix = format!("{}:{sev_line}:", sev.display());
    let tiers_prefix = format!("{}:{tiers_line}:", tiers.display());
    assert!(
        stdout.lines().any(|l| l.starts_with(&sev_prefix) && l.contains("resolve_witin")),
        "no misspelt-field error at {sev_prefix}:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with(&tiers_prefix) && l.contains("uptime >>")),
        "no expression error at {tiers_prefix}:\n{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
