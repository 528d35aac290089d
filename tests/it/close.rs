//! The monthly close through the binary, as finance and rule authors run it,
//! against ONE real Prometheus backfilled with a planned month (the
//! six-node plan of `evaluate`, a month earlier) and, for e-mail, a
//! real SMTP server (`python3 -m aiosmtpd`, Maildir handler).
//!
//! Close twice → the same bytes; replay = close; a changed threshold's diff
//! lists exactly the lines it changes; totals are the sums of the lines; a
//! closed month is never overwritten; every message arrives exactly once,
//! also across an SMTP outage.

use crate::common;

use chrono::{TimeZone, Utc};
use common::Prometheus;
use common::fleet::{self, Plan};
use fleet_incentives::local_prometheus::copy_dir;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

const PERIOD: &str = "2026-10";

/// The rules of the closed month; `{THRESHOLD}` is the uptime bonus' bar.
fn rules_yaml() -> String {
    [HEAD, fleet::SIX_NODE_RULES, TAIL].concat()
}

/// The head of the rules file of the closed month: version and programme.
const HEAD: &str = r#"
version: 1
programme: {name: Close programme, currency: USD, time_zone: UTC}
"#;

/// Its tiers and operators, after [`fleet::SIX_NODE_RULES`].
const TAIL: &str = r#"tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base stipend, kind: per_node, category: stipend, amount: 500}
      - {id: uptime_bonus, name: Uptime bonus, kind: fixed, category: uptime_bonus, amount: 200, when: "uptime > {THRESHOLD}"}
      - {id: clean_month, name: No major incident, kind: fixed, category: performance_bonus, amount: 100, when: "major_incidents < 1"}
operators:
  - {id: op-eu, name: EU operator, email: eu@example.org, tier: t1, start: 2026-01-01, nodes: [n1, n2, n3]}
  - {id: op-us, name: US operator, email: us@example.org, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6]}
  - {id: op-new, name: New operator, tier: t1, start: 2026-10-16, nodes: []}
"#;

/// October 2026 (31 days; Sundays 4, 11, 18, 25): the plan of `evaluate`
/// moved to a month that is over.
fn plan() -> Plan {
    fleet::six_nodes(Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(), 31, 4, 20, 22)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env_remove("FLEET_SMTP_PASSWORD").env("RUST_LOG", "warn");
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A rules directory with the uptime bonus at `threshold`.
fn rules_dir(root: &Path, name: &str, threshold: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yaml"), rules_yaml().replace("{THRESHOLD}", threshold)).unwrap();
    dir
}

struct Fixture {
    prometheus: Prometheus,
    root: tempfile::TempDir,
    rules: PathBuf,
    /// OUT of the first close; the month is in `out/2026-10`.
    out: PathBuf,
}

impl Fixture {
    fn closed(&self) -> PathBuf {
        self.out.join(PERIOD)
    }

    fn close(&self, rules: &Path, out: &Path) -> Command {
        let mut c = bin();
        c.args(["close", "--period", PERIOD, "--prometheus.url", &self.prometheus.url()])
            .arg("--rules.dir")
            .arg(rules)
            .arg("--out")
            .arg(out);
        c
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.closed().join(name)).unwrap()
    }
}

const FILES: [&str; 4] = ["statement.csv", "statement.json", "evidence.json", "programme-report.md"];

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let plan = plan();
        let prometheus = Prometheus::start(&plan.series("fleet-node"), plan.span);
        let root = tempfile::tempdir().unwrap();
        let rules = rules_dir(root.path(), "rules", "0.995");
        let out = root.path().join("out");
        let f = Fixture { prometheus, rules, out, root };
        let o = run(&mut f.close(&f.rules, &f.out));
        assert!(o.status.success(), "close failed: {}", text(&o.stderr));
        f
    })
}

fn statement(f: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&f.file("statement.json")).unwrap()
}

fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

// ------------------------------------------------------------------ close

