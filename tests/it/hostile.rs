//! Hostile input, through the binary: malformed rule files each get their
//! expected error with file:line:column (`tests/fixtures/malformed/*`), a
//! huge file is refused fast without being read, bad command lines are
//! usage errors (exit 2) with a clear message, and `serve` answers bad HTTP
//! requests with the right status and keeps serving `/metrics`.
//!
//! A malformed case is a rules directory with an `expected` file: optional
//! `exit N` (default 1), then one line per error, `FILE:LINE:COLUMN: TEXT`
//! (or `.: TEXT` for the directory itself). `check DIR` must print exactly
//! those errors, each as `DIR/FILE:LINE:COLUMN: TEXT…`, and nothing else
//! naming the directory.

use crate::common;

use common::serve::Serve;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleet-incentives"))
}

fn malformed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A case's expectations: exit code and `(location, text)` per error.
fn expected(dir: &Path) -> (i32, Vec<(String, String)>) {
    let spec = std::fs::read_to_string(dir.join("expected")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut exit = 1;
    let mut errors = vec![];
    for line in spec.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        if let Some(code) = line.strip_prefix("exit ") {
            exit = code.trim().parse().unwrap();
            continue;
        }
        let (location, message) = line.split_once(": ").unwrap_or_else(|| panic!("bad expected line {line:?}"));
        errors.push((location.to_string(), message.to_string()));
    }
    (exit, errors)
}

/// `FILE:LINE:COLUMN` with a file name and a position from 1.
fn has_position(location: &str) -> bool {
    let mut parts = location.rsplitn(3, ':');
    let (column, line, file) = (parts.next(), parts.next(), parts.next());
    let from_1 = |n: Option<&str>| n.and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n >= 1);
    from_1(column) && from_1(line) && file.is_some_and(|f| !f.is_empty())
}

