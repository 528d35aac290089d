use super::*;
use crate::rules::expr::Expr;
use crate::rules::spec::{LineSpec, RuleFile};
use crate::rules::vars;

fn report() -> Report {
    Report {
        suites: vec![
            SuiteResult {
                file: PathBuf::from("rules/tests/tiers.yaml"),
                error: None,
                cases: vec![
                    CaseResult { name: "a tier 1 operator gets <500> & more".into(), line: 3, failures: vec![], error: None, seconds: 0.0 },
                    CaseResult {
                        name: "uptime \"bonus\"".into(),
                        line: 9,
                        failures: vec![
                            "operator alice line uptime_bonus: expected 200.00 paid, got 0.00 not_met (reason: uptime > 0.995 is false)".into(),
                            "operator alice total: expected 700.00, got 500.00".into(),
                        ],
                        error: None,
                        seconds: 0.0,
                    },
                ],
            },
            SuiteResult {
                file: PathBuf::from("rules/examples/x/tests/bad.yaml"),
                error: Some("bad.yaml:3:5: unknown field `expekt`".into()),
                cases: vec![],
            },
        ],
    }
}

#[test]
fn junit_has_a_suite_per_file_a_case_per_test_and_escapes_xml() {
    let x = report().junit_xml();
    let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="fleet-incentives rule tests" tests="2" failures="1" errors="1" time="0.000">
  <testsuite name="rules/tests/tiers.yaml" tests="2" failures="1" errors="0" time="0.000">
    <testcase name="a tier 1 operator gets &lt;500&gt; &amp; more" classname="rules/tests/tiers.yaml" time="0.000"/>
    <testcase name="uptime &quot;bonus&quot;" classname="rules/tests/tiers.yaml" time="0.000">
      <failure message="2 mismatches; first: operator alice line uptime_bonus: expected 200.00 paid, got 0.00 not_met (reason: uptime &gt; 0.995 is false)">operator alice line uptime_bonus: expected 200.00 paid, got 0.00 not_met (reason: uptime &gt; 0.995 is false)
operator alice total: expected 700.00, got 500.00</failure>
    </testcase>
  </testsuite>
  <testsuite name="rules/examples/x/tests/bad.yaml" tests="0" failures="0" errors="1" time="0.000">
    <testcase name="(test file)" classname="rules/examples/x/tests/bad.yaml" time="0.000">
      <error message="bad.yaml:3:5: unknown field `expekt`">bad.yaml:3:5: unknown field `expekt`</error>
    </testcase>
  </testsuite>
</testsuites>
"#;
    assert_eq!(x, expected);
}

#[test]
fn xml_escaping_replaces_markup_and_control_characters() {
    assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    assert_eq!(xml("x\u{1}y\nz"), "x\\u{1}y&#10;z");
}

#[test]
fn the_human_rendering_lists_each_mismatch_under_its_test() {
    let r = report();
    assert!(!r.passed());
    let text = r.render();
    assert!(text.contains("  ok    a tier 1 operator gets <500> & more\n"), "{text}");
    assert!(
        text.contains("  FAIL  uptime \"bonus\" (rules/tests/tiers.yaml:9)\n        operator alice line uptime_bonus"),
        "{text}"
    );
    assert!(text.contains("  ERROR bad.yaml:3:5: unknown field `expekt`"), "{text}");
    assert!(text.ends_with("2 tests, 1 failed, 1 test file(s) could not run: FAIL\n"), "{text}");
    assert!(Report::default().passed());
}

#[test]
fn test_files_reject_unknown_fields_with_their_position() {
    let text = "tests:\n  - name: t\n    period: 2026-11\n    expekt: {}\n";
    let e = parse_test_file(Path::new("t.yaml"), text).unwrap_err();
    assert!(e.starts_with("t.yaml:4:"), "{e}");
    assert!(e.contains("expekt"), "{e}");
}