#[test]
fn closing_twice_gives_byte_identical_files() {
    let f = fixture();
    let first: Vec<Vec<u8>> = FILES.iter().map(|n| f.file(n)).collect();
    let o = run(&mut f.close(&f.rules, &f.out));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("identical"), "{}", text(&o.stderr));
    // A fresh close into another directory: re-read and re-evaluated.
    let other = f.root.path().join("again");
    let o = run(&mut f.close(&f.rules, &other));
    assert!(o.status.success(), "{}", text(&o.stderr));
    for (name, bytes) in FILES.iter().zip(&first) {
        assert_eq!(&std::fs::read(other.join(PERIOD).join(name)).unwrap(), bytes, "{name} differs");
        assert_eq!(&f.file(name), bytes, "{name} changed");
    }
}

#[test]
fn the_statement_is_evaluated_at_the_period_end_with_the_rules_hash_and_engine_version() {
    let f = fixture();
    let s = statement(f);
    assert_eq!(s["engine_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["evaluation"]["evaluated_at"], "2026-11-01T00:00:00Z");
    assert_eq!(s["evaluation"]["complete"], true);
    let sha = s["rules_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    let evidence: serde_json::Value = serde_json::from_slice(&f.file("evidence.json")).unwrap();
    assert_eq!(evidence["rules_sha256"], sha);
    assert_eq!(evidence["period"], PERIOD);
    let queries = evidence["queries"].as_array().unwrap();
    assert!(queries.len() >= 60, "31 days × 2 availability queries at least, got {}", queries.len());
    for q in queries {
        assert!(q["answer"]["data"]["resultType"].is_string() || q["error"].is_string(), "{q}");
    }
    assert!(queries.iter().any(|q| q["purpose"] == "outages"), "raw samples of the outages are evidence too");
}

#[test]
fn every_payee_total_is_the_sum_of_its_lines_in_json_and_csv() {
    let f = fixture();
    let s = statement(f);
    let e = &s["evaluation"];
    let mut grand = Decimal::ZERO;
    for p in e["operators"].as_array().unwrap().iter().chain(e["partners"].as_array().unwrap()) {
        let lines: Decimal = p["lines"].as_array().unwrap().iter().map(|l| dec(&l["amount"])).sum();
        assert_eq!(lines, dec(&p["total"]), "{}", p["id"]);
        grand += lines;
    }
    assert_eq!(grand, dec(&e["total"]));
    let csv = text(&f.file("statement.csv"));
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let (id, amount) =
        (header.iter().position(|h| *h == "payee_id").unwrap(), header.iter().position(|h| *h == "amount").unwrap());
    let mut by_payee: std::collections::BTreeMap<String, Decimal> = Default::default();
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        *by_payee.entry(cells[id].to_string()).or_default() += cells[amount].parse::<Decimal>().unwrap();
    }
    for p in e["operators"].as_array().unwrap() {
        assert_eq!(by_payee[p["id"].as_str().unwrap()], dec(&p["total"]), "{}", p["id"]);
    }
}

#[test]
fn the_programme_report_follows_the_template_with_exact_figures() {
    let f = fixture();
    let report = text(&f.file("programme-report.md"));
    for heading in [
        "# Fleet Programme Monthly Report",
        "## Executive Summary",
        "### Node Inventory",
        "### Incident Log",
        "### Mean Time to Recovery (MTTR)",
        "### Active Operators",
        "### Incentive Payouts",
        "### Cost Efficiency",
    ] {
        assert!(report.contains(heading), "missing {heading}:\n{report}");
    }
    let s = statement(f);
    let e = &s["evaluation"];
    let total = dec(&e["total"]);
    assert!(report.contains(&format!("**Total payout this month**: ${total}")), "{report}");
    // Cost per node: total / 6 nodes, rounded half-even to cents.
    let per_node =
        (total / Decimal::from(6)).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
    assert!(report.contains(&format!("**Cost per node**: ${per_node}")), "{report}");
    let up = Decimal::from(e["fleet"]["up_seconds"].as_i64().unwrap());
    let per_hour = (total * Decimal::from(3600) / up)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
    assert!(report.contains(&format!("**Cost per uptime hour**: ${per_hour}")), "{report}");
    assert!(report.contains("- **P0 incidents** (Fleet-wide): 0.50 hours"), "{report}");
    for n in ["n1", "n2", "n3", "n4", "n5", "n6"] {
        assert!(report.contains(&format!("| {n} |")), "node {n} missing from the inventory");
    }
}

#[test]
fn a_closed_month_whose_result_would_change_is_not_overwritten() {
    let f = fixture();
    let dir = f.root.path().join("changed");
    copy_dir(&f.closed(), &dir.join(PERIOD)).unwrap();
    let changed = rules_dir(f.root.path(), "rules-0999-close", "0.999");
    let o = run(&mut f.close(&changed, &dir));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was overwritten"), "{err}");
    assert!(err.contains("statement.csv: differs from line"), "{err}");
    assert!(err.contains("op-eu"), "the differing lines are shown: {err}");
    for name in FILES {
        assert_eq!(std::fs::read(dir.join(PERIOD).join(name)).unwrap(), f.file(name), "{name} was overwritten");
    }
}

#[test]
fn a_month_not_over_is_refused_with_exit_code_2() {
    let f = fixture();
    let o = run(bin()
        .args(["close", "--period", "2099-01", "--prometheus.url", "http://127.0.0.1:9"])
        .arg("--rules.dir")
        .arg(&f.rules)
        .arg("--out")
        .arg(f.root.path().join("future")));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("period 2099-01 is not over"), "{}", text(&o.stderr));
    assert!(!f.root.path().join("future").exists(), "nothing written");
}

// ------------------------------------------------------------ replay, diff

/// Regression: a roster name `=HYPERLINK(…)` landed in `statement.csv` as a
/// live formula. Text cells a spreadsheet would run get a leading `'`; the
/// amounts (a clawback's `-50.00`) are written as they are.
#[test]
fn a_name_a_spreadsheet_would_run_is_neutralised_in_statement_csv_and_amounts_are_not() {
    let f = fixture();
    let hyperlink = r#"=HYPERLINK("http://evil.example","Click")"#;
    let rules = rules_yaml()
        .replace("{THRESHOLD}", "0.995")
        .replace("name: EU operator", &format!("name: '{hyperlink}'"))
        .replace(
            "      - {id: clean_month,",
            "      - {id: clawback, name: '-Clawback', kind: fixed, category: deduction, amount: -50}\n      - {id: clean_month,",
        );
    let dir = f.root.path().join("rules-formula");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yaml"), rules).unwrap();
    let out = f.root.path().join("out-formula");
    let o = run(&mut f.close(&dir, &out));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let file = std::fs::read(out.join(PERIOD).join("statement.csv")).unwrap();
    let mut csv = csv::Reader::from_reader(file.as_slice());
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let eu: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[col("payee_id")] == "op-eu").collect();
    assert_eq!(eu.len(), 4, "{}", text(&file));
    for r in &eu {
        assert_eq!(&r[col("payee_name")], format!("'{hyperlink}"), "{}", text(&file));
    }
    let clawbacks: Vec<_> = rows.iter().filter(|r| &r[col("line_id")] == "clawback").collect();
    assert_eq!(clawbacks.len(), 3, "one per operator");
    for r in clawbacks {
        assert_eq!(&r[col("line_name")], "'-Clawback");
        assert_eq!((&r[col("amount")], &r[col("formula")]), ("-50.00", "-50.00"), "numbers are not touched");
    }
    assert!(!text(&file).contains(",=HYPERLINK"), "{}", text(&file));
}

