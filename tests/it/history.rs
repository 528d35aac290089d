//! History across months through the binary, against ONE real Prometheus
//! holding a whole quarter (July–September 2026): three consecutive
//! closes, the third one's quarter figures pooled over all three months;
//! a month missing from the closed months withholds what needs it, naming
//! the month; re-closing is byte-identical; a replay needs no closed
//! months; `evaluate --history.dir` reads the same history as `close`.

use crate::common;

use chrono::{TimeZone, Utc};
use common::fleet::{Node, Plan};
use common::{Prometheus, Span};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const RULES: &str = r#"version: 1
programme: {name: History programme, currency: USD, time_zone: UTC}
source: {up: 'up{job="fleet-node"}', node_label: instance, region_label: region, step: 1m, failure_after: 5m}
severities:
  - {id: P1, name: Major, definition: a node down, when: "nodes_down >= 1 && duration_seconds > 3600", respond_within: 30m, resolve_within: 8h, major: true}
  - {id: P2, name: Node, definition: a node down, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
aggregates:
  - {name: uptime_q, of: uptime, over: quarter}
  - {name: major_3m, of: major_incidents, over: 3 months, how: sum}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base, kind: fixed, amount: 100}
      - {id: quarter_bonus, name: Quarter bonus, kind: fixed, amount: 300, when: "period_month % 3 == 0 && uptime_q > 0.995"}
      - {id: calm, name: Calm quarter, kind: fixed, amount: 50, when: "major_3m < 1"}
  - id: t2
    name: Tier 2
    lines:
      - {id: base, name: Base, kind: fixed, amount: 150}
promotions:
  - from: t1
    to: t2
    checks:
      # Tier 2's shape (rules/promotions.yaml) over this quarter: months in
      # the tier, pooled uptime over them, no major incident in them.
      - {name: two months in tier, when: "tier_months >= 2"}
      - {name: pooled uptime over the quarter, when: "uptime_q > 0.995"}
      - {name: no major incident in 3 months, when: "major_3m < 1"}
operators:
  - {id: op-a, name: A, tier: t1, start: 2026-07-01, nodes: [n1]}
  - {id: op-b, name: B, tier: t1, start: 2026-07-01, nodes: [n2]}
"#;

/// Down minutes of n1 in August (a major incident); n2 is up all quarter.
const AUGUST_DOWN_MINUTES: i64 = 2000;

pub(super) fn plan() -> Plan {
    let start = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let down = Utc.with_ymd_and_hms(2026, 8, 10, 12, 0, 0).unwrap();
    let node = |name: &str, region: &str, operator: &str| Node {
        name: name.into(),
        region: region.into(),
        operator: operator.into(),
    };
    Plan {
        span: Span { start, end, step: 60 },
        nodes: vec![node("n1", "eu", "op-a"), node("n2", "us", "op-b")],
        outages: vec![(vec!["n1".into()], down, down + chrono::Duration::minutes(AUGUST_DOWN_MINUTES))],
        gaps: vec![],
    }
}

pub(super) struct Fixture {
    pub(super) prometheus: Prometheus,
    pub(super) root: tempfile::TempDir,
    pub(super) rules: PathBuf,
    pub(super) out: PathBuf,
}

pub(super) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env("RUST_LOG", "warn");
    c
}

pub(super) fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}: {}", o.status, String::from_utf8_lossy(&o.stderr));
    o
}

impl Fixture {
    /// A real Prometheus holding the quarter of [`plan`], and a rules
    /// directory of `files` (name, text).
    pub(super) fn start(files: &[(&str, &str)]) -> Fixture {
        let plan = plan();
        let prometheus = Prometheus::start(&plan.series("fleet-node"), plan.span);
        let root = tempfile::tempdir().unwrap();
        let rules = root.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        for (name, text) in files {
            std::fs::write(rules.join(name), text).unwrap();
        }
        let out = root.path().join("out");
        Fixture { prometheus, root, rules, out }
    }

    pub(super) fn close(&self, period: &str, out: &Path) -> Output {
        bin()
            .args(["close", "--period", period, "--prometheus.url", &self.prometheus.url()])
            .arg("--rules.dir")
            .arg(&self.rules)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    }
}