#[test]
fn a_full_test_file_parses() {
    let text = r#"
rule_files_dir: ..
tests:
  - name: tier 1 operator at exactly 99.5 % gets no uptime bonus
    period: 2026-11
    evaluated_at: 2026-12-01T00:00:00Z
    interval: 1m
    input_series:
      - series: 'up{instance="node-001", region="eu"}'
        values: '1x43000 0x216'
    inputs:
      partner_revenue: {eu: 10000}
      fx: 1.5
    failed_inputs: {trips: "timeout"}
    acknowledgements: [{node: node-001, at: 2026-11-03T10:05:00Z}]
    expect:
      incidents: [{severity: P2, nodes: [node-001], duration: 3h36m, resolve: met}]
      severities: [{severity: P2, incidents: 1, mttr: 3h36m}, {severity: P0, mttr: none}]
      operators:
        - id: alice
          total: "700.00"
          lines: {base_stipend: "500.00", uptime_bonus: {amount: "0", status: not_met}, x: 12.5}
          promotion: {eligible: false, checks: {tenure: unknown, uptime: true}}
          uptime: none
      fleet: {uptime: "0.995", coverage: "1"}
      regions: {eu: {uptime: 1}}
"#;
    let f = parse_test_file(Path::new("t.yaml"), text).unwrap();
    let t = &f.tests[0];
    assert_eq!(t.name.pos.line, 4);
    assert_eq!(t.inputs["fx"].0[""], 1.5);
    let op = &t.expect.operators[0];
    assert_eq!(op.lines["base_stipend"].amount.unwrap().0.to_string(), "500.00");
    assert_eq!(op.lines["uptime_bonus"].status, Some(crate::evaluation::LineStatus::NotMet));
    assert_eq!(op.lines["x"].amount.unwrap().0.to_string(), "12.5");
    assert_eq!(op.uptime, Some(file::OptDec(None)));
    assert_eq!(t.expect.severities[1].mttr, Some(file::OptDur(None)));
}

#[test]
fn rule_dirs_resolve_lexically() {
    assert_eq!(normalize(Path::new("rules/tests/..")), PathBuf::from("rules"));
    assert_eq!(normalize(Path::new("tests/..")), PathBuf::from("."));
    assert_eq!(normalize(Path::new("../x/tests/../")), PathBuf::from("../x"));
}

// ------------------------------------------------------------- the shipped rules

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Rule sets: `rules/` and every directory below it holding `*.yaml` outside `tests/`.
fn rule_sets() -> Vec<PathBuf> {
    let mut out = vec![];
    fn go(d: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        if entries.iter().any(|p| p.extension().is_some_and(|e| e == "yaml")) {
            out.push(d.to_path_buf());
        }
        for p in entries {
            if p.is_dir() && p.file_name().unwrap() != "tests" {
                go(&p, out);
            }
        }
    }
    go(&repo().join("rules"), &mut out);
    out
}

fn exprs_of_line(l: &LineSpec) -> Vec<&Expr> {
    [&l.when, &l.quantity, &l.over, &l.ratio, &l.factor, &l.by].into_iter().flatten().collect()
}

