//! `fleet-incentives test [DIR]`: rule unit tests kept beside the rules,
//! like `promtool test rules`.
//!
//! Test files are `DIR/tests/*.yaml` and `tests/*.yaml` of every rule set
//! below `DIR` (e.g. `rules/examples/*/tests/`). Each file names the rules it
//! tests (`rule_files_dir`, default the parent of `tests/`) and holds tests:
//! a period, raw input series in promtool notation, input values,
//! acknowledgements, and the expected incidents, severities, statements and
//! availability. Only what a test lists is compared (the incident list, when
//! given, is compared whole). See [`file`] for every field.
//!
//! Input series become facts through [`crate::source::samples::node_facts`],
//! the same slot model the Prometheus source uses, so a test counts time
//! exactly as production does; the evaluation is [`crate::engine::evaluate`].
//!
//! - [`file`]: the test file format (serde, unknown fields rejected).
//! - [`series`]: the series selector and the promtool value notation.
//! - [`input`]: a test case → facts.
//! - [`compare`]: expectations vs the evaluation, one sentence per mismatch.
//! - `classes`: series that feed the rules' incident sources, acknowledgements
//!   by node or incident, and the expected class incidents and classes.
//! - `scores`: a payee's expected scores and flags.

mod classes;
pub mod compare;
pub mod file;
pub mod input;
mod scores;
pub mod series;