#[test]
fn every_malformed_rule_set_gets_its_expected_errors_with_file_line_and_column() {
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(malformed_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut failures = vec![];
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (exit, errors) = expected(dir);
        let started = Instant::now();
        let out = bin().arg("check").arg(dir).output().unwrap();
        let took = started.elapsed();
        let output = text(&out);
        let mut problems = vec![];
        if out.status.code() != Some(exit) {
            problems.push(format!("exit {:?}, expected {exit}", out.status.code()));
        }
        if output.contains("panicked") {
            problems.push("panicked".into());
        }
        if took > Duration::from_secs(10) {
            problems.push(format!("took {took:?}"));
        }
        let prefix = dir.display().to_string();
        let named: Vec<&str> = output.lines().filter(|l| l.starts_with(&prefix)).collect();
        for (location, message) in &errors {
            // A rule-file error points into a file; only "no rule files" names the directory.
            if location != "." && !has_position(location) {
                problems.push(format!("expected error without file:line:column: {location}"));
            }
            let start = match location.as_str() {
                "." => format!("{prefix}: {message}"),
                loc => format!("{prefix}/{loc}: {message}"),
            };
            if !named.iter().any(|l| l.starts_with(&start)) {
                problems.push(format!("missing `{start}`"));
            }
        }
        if named.len() != errors.len() {
            problems.push(format!("{} error lines, expected {}", named.len(), errors.len()));
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{output}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

/// A small valid rule set (the first lines of every malformed case).
fn valid_rules() -> String {
    let text = std::fs::read_to_string(malformed_dir().join("empty-file/rules.yaml")).unwrap();
    assert!(text.starts_with("version: 1\n"), "{text}");
    text
}

#[test]
fn a_50_mb_rule_file_is_refused_at_once_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // A real 50 MB rule file: a valid set, then operators until 50 MB.
    let mut yaml = valid_rules();
    let mut i = 0;
    while yaml.len() < 50 << 20 {
        yaml +=
            &format!("  - {{id: op{i:07}, name: Operator {i}, tier: t1, start: 2026-01-01, nodes: [node-{i:07}]}}\n");
        i += 1;
    }
    std::fs::write(dir.path().join("rules.yaml"), &yaml).unwrap();
    let started = Instant::now();
    let out = bin().arg("check").arg(dir.path()).output().unwrap();
    let took = started.elapsed();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    let want = format!(
        "{}:1:1: file is {} bytes; rule files are limited to 1048576",
        dir.path().join("rules.yaml").display(),
        yaml.len()
    );
    assert!(output.lines().any(|l| l == want), "no `{want}` in:\n{output}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// Regression: this took 24 s (release; minutes unoptimised) and printed
/// 100,000 errors, each with a suggestion computed against 2,000 names.
#[test]
fn a_megabyte_of_unknown_names_is_checked_in_seconds_with_at_most_1000_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = valid_rules();
    for i in 0..2000 {
        let mentees: Vec<String> = (0..50).map(|j| format!("m{:05}", i * 50 + j)).collect();
        yaml +=
            &format!("  - {{id: op{i:05}, name: O, tier: t1, start: 2026-01-01, mentees: [{}]}}\n", mentees.join(", "));
    }
    assert!(yaml.len() < 1 << 20, "{}", yaml.len());
    std::fs::write(dir.path().join("rules.yaml"), &yaml).unwrap();
    let started = Instant::now();
    let out = bin().arg("check").arg(dir.path()).output().unwrap();
    let took = started.elapsed();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(output.contains(":0:0: 99000 more error(s) not shown; at most 1000 are reported"), "{output}");
    assert!(output.ends_with("1001 error(s) in 1 rule set(s)\n"), "{output}");
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // 1,000 unknown long names against 6,000 long ids: six minutes of
    // "did you mean" before the suggestion budget.
    let mut yaml = valid_rules();
    for i in 0..6000 {
        yaml += &format!(
            "  - {{id: operator-with-a-rather-long-identifier-{i:06}, name: O, tier: t1, start: 2026-01-01}}\n"
        );
    }
    let mentees: Vec<String> = (0..1000).map(|i| format!("menteex-with-a-rather-long-identifier-{i:06}")).collect();
    yaml += &format!("  - {{id: zed, name: Z, tier: t1, start: 2026-01-01, mentees: [{}]}}\n", mentees.join(", "));
    std::fs::write(dir.path().join("rules.yaml"), &yaml).unwrap();
    let started = Instant::now();
    let out = bin().arg("check").arg(dir.path()).output().unwrap();
    let took = started.elapsed();
    let output = text(&out);
    assert!(output.ends_with("1000 error(s) in 1 rule set(s)\n"), "{output}");
    assert!(output.contains("(too many unknown names to suggest one)"), "{output}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_64_gib_rule_file_is_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: no disk used; reading it whole would need 64 GiB of memory.
    let file = std::fs::File::create(dir.path().join("rules.yaml")).unwrap();
    file.set_len(64 << 30).unwrap();
    let started = Instant::now();
    let out = bin().arg("check").arg(dir.path()).output().unwrap();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(output.contains(":1:1: file is 68719476736 bytes; rule files are limited to 1048576"), "{output}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // `serve` refuses it the same way, at start (exit 2).
    let out = bin()
        .args(["serve", "--prometheus.url=http://127.0.0.1:1", "--web.listen-address=127.0.0.1:0"])
        .arg(format!("--rules.dir={}", dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("rule files are limited to 1048576"), "{}", text(&out));
}

// ------------------------------------------------------------------ CLI

#[test]
fn bad_command_lines_are_usage_errors_with_a_clear_message() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = rules.to_str().unwrap();
    let nowhere = "--prometheus.url=http://127.0.0.1:1";
    let broken = malformed_dir().join("version-2");
    let broken = broken.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-dir");
    let missing = missing.to_str().unwrap();
    let missing_evidence = format!("{missing}/evidence.json");
    // A missing directory has no line or column: it is named with the flag that sets it.
    let missing_rules_error = format!("rules directory \"{missing}\" does not exist (set it with --rules.dir)");
    let missing_check_error = format!("{missing}: no such directory");
    let file_check_error = format!("{rules}/roster.yaml: not a directory: check takes a rules directory");
    let roster = format!("{rules}/roster.yaml");
    let cases: &[(&[&str], &str)] = &[
        (&["check", "--bogus"], "unexpected argument '--bogus'"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&[], "Usage: fleet-incentives [OPTIONS] <COMMAND>"),
        (&["evaluate", "--rules.dir", rules], "required arguments were not provided:\n  --period <PERIOD>"),
        (&["close", "--period", "2026-10"], "--out <OUT>"),
        (&["explain", "--period", "2026-10"], "--operator <OPERATOR>"),
        (&["replay"], "--evidence <EVIDENCE>"),
        (
            &["evaluate", "--period", "2026-13", "--rules.dir", rules, nowhere],
            "period `2026-13` is not a calendar month",
        ),
        (
            &["evaluate", "--period", "October", "--rules.dir", rules, nowhere],
            "period `October` is not a calendar month",
        ),
        (&["close", "--period", "2026-00", "--out", missing, "--rules.dir", rules, nowhere], "`2026-00`"),
        (&["evaluate", "--period", "2026-10", "--at", "yesterday"], "invalid value 'yesterday' for '--at <AT>'"),
        (&["evaluate", "--period", "2026-10", "--at", "2026-10-32T00:00:00Z"], "invalid value '2026-10-32T00:00:00Z'"),
        (&["evaluate", "--period", "2026-10", "--format", "pdf"], "invalid value 'pdf' for '--format <FORMAT>'"),
        (&["--log.format", "xml", "check"], "invalid value 'xml' for '--log.format <LOG_FORMAT>'"),
        (&["evaluate", "--period", "2026-10", "--query.timeout", "5 parsecs"], "`5 parsecs` is not a duration"),
        (&["evaluate", "--period", "2026-10", "--query.timeout", "1.5h"], "`1.5h` is not a duration"),
        (&["evaluate", "--period", "2026-10", "--query.attempts", "-1"], "unexpected argument '-1'"),
        (&["evaluate", "--period", "2026-10", "--query.attempts", "many"], "invalid value 'many'"),
        (&["serve", nowhere, "--evaluation.delay", "9223372036854775807s"], "durations are at most 100y"),
        (&["serve", nowhere, "--inputs.refresh-interval", "101y"], "`101y` is too long: durations are at most 100y"),
        (&["serve", nowhere, "--evaluation-interval", "0s"], "--evaluation-interval must be positive"),
        (&["serve", nowhere, "--web.listen-address", "nonsense"], "--web.listen-address \"nonsense\""),
        (&["serve", nowhere, "--web.listen-address", "127.0.0.1:0", "--rules.dir", missing], &missing_rules_error),
        (&["serve", nowhere, "--web.listen-address", "127.0.0.1:0", "--rules.dir", broken], "unsupported `version: 2`"),
        (&["evaluate", "--period", "2026-10", "--rules.dir", missing, nowhere], &missing_rules_error),
        (&["check", missing], &missing_check_error),
        (&["check", &roster], &file_check_error),
        (&["test", missing], missing),
        (&["replay", "--evidence", &missing_evidence], &missing_evidence),
        (&["diff", "--new", rules, "--evidence", &missing_evidence], &missing_evidence),
        (&["mail", "--period", "2026-10", "--out", missing], "is not a closed month"),
        (
            &[
                "evaluate",
                "--period",
                "2026-10",
                "--rules.dir",
                rules,
                "--prometheus.url",
                "not a url",
                "--query.attempts",
                "1",
            ],
            "not a url",
        ),
    ];
    let mut failures = vec![];
    for (args, message) in cases {
        let out = bin().args(*args).output().unwrap();
        let output = text(&out);
        if out.status.code() != Some(2) || !output.contains(message) || output.contains("panicked") {
            failures.push(format!("{args:?}: exit {:?}, expected 2 and `{message}`:\n{output}", out.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------------------------------------ HTTP

/// Send raw bytes (write errors ignored: the server may close first) and
/// return the status of the answer (0 if none) and the raw answer.
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut answer = vec![];
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

fn request(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

fn still_serves_metrics(serve: &Serve, after: &str) {
    let (status, body) = raw(serve.port, &request("GET", "/metrics"));
    assert_eq!(status, 200, "/metrics after {after}:\n{body}\nlog:\n{}", serve.log());
    assert!(body.contains("fleet_incentives_build_info"), "/metrics after {after}:\n{body}");
}

#[test]
fn serve_answers_bad_http_requests_and_keeps_serving_metrics() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    // No Prometheus there: serve stays healthy, not ready, and serves its self-metrics.
    let closed = common::free_port();
    let serve = Serve::start(common::free_port(), &format!("http://127.0.0.1:{closed}"), &rules, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while serve.get("/-/healthy").0 != 200 {
        assert!(Instant::now() < deadline, "serve not healthy:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let port = serve.port;

    // A client that opens a connection and sends half a request, then waits.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();

    let long_path = format!("/metrics?{}", "a".repeat(100_000));
    let huge_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: {}\r\nConnection: close\r\n\r\n",
        "h".repeat(1 << 20)
    );
    let many_headers = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{}Connection: close\r\n\r\n",
        (0..500).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
    );
    let mut garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    garbage.extend_from_slice(b"\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("an unknown path", request("GET", "/nope"), &[404]),
        ("a path outside the root", request("GET", "/../../etc/passwd"), &[404]),
        ("POST /metrics", request("POST", "/metrics"), &[405]),
        ("DELETE /metrics", request("DELETE", "/metrics"), &[405]),
        ("GET /-/reload", request("GET", "/-/reload"), &[405]),
        ("POST /-/reload without --web.enable-lifecycle", request("POST", "/-/reload"), &[403]),
        ("a 100 kB URL", request("GET", &long_path), &[414]),
        ("a 1 MB header", huge_header.into_bytes(), &[431]),
        ("500 headers", many_headers.into_bytes(), &[431]),
        ("garbage bytes", garbage, &[400]),
        ("a request line without a version", b"GET /metrics\r\n\r\n".to_vec(), &[400]),
        ("an unknown HTTP version", b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        ("a bad Content-Length", b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec(), &[400]),
    ];
    for (what, bytes, statuses) in cases {
        let (status, answer) = raw(port, &bytes);
        let head: String = answer.chars().take(300).collect();
        assert!(statuses.contains(&status), "{what}: status {status}, expected one of {statuses:?}:\n{head}");
        still_serves_metrics(&serve, what);
    }
    // The half-open connection did not hold anyone up; it still gets its answer.
    idle.write_all(b"Connection: close\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = String::new();
    let _ = idle.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(serve.get("/-/healthy").0, 200);
    assert_eq!(serve.get("/-/ready").0, 503, "ready without Prometheus?");
    assert!(!serve.log().contains("panicked"), "{}", serve.log());
}