/// Every shipped rule file deserializes (unknown fields rejected), every
/// expression compiles and reads only variables the engine sets. This is a
/// subset of what `check` does; it runs without the loader.
#[test]
fn the_shipped_rule_files_parse_and_their_expressions_compile() {
    let sets = rule_sets();
    assert!(sets.len() >= 4, "{sets:?}");
    for dir in sets {
        let mut files = vec![];
        for p in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            if p.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let f: RuleFile = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert_eq!(f.version, 1, "{}", p.display());
                files.push((p, f));
            }
        }
        let severity_ids: Vec<String> =
            files.iter().flat_map(|(_, f)| f.severities.iter().map(|s| s.id.value.clone())).collect();
        let inputs: Vec<String> =
            files.iter().flat_map(|(_, f)| f.inputs.iter().map(|i| i.name.value.clone())).collect();
        let aggregates: Vec<String> =
            files.iter().flat_map(|(_, f)| f.aggregates.iter().map(|a| a.name.value.clone())).collect();
        let op_var =
            |v: &str| vars::is_operator_var(v, &severity_ids) || inputs.iter().chain(&aggregates).any(|i| i == v);
        let partner_var = |v: &str| vars::is_partner_var(v) || op_var(v);
        let check = |p: &Path, e: &Expr, known: &dyn Fn(&str) -> bool| {
            assert_eq!(e.error(), None, "{}:{}", p.display(), e.pos);
            let unknown = e.unknown_variables(known);
            assert!(unknown.is_empty(), "{}:{}: unknown variables {unknown:?}", p.display(), e.pos);
        };
        for (p, f) in &files {
            for s in &f.severities {
                check(p, &s.when, &vars::is_incident_var);
            }
            for t in &f.tiers {
                for l in &t.lines {
                    for e in exprs_of_line(l) {
                        check(p, e, &op_var);
                    }
                }
            }
            for t in &f.partner_tiers {
                for l in &t.lines {
                    for e in exprs_of_line(l) {
                        check(p, e, &partner_var);
                    }
                }
            }
            for pr in &f.promotions {
                for c in &pr.checks {
                    check(p, &c.when, &op_var);
                }
            }
        }
    }
}

/// Every test file of the shipped rules parses (unknown fields rejected).
#[test]
fn the_shipped_test_files_parse() {
    let files = find_test_files(&repo().join("rules")).unwrap();
    assert!(files.len() >= 4, "{files:?}");
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        let f = parse_test_file(&p, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(!f.tests.is_empty(), "{}", p.display());
        for t in &f.tests {
            for s in &t.input_series {
                series::parse_series(&s.series).unwrap_or_else(|e| panic!("{}:{}: {e}", p.display(), s.series.pos));
                series::parse_values(&s.values).unwrap_or_else(|e| panic!("{}:{}: {e}", p.display(), s.values.pos));
            }
        }
    }
}

// ------------------------------------------------------------- end to end