/// The quarter closed month by month into `out`.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let f = Fixture::start(&[("rules.yaml", RULES)]);
        for month in ["2026-07", "2026-08", "2026-09"] {
            ok(f.close(month, &f.out));
        }
        f
    })
}

pub(super) fn statement(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("statement.json")).unwrap()).unwrap()
}

fn line<'a>(statement: &'a Value, operator: &str, id: &str) -> &'a Value {
    let op = statement["evaluation"]["operators"].as_array().unwrap().iter().find(|o| o["id"] == operator).unwrap();
    op["lines"].as_array().unwrap().iter().find(|l| l["id"] == id).unwrap()
}

fn operator<'a>(statement: &'a Value, id: &str) -> &'a Value {
    statement["evaluation"]["operators"].as_array().unwrap().iter().find(|o| o["id"] == id).unwrap()
}

#[test]
fn the_third_close_pools_the_quarter_over_all_three_closed_months() {
    let f = fixture();
    let sep = statement(&f.out.join("2026-09"));
    // n1's quarter: 92 days of minutes, 2,000 of them down (in August).
    let pooled = 1.0 - AUGUST_DOWN_MINUTES as f64 / (92.0 * 1440.0);
    let a = line(&sep, "op-a", "quarter_bonus");
    assert_eq!(a["status"], "not_met", "{a}");
    let read: f64 = a["inputs"]["uptime_q"].as_str().unwrap().parse().unwrap();
    assert!((read - pooled).abs() < 1e-12, "uptime_q {read}, pooled from the plan {pooled}");
    // September alone was a perfect month for op-a: only the history says otherwise.
    assert_eq!(operator(&sep, "op-a")["variables"]["uptime"], 1.0);
    assert_eq!(line(&sep, "op-b", "quarter_bonus")["status"], "paid");
    assert_eq!(line(&sep, "op-b", "quarter_bonus")["amount"], "300.00");
    // August's major incident counts for three months.
    assert_eq!(line(&sep, "op-a", "calm")["status"], "not_met");
    assert_eq!(line(&sep, "op-a", "calm")["inputs"]["major_3m"], "1");
    // Year to date: the three months' totals.
    let ytd = &operator(&sep, "op-b")["year_to_date"];
    assert_eq!(ytd["months"], serde_json::json!(["2026-07", "2026-08", "2026-09"]));
    assert_eq!(ytd["total"], "750.00", "base 3 × 100 + calm 3 × 50 + the quarter bonus 300: {ytd}");
    assert_eq!(ytd["lines"]["quarter_bonus"], "300.00");
    // op-b has been eligible since its second month in the tier; op-a's
    // August outage keeps it from promotion in a perfect September.
    assert_eq!(operator(&sep, "op-b")["promotion"]["eligible_since"], "2026-08");
    let a = &operator(&sep, "op-a")["promotion"];
    assert_eq!(a["eligible"], false, "{a}");
    let failed: Vec<&str> = a["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["pooled uptime over the quarter", "no major incident in 3 months"]);
    // The evidence names the closed months it read, with their statements' SHA-256.
    let evidence: Value = serde_json::from_slice(&std::fs::read(f.out.join("2026-09/evidence.json")).unwrap()).unwrap();
    for m in ["2026-07", "2026-08"] {
        let bytes = std::fs::read(f.out.join(m).join("statement.json")).unwrap();
        let sha = sha256_hex(&bytes);
        assert_eq!(evidence["history"]["months"][m]["statement_sha256"], sha.as_str(), "{m}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_month_missing_from_the_closed_months_withholds_what_needs_it_naming_the_month() {
    let f = fixture();
    let out = f.root.path().join("out-without-august");
    std::fs::create_dir_all(&out).unwrap();
    fleet_incentives::local_prometheus::copy_dir(&f.out.join("2026-07"), &out.join("2026-07")).unwrap();
    ok(f.close("2026-09", &out));
    let sep = statement(&out.join("2026-09"));
    for op in ["op-a", "op-b"] {
        for id in ["quarter_bonus", "calm"] {
            let l = line(&sep, op, id);
            assert_eq!(l["status"], "withheld", "{op} {id}: {l}");
            assert!(l["reason"].as_str().unwrap().contains("2026-08 is not closed"), "{op} {id}: {l}");
        }
        assert_eq!(line(&sep, op, "base")["status"], "paid", "what needs no history is paid");
        assert_eq!(operator(&sep, op)["year_to_date"]["missing"], serde_json::json!(["2026-08"]));
        assert_eq!(operator(&sep, op)["year_to_date"]["total"], Value::Null);
    }
}

#[test]
fn reclosing_with_the_same_history_is_byte_identical_and_a_replay_needs_no_closed_months() {
    let f = fixture();
    let before: Vec<Vec<u8>> = ["statement.json", "evidence.json"]
        .iter()
        .map(|n| std::fs::read(f.out.join("2026-09").join(n)).unwrap())
        .collect();
    let o = ok(f.close("2026-09", &f.out));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already closed with identical files"));
    // The evidence alone, away from the closed months.
    let alone = f.root.path().join("evidence-alone.json");
    std::fs::write(&alone, &before[1]).unwrap();
    let o = ok(bin().args(["replay", "--format", "json", "--evidence"]).arg(&alone).output().unwrap());
    assert_eq!(o.stdout, before[0], "replay = the closed statement, byte for byte");
}

#[test]
fn evaluate_with_the_history_dir_reads_what_close_read() {
    let f = fixture();
    let o = ok(bin()
        .args(["evaluate", "--period", "2026-09", "--format", "json", "--at", "2026-10-01T00:00:00Z"])
        .args(["--prometheus.url", &f.prometheus.url()])
        .arg("--rules.dir")
        .arg(&f.rules)
        .arg("--history.dir")
        .arg(&f.out)
        .output()
        .unwrap());
    let evaluated: Value = serde_json::from_slice(&o.stdout).unwrap();
    let closed = statement(&f.out.join("2026-09"));
    assert_eq!(evaluated["operators"], closed["evaluation"]["operators"]);
    // Without it, the quarter is unknown and says which months are missing.
    let o = ok(bin()
        .args(["evaluate", "--period", "2026-09", "--format", "json", "--at", "2026-10-01T00:00:00Z"])
        .args(["--prometheus.url", &f.prometheus.url()])
        .arg("--rules.dir")
        .arg(&f.rules)
        .output()
        .unwrap());
    let bare: Value = serde_json::from_slice(&o.stdout).unwrap();
    let a = bare["operators"][0]["lines"].as_array().unwrap().iter().find(|l| l["id"] == "quarter_bonus").unwrap();
    assert!(a["reason"].as_str().unwrap().contains("2026-07, 2026-08 are not closed"), "{a}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no --history.dir"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn close_from_closes_the_months_in_order_as_one_close_each_would() {
    let f = fixture();
    let out = f.root.path().join("out-from");
    let o = ok(bin()
        .args(["close", "--from", "2026-07", "--period", "2026-09", "--prometheus.url", &f.prometheus.url()])
        .arg("--rules.dir")
        .arg(&f.rules)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap());
    let log = String::from_utf8_lossy(&o.stderr);
    let order: Vec<usize> = ["2026-07: wrote", "2026-08: wrote", "2026-09: wrote"]
        .iter()
        .map(|m| log.find(m).unwrap_or_else(|| panic!("{m} not in {log}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in order: {log}");
    for m in ["2026-07", "2026-08", "2026-09"] {
        for file in ["statement.json", "evidence.json", "statement.csv"] {
            let one_by_one = std::fs::read(f.out.join(m).join(file)).unwrap();
            assert!(std::fs::read(out.join(m).join(file)).unwrap() == one_by_one, "{m}/{file}");
        }
    }
    let o = bin()
        .args(["close", "--from", "2026-10", "--period", "2026-09", "--prometheus.url", &f.prometheus.url()])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from: 2026-10 is after 2026-09"));
}

/// Opening figures (rules `opening_figures:`) for `months`, copied from
/// what their closed statements recorded.
fn opening_figures(out: &Path, months: &[&str]) -> String {
    let mut yaml = String::from("version: 1\nopening_figures:\n");
    for m in months {
        yaml.push_str(&format!("  - period: {m}\n    operators:\n"));
        for op in statement(&out.join(m))["evaluation"]["operators"].as_array().unwrap() {
            let av = &op["availability"];
            let lines: serde_json::Map<String, Value> = op["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (l["id"].as_str().unwrap().into(), l["amount"].clone()))
                .collect();
            yaml.push_str(&format!(
                "      {}: {{tier: {}, up_seconds: {}, down_seconds: {}, unknown_seconds: {}, maintenance_seconds: {}, variables: {}, lines: {}, eligible: {}}}\n",
                op["id"].as_str().unwrap(),
                op["tier"].as_str().unwrap(),
                av["up_seconds"],
                av["down_seconds"],
                av["unknown_seconds"],
                av["maintenance_seconds"],
                op["variables"],
                Value::Object(lines),
                op["promotion"]["eligible"],
            ));
        }
    }
    yaml
}

#[test]
fn opening_figures_in_the_rules_stand_for_months_never_closed() {
    let f = fixture();
    // The same quarter, with July and August given by hand in git and only
    // September closed.
    let rules = f.root.path().join("rules-with-opening");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("rules.yaml"), RULES).unwrap();
    std::fs::write(rules.join("opening.yaml"), opening_figures(&f.out, &["2026-07", "2026-08"])).unwrap();
    let out = f.root.path().join("out-opening");
    ok(bin()
        .args(["close", "--period", "2026-09", "--prometheus.url", &f.prometheus.url()])
        .arg("--rules.dir")
        .arg(&rules)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap());
    let sep = statement(&out.join("2026-09"));
    let closed = statement(&f.out.join("2026-09"));
    assert_eq!(
        sep["evaluation"]["operators"], closed["evaluation"]["operators"],
        "the quarter, the YTD, eligible since"
    );
    assert_eq!(line(&sep, "op-a", "quarter_bonus")["status"], "not_met", "August's outage, from the opening figures");
    // The opening figures travel with the rules in the evidence: a replay
    // away from both is byte-identical.
    let alone = f.root.path().join("evidence-opening.json");
    std::fs::copy(out.join("2026-09/evidence.json"), &alone).unwrap();
    let o = ok(bin().args(["replay", "--format", "json", "--evidence"]).arg(&alone).output().unwrap());
    assert!(o.stdout == std::fs::read(out.join("2026-09/statement.json")).unwrap(), "replay = the closed statement");
    // A misspelt variable is a rules error with its place.
    let text =
        std::fs::read_to_string(rules.join("opening.yaml")).unwrap().replacen("major_incidents", "major_incidnts", 1);
    std::fs::write(rules.join("opening.yaml"), &text).unwrap();
    let o = bin().arg("check").arg(&rules).output().unwrap();
    let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success() && err.contains("opening.yaml:5:"), "{err}");
    assert!(err.contains("unknown operator variable `major_incidnts`; did you mean `major_incidents`?"), "{err}");
}

#[test]
fn serve_with_the_history_dir_shows_the_year_to_date_close_wrote() {
    use common::serve::{Serve, sample};
    let f = fixture();
    let metric = |op: &str| {
        format!(
            "fleet_incentives_payee_year_to_date_amount{{payee_kind=\"operator\",payee=\"{op}\",tier=\"t1\",currency=\"USD\"}}"
        )
    };
    // Live at the end of September, with July and August closed (serve
    // reads only the months before its own).
    let mut s = Serve::start(
        common::free_port(),
        &f.prometheus.url(),
        &f.rules,
        &["--clock.start=2026-09-30T23:58:00Z", &format!("--history.dir={}", f.out.display())],
    );
    s.wait_ready();
    let body = s.wait_metrics("year to date", |b| sample(b, &metric("op-a")).is_some());
    let sep = statement(&f.out.join("2026-09"));
    for op in ["op-a", "op-b"] {
        let closed: f64 = operator(&sep, op)["year_to_date"]["total"].as_str().unwrap().parse().unwrap();
        assert_eq!(sample(&body, &metric(op)), Some(closed), "{op}");
    }
    let since = "fleet_incentives_promotion_eligible_since_timestamp_seconds{operator=\"op-b\",to=\"t2\"}";
    let august = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap().timestamp() as f64;
    assert_eq!(sample(&body, since), Some(august));
    drop(s);
    // Without it: no year to date (July and August unknown).
    let mut s =
        Serve::start(common::free_port(), &f.prometheus.url(), &f.rules, &["--clock.start=2026-09-30T23:58:00Z"]);
    s.wait_ready();
    let body = s.wait_metrics("a payee total", |b| b.contains("fleet_incentives_payee_total_amount{"));
    assert_eq!(sample(&body, &metric("op-a")), None, "{body}");
}