fn evidence(f: &Fixture) -> PathBuf {
    f.closed().join("evidence.json")
}

#[test]
fn replay_gives_the_closed_statement_byte_for_byte_without_prometheus() {
    let f = fixture();
    for (format, file) in [("json", "statement.json"), ("csv", "statement.csv")] {
        // Rules from the evidence itself, and from the directory.
        let o = run(bin().args(["replay", "--format", format]).arg("--evidence").arg(evidence(f)));
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(o.stdout, f.file(file), "replay --format {format} differs from {file}");
        let o = run(bin()
            .args(["replay", "--format", format, "--rules.dir"])
            .arg(&f.rules)
            .arg("--evidence")
            .arg(evidence(f)));
        assert_eq!(o.stdout, f.file(file), "replay with --rules.dir differs from {file}");
    }
}

#[test]
fn diff_of_a_changed_threshold_lists_exactly_the_affected_operators_and_lines() {
    let f = fixture();
    let s = statement(f);
    // Which operators' uptime lies between the old and the new bar, from the statement.
    let (old, new) = (Decimal::new(995, 3), Decimal::new(999, 3));
    let mut affected = vec![];
    for op in s["evaluation"]["operators"].as_array().unwrap() {
        if let Some(u) = op["availability"]["uptime"].as_str() {
            let u: Decimal = u.parse().unwrap();
            if u > old && u <= new {
                affected.push(op["id"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(affected, vec!["op-eu"], "the plan puts only op-eu between 99.5 % and 99.9 %");
    let changed = rules_dir(f.root.path(), "rules-0999", "0.999");
    let o = run(bin().args(["diff", "--new"]).arg(&changed).arg("--evidence").arg(evidence(f)));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    let changes: Vec<&str> = out.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(changes.len(), 1, "{out}");
    assert!(changes[0].contains("uptime_bonus") && changes[0].contains("200.00 (paid) → 0.00 (not_met)"), "{out}");
    assert!(changes[0].trim_end().ends_with("-200.00"), "{out}");
    assert!(out.contains("operator op-eu") && !out.contains("operator op-us"), "{out}");

    let o = run(bin()
        .args(["diff", "--format", "markdown", "--old"])
        .arg(&f.rules)
        .arg("--new")
        .arg(&changed)
        .arg("--evidence")
        .arg(evidence(f)));
    let md = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        md.contains("| operator `op-eu` | Uptime bonus (`uptime_bonus`) | 200.00 (paid) | 0.00 (not_met) | -200.00 |"),
        "{md}"
    );
    assert_eq!(md.lines().filter(|l| l.starts_with("| operator")).count(), 1, "{md}");

    let o = run(bin().args(["diff", "--new"]).arg(&f.rules).arg("--evidence").arg(evidence(f)));
    assert_eq!(o.status.code(), Some(0), "same rules: no change\n{}", text(&o.stdout));
}

#[test]
fn replaying_rules_that_need_other_queries_fails_clearly() {
    let f = fixture();
    let dir = f.root.path().join("rules-other-maintenance");
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = rules_yaml().replace("{THRESHOLD}", "0.995").replace("at: \"02:00\"", "at: \"03:00\"");
    std::fs::write(dir.join("rules.yaml"), yaml).unwrap();
    let o = run(bin().args(["diff", "--new"]).arg(&dir).arg("--evidence").arg(evidence(f)));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("was not recorded in the evidence"), "{}", text(&o.stderr));
}

#[test]
fn explain_shows_every_line_with_inputs_thresholds_formula_and_reason() {
    let f = fixture();
    let o = run(bin().args(["explain", "--operator", "op-eu", "--evidence"]).arg(evidence(f)));
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for needle in [
        "base",
        "uptime_bonus",
        "clean_month",
        "paid when uptime > 0.995",
        "500 per node",
        "formula:",
        "reason:",
        "inputs:    ",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
    assert!(out.contains("uptime = 0.99841"), "the input's value is shown:\n{out}");
    // The same from Prometheus.
    let o = run(bin()
        .args(["explain", "--operator", "op-eu", "--period", PERIOD, "--prometheus.url", &f.prometheus.url()])
        .arg("--rules.dir")
        .arg(&f.rules));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("paid when uptime > 0.995"));
    let o = run(bin().args(["explain", "--operator", "nobody", "--evidence"]).arg(evidence(f)));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("payees: op-eu, op-us, op-new"), "{}", text(&o.stderr));
}

// ------------------------------------------------------------------- mail

/// A real SMTP server writing each message it receives into a Maildir
/// (shared with `holds`).
pub(super) struct Smtp {
    child: Child,
    pub(super) port: u16,
    maildir: PathBuf,
}

impl Smtp {
    pub(super) fn start(port: u16, maildir: &Path) -> Smtp {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP tests");
        let mut s = Smtp { child, port, maildir: maildir.to_path_buf() };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(_)) = s.child.try_wait() {
                let mut err = String::new();
                use std::io::Read;
                s.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("aiosmtpd exited: {err}\nInstall it with `pip install aiosmtpd` (or apt python3-aiosmtpd)");
            }
            assert!(std::time::Instant::now() < deadline, "aiosmtpd not listening after 20 s");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        s
    }

    /// Every message received: envelope recipients, headers, the plain text body, attachments.
    pub(super) fn messages(&self) -> Vec<serde_json::Value> {
        const DUMP: &str = r#"
import email, email.policy, glob, json, os, sys
out = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "new", "*"))):
    m = email.message_from_binary_file(open(f, "rb"), policy=email.policy.default)
    atts = {p.get_filename(): p.get_content() for p in m.iter_attachments()}
    body = m.get_body(preferencelist=("plain",))
    out.append({"rcpt": m["X-RcptTo"], "to": m["To"], "subject": m["Subject"],
                "message_id": m["Message-ID"], "attachments": atts,
                "body": body.get_content() if body is not None else ""})