use crate::rules::{self, Rules};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why no tests could run at all (problems inside a test file are failures
/// in the [`Report`], not errors).
#[derive(Debug, thiserror::Error)]
pub enum RuleTestError {
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no test files: expected {0}/tests/*.yaml or tests/*.yaml in a rule set below it")]
    NoTests(PathBuf),
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub name: String,
    /// Line of the test's `name:` in its file.
    pub line: u64,
    /// Every mismatch; empty when the test passed.
    pub failures: Vec<String>,
    /// The test could not run (bad input, evaluation panicked …).
    pub error: Option<String>,
    pub seconds: f64,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }
}

/// The results of one test file.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteResult {
    pub file: PathBuf,
    /// The file or its rules could not be read: no test of it ran.
    pub error: Option<String>,
    pub cases: Vec<CaseResult>,
}

impl SuiteResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.cases.iter().all(CaseResult::passed)
    }
}

/// Every test file's results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub suites: Vec<SuiteResult>,
}

impl Report {
    /// Every test passed and every file could be read.
    pub fn passed(&self) -> bool {
        self.suites.iter().all(SuiteResult::passed)
    }

    pub fn tests(&self) -> usize {
        self.suites.iter().map(|s| s.cases.len()).sum()
    }

    pub fn failed(&self) -> usize {
        self.suites.iter().map(|s| s.cases.iter().filter(|c| !c.passed()).count()).sum()
    }

    /// Files that could not run.
    pub fn broken_files(&self) -> usize {
        self.suites.iter().filter(|s| s.error.is_some()).count()
    }

    /// For people: one line per test, mismatches indented under a failure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.suites {
            let _ = writeln!(out, "{}", s.file.display());
            if let Some(e) = &s.error {
                for l in e.lines() {
                    let _ = writeln!(out, "  ERROR {l}");
                }
            }
            for c in &s.cases {
                if c.passed() {
                    let _ = writeln!(out, "  ok    {}", c.name);
                    continue;
                }
                let _ = writeln!(out, "  FAIL  {} ({}:{})", c.name, s.file.display(), c.line);
                if let Some(e) = &c.error {
                    for l in e.lines() {
                        let _ = writeln!(out, "        error: {l}");
                    }
                }
                for f in &c.failures {
                    let _ = writeln!(out, "        {f}");
                }
            }
        }
        let _ = write!(out, "{} tests, {} failed", self.tests(), self.failed());
        if self.broken_files() > 0 {
            let _ = write!(out, ", {} test file(s) could not run", self.broken_files());
        }
        let _ = writeln!(out, ": {}", if self.passed() { "PASS" } else { "FAIL" });
        out
    }

    /// JUnit XML: `testsuites` / one `testsuite` per file / one `testcase`
    /// per test, with a `failure` (mismatches) or `error` (could not run).
    pub fn junit_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let errors: usize = self
            .suites
            .iter()
            .map(|s| s.error.is_some() as usize + s.cases.iter().filter(|c| c.error.is_some()).count())
            .sum();
        let failures: usize = self
            .suites
            .iter()
            .map(|s| s.cases.iter().filter(|c| c.error.is_none() && !c.failures.is_empty()).count())
            .sum();
        let time: f64 = self.suites.iter().flat_map(|s| &s.cases).fold(0.0, |a, c| a + c.seconds);
        let _ = writeln!(
            out,
            "<testsuites name=\"fleet-incentives rule tests\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">",
            self.tests()
        );
        for s in &self.suites {
            let file = xml(&s.file.display().to_string());
            let s_fail = s.cases.iter().filter(|c| c.error.is_none() && !c.failures.is_empty()).count();
            let s_err = s.error.is_some() as usize + s.cases.iter().filter(|c| c.error.is_some()).count();
            let s_time: f64 = s.cases.iter().fold(0.0, |a, c| a + c.seconds);
            let _ = writeln!(
                out,
                "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{s_fail}\" errors=\"{s_err}\" time=\"{s_time:.3}\">",
                s.cases.len()
            );
            if let Some(e) = &s.error {
                let _ = writeln!(out, "    <testcase name=\"(test file)\" classname=\"{file}\" time=\"0.000\">");
                let _ = writeln!(out, "      <error message=\"{}\">{}</error>", xml(first_line(e)), xml_text(e));
                let _ = writeln!(out, "    </testcase>");
            }
            for c in &s.cases {
                let name = xml(&c.name);
                if c.passed() {
                    let _ =
                        writeln!(out, "    <testcase name=\"{name}\" classname=\"{file}\" time=\"{:.3}\"/>", c.seconds);
                    continue;
                }
                let _ = writeln!(out, "    <testcase name=\"{name}\" classname=\"{file}\" time=\"{:.3}\">", c.seconds);
                if let Some(e) = &c.error {
                    let _ = writeln!(out, "      <error message=\"{}\">{}</error>", xml(first_line(e)), xml_text(e));
                } else {
                    let body = c.failures.join("\n");
                    let msg = if c.failures.len() == 1 {
                        c.failures[0].clone()
                    } else {
                        format!("{} mismatches; first: {}", c.failures.len(), c.failures[0])
                    };
                    let _ = writeln!(
                        out,
                        "      <failure message=\"{}\">{}</failure>",
                        xml(first_line(&msg)),
                        xml_text(&body)
                    );
                }
                let _ = writeln!(out, "    </testcase>");
            }
            let _ = writeln!(out, "  </testsuite>");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Escape text for XML attributes and content; characters XML 1.0 cannot
/// hold (most control characters) become `\u{…}`.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape element content: like [`xml`], but line breaks stay.
fn xml_text(s: &str) -> String {
    s.lines().map(xml).collect::<Vec<_>>().join("\n")
}

/// Test files of `dir` and of every rule set below it, sorted.
pub fn find_test_files(dir: &Path) -> Result<Vec<PathBuf>, RuleTestError> {
    let mut out = vec![];
    walk(dir, &mut out)?;
    Ok(out)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, RuleTestError> {
    let rd = std::fs::read_dir(dir).map_err(|source| RuleTestError::Io { path: dir.to_path_buf(), source })?;
    let mut v = vec![];
    for e in rd {
        let e = e.map_err(|source| RuleTestError::Io { path: dir.to_path_buf(), source })?;
        v.push(e.path());
    }
    v.sort();
    Ok(v)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleTestError> {
    let tests = dir.join("tests");
    if tests.is_dir() {
        for p in read_dir_sorted(&tests)? {
            let yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if yaml && p.is_file() {
                out.push(p);
            }
        }
    }
    for p in read_dir_sorted(dir)? {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() && name != "tests" && !name.starts_with('.') {
            walk(&p, out)?;
        }
    }
    Ok(())
}

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    // Test files alias short value strings (`&up '1x43199'` … `*up`) many
    // times; the expansion they cause is bounded per test case instead
    // (`input::MAX_VALUES_PER_TEST`).
    budget.alias_anchor_ratio_multiplier = 100;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options
}

/// Parse a test file; the error names file:line:column.
pub fn parse_test_file(path: &Path, text: &str) -> Result<file::TestFile, String> {
    serde_saphyr::from_str_with_options::<file::TestFile>(text, yaml_options()).map_err(|e| {
        let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        use serde_saphyr::MessageFormatter;
        let msg = serde_saphyr::DefaultMessageFormatter.format_message(e.without_snippet()).replace('\n', " ");
        format!("{}:{line}:{col}: {msg}", path.display())
    })
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

/// Load rules, keeping a panic of an unfinished loader from ending the run.
fn load_rules(dir: &Path) -> Result<Rules, String> {
    match catch_unwind(|| rules::load_dir(dir)) {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!("loading {} panicked: {}", dir.display(), panic_text(p))),
    }
}

/// Run one test file against already loaded rules (or their load error).
pub fn run_file(path: &Path, cache: &mut BTreeMap<PathBuf, Result<Rules, String>>) -> SuiteResult {
    let mut suite = SuiteResult { file: path.to_path_buf(), error: None, cases: vec![] };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            suite.error = Some(format!("{}: {e}", path.display()));
            return suite;
        }
    };
    let tf = match parse_test_file(path, &text) {
        Ok(t) => t,
        Err(e) => {
            suite.error = Some(e);
            return suite;
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let rules_dir = normalize(&base.join(tf.rule_files_dir.as_deref().unwrap_or("..")));
    let rules = cache.entry(rules_dir.clone()).or_insert_with(|| load_rules(&rules_dir));
    let rules = match rules {
        Ok(r) => r,
        Err(e) => {
            suite.error = Some(format!("rules {}: {e}", rules_dir.display()));
            return suite;
        }
    };
    let mut names = BTreeMap::new();
    for case in &tf.tests {
        let started = Instant::now();
        let mut result = CaseResult {
            name: case.name.value.clone(),
            line: case.name.pos.line,
            failures: vec![],
            error: None,
            seconds: 0.0,
        };
        if let Some(first) = names.insert(case.name.value.clone(), case.name.pos.line) {
            result.error = Some(format!("a second test named like the one at line {first}"));
        } else {
            run_case(case, rules, &mut result);
        }
        result.seconds = started.elapsed().as_secs_f64();
        suite.cases.push(result);
    }
    suite
}

fn run_case(case: &file::TestCase, rules: &Rules, result: &mut CaseResult) {
    let prepared = match input::prepare(case, rules) {
        Ok(p) => p,
        Err(errs) => {
            result.error = Some(errs.join("\n"));
            return;
        }
    };
    let ev = catch_unwind(AssertUnwindSafe(|| {
        crate::engine::evaluate(&prepared.facts, &prepared.history, rules, &prepared.period, prepared.now)
    }));
    match ev {
        Ok(ev) => {
            result.failures = compare::compare(&case.expect, &ev);
            classes::compare(&case.expect, &ev, &mut result.failures);
        }
        Err(p) => result.error = Some(format!("the evaluation panicked: {}", panic_text(p))),
    }
}

/// `a/tests/..` → `a` (lexically; the path need not exist).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

/// Run every test file of `dir` (its `tests/`) and of every rule set below
/// it. Rules are loaded once per directory.
pub fn run_dir(dir: &Path) -> Result<Report, RuleTestError> {
    if !dir.is_dir() {
        return Err(RuleTestError::NotADirectory(dir.to_path_buf()));
    }
    let files = find_test_files(dir)?;
    if files.is_empty() {
        return Err(RuleTestError::NoTests(dir.to_path_buf()));
    }
    let mut cache = BTreeMap::new();
    let suites = files.iter().map(|f| run_file(f, &mut cache)).collect();
    Ok(Report { suites })
}

#[cfg(test)]
mod tests;