/// A temporary rule set: the loader's minimal fixture plus `tests/t.yaml`.
fn temp_rules(name: &str, test_yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fi-ruletest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    for f in ["pay.yaml", "programme.yaml", "roster.yaml"] {
        std::fs::copy(repo().join("tests/fixtures/rules-minimal").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("tests/t.yaml"), test_yaml).unwrap();
    dir
}

#[test]
fn a_wrong_expectation_is_reported_with_expected_and_got_and_the_reason() {
    // alice (node-001) up all November: 500 + 200; partner revenue missing → share withheld.
    let dir = temp_rules(
        "mismatch",
        r#"
tests:
  - name: passes
    period: 2026-11
    input_series: [{series: 'up{instance="node-001", region="eu"}', values: '1x43199'}]
    expect:
      operators: [{id: alice, total: "700.00", lines: {uptime_bonus: "200.00", share: {status: withheld}}}]
  - name: fails
    period: 2026-11
    input_series: [{series: 'up{instance="node-001", region="eu"}', values: '1x43199'}]
    expect:
      incidents: [{severity: P2}]
      operators:
        - {id: alice, total: "900.00", lines: {uptime_bonus: {amount: "0", status: not_met}, nope: "1"}}
        - {id: zed}
  - name: bad input
    period: 2026-11
    input_series: [{series: 'up{region="eu"}', values: '1x3 stale'}]
"#,
    );
    let report = run_dir(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let cases = &report.suites[0].cases;
    assert!(cases[0].passed(), "{cases:?}");
    let f = &cases[1].failures;
    assert_eq!(f.len(), 5, "{f:#?}");
    assert_eq!(f[0], "incidents: expected 1, got 0");
    // Lines are compared in the order of their ids.
    assert!(f[1].starts_with("operator alice: no line nope (lines: base, uptime_bonus, share)"), "{}", f[1]);
    assert!(
        f[2].starts_with("operator alice line uptime_bonus: expected 0.00 not_met, got 200.00 paid (reason: "),
        "{}",
        f[2]
    );
    assert!(f[3].starts_with("operator alice total: expected 900.00, got 700.00"), "{}", f[3]);
    assert!(f[4].starts_with("operator zed: no statement"), "{}", f[4]);
    let e = cases[2].error.as_deref().unwrap();
    assert!(e.contains("stale"), "{e}");
    assert!(!report.passed());
    assert_eq!(report.failed(), 2);
    let xml = report.junit_xml();
    assert!(
        xml.contains(r#"<testsuites name="fleet-incentives rule tests" tests="3" failures="1" errors="1""#),
        "{xml}"
    );
}

#[test]
fn a_series_feeding_nothing_and_an_unknown_input_are_errors_of_the_test() {
    let dir = temp_rules(
        "unfed",
        r#"
tests:
  - name: typo
    period: 2026-11
    input_series: [{series: 'upp{instance="node-001"}', values: '1x10'}]
    inputs: {partner_revnue: {eu: 1}}
"#,
    );
    let report = run_dir(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let e = report.suites[0].cases[0].error.clone().unwrap();
    assert!(e.contains("feeds neither source.up"), "{e}");
    assert!(e.contains("`partner_revnue` is not an input"), "{e}");
}

/// Run the tests of `dir` with seed 002's critical and question classes
/// fed by `support_ticket_open`, then remove it.
fn run_with_tickets(dir: &Path) -> Report {
    let tickets = r#"version: 1
incident_sources:
  - {name: support, selector: support_ticket_open, id_label: ticket}
incident_classes:
  - {id: critical, name: Critical, respond_within: 2h, resolve_within: 24h}
  - {id: questions, name: Question, respond_within: 48h}
"#;
    std::fs::write(dir.join("tickets.yaml"), tickets).unwrap();
    let report = run_dir(dir).unwrap();
    let _ = std::fs::remove_dir_all(dir);
    report
}

#[test]
fn ticket_series_feed_incident_classes_and_tests_expect_them_by_class() {
    let dir = temp_rules(
        "classes",
        r#"
tests:
  - name: a critical ticket breaches, a question has no resolve target
    period: 2026-11
    evaluated_at: 2026-11-03T00:00:00Z
    input_series:
      - {series: 'up{instance="node-001", region="eu"}', values: '1x2879'}
      # Opened at 00:10, closed after 3 h: acknowledged at 02:40, 2 h 30 after it opened.
      - {series: 'support_ticket_open{ticket="T-1", class="critical", operator="alice"}', values: '_x9 1x179 0'}
      # A question open since 01:00 on the 2nd, never answered.
      - {series: 'support_ticket_open{ticket="Q-1", class="questions", operator="alice"}', values: '_x1499 1x1380'}
    acknowledgements:
      - {incident: T-1, at: 2026-11-01T02:40:00Z}
    expect:
      class_incidents:
        - {class: critical, key: T-1, operator: alice, start: 2026-11-01T00:10:00Z, duration: 3h, open: false, respond: breached, resolve: met}
        - {class: questions, key: Q-1, start: 2026-11-02T01:00:00Z, open: true, respond: open, resolve: none}
      classes:
        - {class: critical, incidents: 1, respond_breaches: 1, resolve_breaches: 0, mttr: 3h}
        - {class: questions, incidents: 1, open: 1, mttr: none}
  - name: mismatches are named
    period: 2026-11
    evaluated_at: 2026-11-03T00:00:00Z
    input_series:
      - {series: 'support_ticket_open{ticket="T-1", class="critical", operator="alice"}', values: '_x9 1x179 0'}
      - {series: 'support_ticket_open{class="critical"}', values: '1'}
    acknowledgements: [{at: 2026-11-01T02:40:00Z}]
    expect:
      class_incidents: [{class: major, respond: met}]
"#,
    );
    let report = run_with_tickets(&dir);
    let cases = &report.suites[0].cases;
    assert!(cases[0].passed(), "{:#?}", cases[0]);
    let e = cases[1].error.as_deref().unwrap();
    assert!(e.contains("feeds incident source support but has no `ticket` label naming the incident"), "{e}");
    assert!(e.contains("acknowledgement at 2026-11-01T02:40:00+00:00: give `node` or `incident`"), "{e}");
}

#[test]
fn a_wrong_class_incident_is_reported_field_by_field() {
    let dir = temp_rules(
        "class-mismatch",
        r#"
tests:
  - name: wrong
    period: 2026-11
    evaluated_at: 2026-11-03T00:00:00Z
    input_series:
      - {series: 'support_ticket_open{ticket="T-1", class="critical", operator="alice"}', values: '_x9 1x179 0'}
    acknowledgements: []
    expect:
      class_incidents: [{class: critical, operator: bob, respond: met, resolve: none}, {class: critical}]
      classes: [{class: critical, resolve_breaches: 1}, {class: blocker}]
"#,
    );
    let report = run_with_tickets(&dir);
    let f = &report.suites[0].cases[0].failures;
    let what = "class incident 1 (critical T-1 from 2026-11-01T00:10:00+00:00 for 3h)";
    assert_eq!(
        f,
        &[
            "class incidents: expected 2, got 1: [critical T-1 from 2026-11-01T00:10:00+00:00 for 3h]".to_string(),
            format!("{what}: expected operator bob, got alice"),
            format!("{what}: expected respond met, got breached"),
            format!("{what}: expected resolve none, got met"),
            "incident class critical resolve breaches: expected 1, got 0".to_string(),
            "incident class blocker: not in the evaluation".to_string(),
        ]
    );
}

#[test]
fn scores_and_flags_are_expected_by_id_and_a_wrong_value_fails() {
    // alice (node-001) up all November: uptime 1 → the card's 100.
    let dir = temp_rules(
        "scores",
        r#"
tests:
  - name: passes
    period: 2026-11
    input_series: &up [{series: 'up{instance="node-001", region="eu"}', values: '1x43199'}]
    expect:
      operators: [{id: alice, scores: {card: "100.0", blind: none}, flags: {perfect: true, rich: unknown}}]
  - name: fails
    period: 2026-11
    input_series: *up
    expect:
      operators: [{id: alice, scores: {card: "99.9", nope: "1"}, flags: {perfect: false, rich: false}}]
"#,
    );
    let scores = "version: 1\nscores:\n  - {id: card, name: Card, scale: {min: 0, max: 100}, decimals: 1, formula: uptime * 100}\n  - {id: blind, name: Blind, formula: partner_revenue}\nflags:\n  - {id: perfect, name: Perfect, when: card >= 100}\n  - {id: rich, name: Rich, when: partner_revenue > 1000}\n";
    std::fs::write(dir.join("scores.yaml"), scores).unwrap();
    let report = run_dir(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let cases = &report.suites[0].cases;
    assert!(cases[0].passed(), "{cases:?}");
    let f = &cases[1].failures;
    assert_eq!(f.len(), 4, "{f:#?}");
    assert!(f[0].starts_with("operator alice score card: expected 99.9, got 100.0 (`uptime * 100` = 100"), "{}", f[0]);
    assert!(f[1].starts_with("operator alice: no score nope (scores: card, blind)"), "{}", f[1]);
    assert!(f[2].starts_with("operator alice flag perfect: expected false, got true (`card >= 100` holds"), "{}", f[2]);
    assert!(
        f[3].starts_with("operator alice flag rich: expected false, got unknown (no value for partner_revenue"),
        "{}",
        f[3]
    );
}