print(json.dumps(out))
"#;
        let o = Command::new("python3").args(["-c", DUMP]).arg(&self.maildir).output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn mail_flags(cmd: &mut Command, port: u16) -> &mut Command {
    cmd.args([
        "--smtp.host",
        "127.0.0.1",
        "--smtp.port",
        &port.to_string(),
        "--smtp.tls",
        "none",
        "--smtp.timeout",
        "5s",
        "--mail.from",
        "fleet@example.org",
        "--mail.finance",
        "finance@example.org",
    ])
}

/// `(recipient, attachment names)` of every message, sorted.
fn received(smtp: &Smtp) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = smtp
        .messages()
        .iter()
        .map(|m| {
            let mut names: Vec<String> = m["attachments"].as_object().unwrap().keys().cloned().collect();
            names.sort();
            (m["rcpt"].as_str().unwrap().to_string(), names)
        })
        .collect();
    out.sort();
    out
}

fn expected_mail() -> Vec<(String, Vec<String>)> {
    vec![
        ("eu@example.org".into(), vec!["statement-2026-10-op-eu.csv".into(), "statement-2026-10-op-eu.html".into()]),
        (
            "finance@example.org".into(),
            vec!["payroll-2026-10.csv".into(), "programme-report-2026-10.md".into(), "statement-2026-10.csv".into()],
        ),
        ("us@example.org".into(), vec!["statement-2026-10-op-us.csv".into(), "statement-2026-10-op-us.html".into()]),
    ]
}

