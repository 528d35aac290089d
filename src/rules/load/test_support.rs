//! Helpers of the loader's tests: the minimal fixture rule set, edits of it,
//! the errors a load of it gives, and assertions on their place and text.

use super::{LoadError, RuleError, load_files, read_rule_files};
use std::path::Path;

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules-minimal");

pub fn fixture() -> Vec<(String, String)> {
    read_rule_files(Path::new(FIXTURE)).unwrap()
}

/// The fixture with the first `from` in file `name` replaced by `to`.
pub fn edited(name: &str, from: &str, to: &str) -> Vec<(String, String)> {
    edit(fixture(), name, from, to)
}

pub fn edit(mut files: Vec<(String, String)>, name: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let file = files.iter_mut().find(|f| f.0 == name).unwrap();
    assert!(file.1.contains(from), "`{from}` not in {name}");
    file.1 = file.1.replacen(from, to, 1);
    files
}

pub fn with_file(mut files: Vec<(String, String)>, name: &str, text: &str) -> Vec<(String, String)> {
    files.push((name.into(), text.into()));
    files
}

pub fn errors(files: &[(String, String)]) -> Vec<RuleError> {
    match load_files(Path::new("rules"), files) {
        Ok(_) => panic!("rules loaded without errors"),
        Err(LoadError(list)) => list,
    }
}

/// 1-based (line, column) of the first `needle` in file `name`.
pub fn pos(files: &[(String, String)], name: &str, needle: &str) -> (u64, u64) {
    let text = &files.iter().find(|f| f.0 == name).unwrap().1;
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in {name}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let column = (offset - before.rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
    (line, column)
}

/// The one error, checked to be in `name` at `at`, whose message contains every part.
pub fn assert_one(errs: &[RuleError], name: &str, at: (u64, u64), parts: &[&str]) {
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_error(&errs[0], name, at, parts);
}

pub fn assert_error(e: &RuleError, name: &str, at: (u64, u64), parts: &[&str]) {
    assert_eq!(e.file, Path::new("rules").join(name), "{e}");
    assert_eq!((e.line, e.column), at, "{e}");
    for part in parts {
        assert!(e.message.contains(part), "`{part}` not in: {e}");
    }
}

/// Every line kind, a partner tier, promotions and a one-off window, all valid.
pub const EVERY_KIND: &str = r#"version: 1
maintenance:
  - {name: move, from: "2026-05-06T22:00:00Z", to: "2026-05-07T01:00:00+01:00"}
  - {name: change, weekday: wed, at: "22:00", duration: 1h, time_zone: Europe/Berlin}
missing_data: {min_coverage: 0.8, policy: evaluate}
tiers:
  - id: tier2
    name: Senior
    lines:
      - {id: base, name: Base, kind: per_node, amount: 800}
      - {id: mentoring, name: Mentoring, kind: per_unit, amount: 150, quantity: mentees}
      - {id: steps, name: Steps, kind: steps, amount: 200, over: uptime * 100, above: 99.5, step: 0.1, max_steps: 5}
      - {id: rating, name: Rating, kind: multiplier, factor: "min(1.25, 1 + partner_revenue / 1000)", of: {lines: [base]}}
      - {id: sla, name: SLA, kind: band, by: uptime, of: {lines: [base, steps]}, bands: [{to: 0.99, percent: -10}, {from: 0.99, amount: 0}]}
      - {id: churn, name: Churn, kind: fixed, amount: -250, when: "terminated && tenure_months <= 6 && incidents_P2 == 0"}
partner_tiers:
  - id: gold
    name: Gold partner
    lines:
      - {id: referral, name: Referral, kind: fixed, amount: 250, per_referral: true, when: "referrals >= 3 && uptime > 0.99"}
      - {id: share, name: Share, kind: percent, percent: 1, of: {input: partner_revenue}, ratio: retention}
partners:
  - {id: acme, name: Acme, tier: gold, start: 2026-01-01}
operators:
  - {id: bob, name: Bob, tier: tier2, start: 2025-01-01, region: eu, mentees: [alice], referred_by: acme}
promotions:
  - from: tier1
    to: tier2
    checks:
      - {name: tenure, when: "tenure_months >= 6"}
      - {name: majors, when: "major_incidents == 0"}
"#;
