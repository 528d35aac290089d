//! Bytes → the rules loader, as one rule file: alone, and beside a valid
//! rule set (tests/fixtures/rules-minimal) so that what the file defines
//! meets real references, ids and variables. Any panic, abort, timeout or
//! runaway allocation is a bug; every input must end in `Ok` or a list of
//! `file:line:column` errors.
#![no_main]

use fleet_incentives::rules::load::load_files;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const FIXTURE: [(&str, &str); 3] = [
    ("pay.yaml", include_str!("../../tests/fixtures/rules-minimal/pay.yaml")),
    ("programme.yaml", include_str!("../../tests/fixtures/rules-minimal/programme.yaml")),
    ("roster.yaml", include_str!("../../tests/fixtures/rules-minimal/roster.yaml")),
];

fn load(files: Vec<(String, String)>) {
    match load_files(Path::new("rules"), &files) {
        Ok(rules) => {
            // Weekly windows in odd zones and times: walk one month of them.
            let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().to_utc();
            let end = chrono::DateTime::parse_from_rfc3339("2026-04-01T00:00:00Z").unwrap().to_utc();
            let _ = rules.maintenance_intervals(start, end);
        }
        Err(e) => {
            assert!(!e.0.is_empty(), "an error without a message");
            // Every error names a file of the rule set (or the directory).
            for err in &e.0 {
                assert!(err.file.starts_with("rules"), "{err}");
            }
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Reading refuses bytes that are not UTF-8 (with their position); the
    // in-memory loader takes text.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = ("fuzz.yaml".to_string(), text.to_string());
    load(vec![file.clone()]);
    let mut beside: Vec<(String, String)> = FIXTURE.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    beside.push(file);
    load(beside);
});