#[test]
fn close_with_mail_sends_finance_the_statement_and_each_operator_their_lines_once() {
    let f = fixture();
    let maildir = f.root.path().join("maildir-1");
    let smtp = Smtp::start(common::free_port(), &maildir);
    let out = f.root.path().join("mailed");
    let o = run(mail_flags(f.close(&f.rules, &out).arg("--mail"), smtp.port));
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("no e-mail address on the roster, not sent: operator:op-new"), "{err}");
    assert_eq!(received(&smtp), expected_mail());

    let messages = smtp.messages();
    let finance = messages.iter().find(|m| m["rcpt"] == "finance@example.org").unwrap();
    let csv = finance["attachments"]["statement-2026-10.csv"].as_str().unwrap();
    assert_eq!(csv.replace("\r\n", "\n"), text(&f.file("statement.csv")).replace("\r\n", "\n"), "the whole statement");
    let eu = messages.iter().find(|m| m["rcpt"] == "eu@example.org").unwrap();
    assert_eq!(eu["to"], "eu@example.org");
    let eu_csv = eu["attachments"]["statement-2026-10-op-eu.csv"].as_str().unwrap();
    assert!(eu_csv.lines().skip(1).all(|l| l.contains(",op-eu,")), "only op-eu's lines:\n{eu_csv}");
    assert_eq!(eu_csv.lines().count(), 4, "header and three lines:\n{eu_csv}");

    // Again: the sent record says everything went; nothing is sent twice.
    let o = run(mail_flags(bin().args(["mail", "--period", PERIOD]).arg("--out").arg(&out), smtp.port));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("already sent"), "{}", text(&o.stderr));
    assert_eq!(smtp.messages().len(), 3);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(PERIOD).join("mail-sent.json")).unwrap()).unwrap();
    assert_eq!(record["sent"].as_array().unwrap().len(), 3);
}

#[test]
fn with_the_smtp_server_down_nothing_is_lost_and_a_later_run_sends_each_message_once() {
    let f = fixture();
    let out = f.root.path().join("outage");
    copy_dir(&f.closed(), &out.join(PERIOD)).unwrap();
    let port = common::free_port();
    let mail = || {
        let mut c = bin();
        c.args(["mail", "--period", PERIOD]).arg("--out").arg(&out);
        mail_flags(&mut c, port);
        c
    };
    // Nobody listens on the port.
    let o = run(&mut mail());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("NOT sent").count(), 3, "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    assert!(!out.join(PERIOD).join("mail-sent.json").exists(), "nothing recorded as sent");

    // Dry run: prints the messages, sends and records nothing.
    let o = run(mail().arg("--dry-run"));
    assert!(o.status.success());
    let printed = text(&o.stdout);
    assert_eq!(printed.lines().filter(|l| l.starts_with("To: ")).count(), 3, "{printed}");

    let maildir = f.root.path().join("maildir-2");
    let smtp = Smtp::start(port, &maildir);
    let o = run(&mut mail());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(received(&smtp), expected_mail());
    let o = run(&mut mail());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(received(&smtp), expected_mail(), "each message exactly once");
    let ids: std::collections::BTreeSet<String> =
        smtp.messages().iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3, "distinct, stable message ids");
}

#[test]
fn a_close_started_twice_at_the_same_time_runs_once_and_mails_each_message_once() {
    let f = fixture();
    let maildir = f.root.path().join("maildir-twice");
    let smtp = Smtp::start(common::free_port(), &maildir);
    let out = f.root.path().join("twice");
    let spawn = || {
        mail_flags(f.close(&f.rules, &out).arg("--mail"), smtp.port)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (text(&a.stderr), text(&b.stderr));
    assert!(a.status.success() && b.status.success(), "first:\n{ea}\nsecond:\n{eb}");
    // One of them wrote the month and sent the mail; the other waited for
    // it, then found identical files and nothing left to send.
    let waited = [&ea, &eb].iter().filter(|e| e.contains("is running") && e.contains("waiting for it")).count();
    assert_eq!(waited, 1, "exactly one waited for the lock:\nfirst:\n{ea}\nsecond:\n{eb}");
    assert!([&ea, &eb].iter().any(|e| e.contains("already closed with identical files")), "{ea}\n{eb}");
    assert_eq!(received(&smtp), expected_mail(), "each message once");
    for name in FILES {
        assert_eq!(std::fs::read(out.join(PERIOD).join(name)).unwrap(), f.file(name), "{name}");
    }
}

/// Queries Prometheus ran (its query log has one line per query; the first
/// is the readiness probe).
fn logged_queries(p: &Prometheus) -> usize {
    std::fs::read_to_string(p.query_log()).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0)
}

/// Prometheus killed (SIGKILL) in the middle of the close's read: the close
/// fails naming the query, writes and mails nothing; once Prometheus is back
/// the same command closes the month exactly as an undisturbed close did.
#[test]
fn prometheus_killed_in_the_middle_of_a_close_writes_nothing_and_the_rerun_closes_the_same_month() {
    let f = fixture();
    let plan = plan();
    let prometheus = Prometheus::start(&plan.series("fleet-node"), plan.span);
    let proxy = common::proxy::Proxy::start(prometheus.port);
    proxy.set_delay(std::time::Duration::from_millis(150)); // a read of several seconds
    let out = f.root.path().join("killed");
    let maildir = f.root.path().join("maildir-killed");
    let smtp = Smtp::start(common::free_port(), &maildir);
    let close = |url: &str| {
        let mut c = bin();
        // PromQL, whose queries the query log counts (a remote read cut
        // short is `remote_read`'s test); the rerun must still give the
        // bytes of the fixture's close, read with remote read.
        c.args([
            "close",
            "--period",
            PERIOD,
            "--query.attempts=2",
            "--source.protocol=promql",
            "--prometheus.url",
            url,
        ])
        .arg("--rules.dir")
        .arg(&f.rules)
        .arg("--out")
        .arg(&out);
        mail_flags(c.arg("--mail"), smtp.port).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let child = close(&proxy.url());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while logged_queries(&prometheus) < 4 {
        assert!(std::time::Instant::now() < deadline, "the close sent no queries");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(prometheus); // SIGKILL, with queries in flight and most of the month unread
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Prometheus") && err.contains("query `"), "the error names the query: {err}");
    assert!(!out.join(PERIOD).exists(), "no statement from a partial read");
    assert!(smtp.messages().is_empty(), "nothing mailed");

    // Prometheus is back (same data, another port): the same command closes the month.
    let again = Prometheus::start(&plan.series("fleet-node"), plan.span);
    proxy.set_delay(std::time::Duration::ZERO);
    proxy.set_upstream(again.port);
    let o = close(&proxy.url()).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    for name in ["statement.json", "statement.csv"] {
        assert_eq!(std::fs::read(out.join(PERIOD).join(name)).unwrap(), f.file(name), "{name}");
    }
    assert_eq!(received(&smtp), expected_mail(), "each message once");
}

#[test]
fn an_unwritable_output_directory_is_a_clear_error_and_nothing_is_sent() {
    let f = fixture();
    let maildir = f.root.path().join("maildir-unwritable");
    let smtp = Smtp::start(common::free_port(), &maildir);
    // A regular file where the output directory should be (tests run as
    // root here, so permissions alone would not stop a write).
    let blocker = f.root.path().join("not-a-directory");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("out");
    let o = run(mail_flags(f.close(&f.rules, &out).arg("--mail"), smtp.port));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&out.display().to_string()), "the error names the directory: {err}");
    assert!(smtp.messages().is_empty(), "nothing is mailed from a close that was not written");
}

#[test]
fn the_smtp_password_is_never_printed_or_logged_even_at_trace_level() {
    let f = fixture();
    let out = f.root.path().join("secret");
    copy_dir(&f.closed(), &out.join(PERIOD)).unwrap();
    let secret = "pw-Zq8-never-shown";
    let password_file = f.root.path().join("smtp-password");
    std::fs::write(&password_file, format!("{secret}\n")).unwrap();
    let smtp = Smtp::start(common::free_port(), &f.root.path().join("maildir-secret"));
    let mail = |from_file: bool, extra: &[&str]| {
        let mut c = bin();
        c.args(["mail", "--period", PERIOD, "--log.level", "trace", "--smtp.user", "fleet"]).arg("--out").arg(&out);
        if from_file {
            c.arg("--smtp.password-file").arg(&password_file);
        } else {
            c.env("FLEET_SMTP_PASSWORD", secret);
        }
        mail_flags(&mut c, smtp.port).args(extra);
        run(&mut c)
    };
    // A dry run prints the messages; a real run logs the SMTP exchange,
    // which fails (the test server offers no AUTH): neither shows the password.
    for (from_file, extra) in [(true, &["--dry-run"][..]), (true, &[][..]), (false, &[][..])] {
        let o = mail(from_file, extra);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        if extra.is_empty() {
            assert!(all.contains("No compatible authentication mechanism"), "the credentials were used:\n{all}");
        }
        assert!(!all.contains(secret), "the password was shown ({extra:?}):\n{all}");
        // Logs written to a pipe (not a terminal) carry no colour escapes.
        let err = text(&o.stderr);
        if extra.is_empty() {
            assert!(err.contains("WARN"), "the failed sending is logged:\n{err}");
        }
        assert!(!err.contains('\x1b'), "colour escapes in logs written to a pipe:\n{err}");
    }
}
