//! Holds and the enforcement ladder through the binary, against ONE real
//! Prometheus holding the quarter of `history` (July–September 2026),
//! closed month by month: op-b suspended from July 10 through August 31 —
//! July and August computed and held, September paying them with its own;
//! op-a throttled in August — its bonus (its tier's `throttled_lines`) not
//! paid. The same quarter closed again with the kill switch
//! (`programme.hold_all`) from September: every statement says it, the
//! payroll file pays 0 and names the hold, `mail` against a real SMTP
//! server sends nothing payable, the held statement renders in headless
//! Chromium. Re-closing and replaying are byte-identical.

use crate::close::{Smtp, mail_flags};
use crate::common;
use crate::history::{Fixture, bin, ok, statement};
use common::chromium::{Chromium, visible_text};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const RULES: &str = r#"version: 1
programme: {name: Holds programme, currency: USD, time_zone: UTC}
source: {up: 'up{job="fleet-node"}', node_label: instance, region_label: region, step: 1m, failure_after: 5m}
severities:
  - {id: P2, name: Node, definition: a node down, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
tiers:
  - id: t1
    name: Tier 1
    throttled_lines: [bonus]
    lines:
      - {id: base, name: Base stipend, kind: fixed, category: stipend, amount: 500}
      - {id: bonus, name: Programme bonus, kind: fixed, category: performance_bonus, amount: 100}
operators:
  - id: op-a
    name: A
    email: a@example.org
    tier: t1
    start: 2026-07-01
    nodes: [n1]
    states: [{state: throttled, since: 2026-08-05, until: 2026-08-20, reason: SLA breaches in July}]
  - id: op-b
    name: B
    email: b@example.org
    tier: t1
    start: 2026-07-01
    nodes: [n2]
    states: [{state: suspended, since: 2026-07-10, until: 2026-08-31, reason: Node n2 under review (SEC-4)}]
"#;

/// The kill switch, from September on.
const HOLD_ALL: &str = "programme: {name: Holds programme, currency: USD, time_zone: UTC, hold_all: {since: 2026-09-01, reason: Payout audit FIN-88}}";

const MONTHS: [&str; 3] = ["2026-07", "2026-08", "2026-09"];

struct Holds {
    f: Fixture,
    /// The rules with the kill switch, and the quarter closed under them.
    killed_rules: PathBuf,
    killed: PathBuf,
}

fn fixture() -> &'static Holds {
    static F: OnceLock<Holds> = OnceLock::new();
    F.get_or_init(|| {
        let f = Fixture::start(&[("rules.yaml", RULES)]);
        for m in MONTHS {
            ok(f.close(m, &f.out));
        }
        let killed_rules = f.root.path().join("rules-hold-all");
        std::fs::create_dir_all(&killed_rules).unwrap();
        let first = RULES.lines().nth(1).unwrap();
        std::fs::write(killed_rules.join("rules.yaml"), RULES.replacen(first, HOLD_ALL, 1)).unwrap();
        let killed = f.root.path().join("out-hold-all");
        ok(bin()
            .args(["close", "--from", "2026-07", "--period", "2026-09", "--prometheus.url", &f.prometheus.url()])
            .arg("--rules.dir")
            .arg(&killed_rules)
            .arg("--out")
            .arg(&killed)
            .output()
            .unwrap());
        Holds { f, killed_rules, killed }
    })
}

fn payee<'a>(statement: &'a Value, id: &str) -> &'a Value {
    statement["evaluation"]["operators"].as_array().unwrap().iter().find(|o| o["id"] == id).unwrap()
}

/// `(payable, held_in, held_out)` of a payee's month; `-` when absent.
fn held(statement: &Value, id: &str) -> (String, String, String) {
    let p = payee(statement, id);
    let s = |k: &str| p[k].as_str().unwrap_or("-").to_string();
    (s("payable"), s("held_in"), s("held_out"))
}

fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn a_suspended_payee_is_held_while_suspended_and_paid_all_of_it_in_the_first_month_after() {
    let h = fixture();
    let month = |m: &str| statement(&h.f.out.join(m));
    let jul = month("2026-07");
    assert_eq!(payee(&jul, "op-b")["total"], "600.00", "pay is computed");
    assert_eq!(held(&jul, "op-b"), t("0.00", "-", "600.00"));
    let hold = &payee(&jul, "op-b")["holds"][0];
    assert_eq!((hold["state"].as_str(), hold["since"].as_str()), (Some("suspended"), Some("2026-07-10")));
    assert_eq!(hold["reason"], "Node n2 under review (SEC-4)");
    assert_eq!(held(&month("2026-08"), "op-b"), t("0.00", "600.00", "1200.00"));
    let sep = month("2026-09");
    assert_eq!(held(&sep, "op-b"), t("1800.00", "1200.00", "-"), "released with September's 600");
    assert!(payee(&sep, "op-b").get("states").is_none() && payee(&sep, "op-b").get("holds").is_none());
    assert_eq!(sep["evaluation"]["payable"], "2400.00");
    assert_eq!(jul["evaluation"]["payable"], "600.00", "op-a's only");
    // The payroll file pays what the ledger says.
    let payroll = std::fs::read_to_string(h.f.out.join("2026-07/payroll.csv")).unwrap();
    assert!(
        payroll.contains("\r\n2026-07,operator,op-b,B,0.00,USD,suspended,600.00,suspended,2026-07-op-b,\r\n"),
        "{payroll}"
    );
    let payroll = std::fs::read_to_string(h.f.out.join("2026-09/payroll.csv")).unwrap();
    assert!(payroll.contains("\r\n2026-09,operator,op-b,B,1800.00,USD,none,0.00,,2026-09-op-b,\r\n"), "{payroll}");
    // explain says so.
    let evidence = h.f.out.join("2026-08/evidence.json");
    let o = ok(bin().args(["explain", "--operator", "op-b", "--evidence"]).arg(evidence).output().unwrap());
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "payable 0.00 USD: held; balance carried in 0.00 + held carried in 600.00 + total, at least 0, is held (1200.00)",
        "state: suspended since 2026-07-10 until 2026-08-31: Node n2 under review (SEC-4)",
        "payout held (suspended since 2026-07-10 until 2026-08-31: Node n2 under review (SEC-4)): nothing is payable; held and carried into the next month: 1200.00 USD",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}

#[test]
fn a_throttled_payee_is_not_paid_the_lines_its_tier_stops() {
    let h = fixture();
    let aug = statement(&h.f.out.join("2026-08"));
    let a = payee(&aug, "op-a");
    let bonus = a["lines"].as_array().unwrap().iter().find(|l| l["id"] == "bonus").unwrap();
    assert_eq!((bonus["status"].as_str(), bonus["amount"].as_str()), (Some("not_met"), Some("0.00")));
    let reason = bonus["reason"].as_str().unwrap();
    assert!(reason.starts_with("not paid: throttled since 2026-08-05 (SLA breaches in July): tier `t1` stops this line while throttled (`throttled_lines`); it would have paid 100.00"), "{reason}");
    assert_eq!((a["total"].as_str(), a["payable"].as_str()), (Some("500.00"), Some("500.00")));
    assert_eq!(a["states"][0]["state"], "throttled");
    for m in ["2026-07", "2026-09"] {
        assert_eq!(payee(&statement(&h.f.out.join(m)), "op-a")["total"], "600.00", "{m}: not throttled");
    }
}

#[test]
fn the_kill_switch_holds_every_payout_the_payroll_pays_nothing_and_every_statement_says_why() {
    let h = fixture();
    let sep = statement(&h.killed.join("2026-09"));
    let e = &sep["evaluation"];
    assert_eq!(e["hold_all"]["reason"], "Payout audit FIN-88");
    assert_eq!((e["payable"].as_str(), e["total"].as_str()), (Some("0.00"), Some("1200.00")));
    assert_eq!(held(&sep, "op-a"), t("0.00", "-", "600.00"));
    assert_eq!(
        held(&sep, "op-b"),
        t("0.00", "1200.00", "1800.00"),
        "op-b's suspension ended; the kill switch holds on"
    );
    // July and August are as without it.
    for m in ["2026-07", "2026-08"] {
        assert_eq!(
            std::fs::read(h.killed.join(m).join("payroll.csv")).unwrap(),
            std::fs::read(h.f.out.join(m).join("payroll.csv")).unwrap(),
            "{m}"
        );
    }
    let payroll = std::fs::read_to_string(h.killed.join("2026-09/payroll.csv")).unwrap();
    let rows: Vec<&str> = payroll.lines().skip(1).collect();
    assert_eq!(
        rows,
        [
            "2026-09,operator,op-a,A,0.00,USD,programme_hold,600.00,,2026-09-op-a,",
            "2026-09,operator,op-b,B,0.00,USD,programme_hold,1800.00,,2026-09-op-b,",
        ]
    );
    // Every HTML statement says it, with the reason.
    for id in ["op-a", "op-b"] {
        let html = std::fs::read_to_string(h.killed.join("2026-09/statements").join(format!("{id}.html"))).unwrap();
        assert!(html.contains("Every payout of the programme is held since 2026-09-01: Payout audit FIN-88"), "{id}");
    }
    // The programme report says it too.
    let report = std::fs::read_to_string(h.killed.join("2026-09/programme-report.md")).unwrap();
    assert!(
        report.contains("> **All payouts are held** (`programme.hold_all`) since 2026-09-01: Payout audit FIN-88."),
        "{report}"
    );
    let report = std::fs::read_to_string(h.f.out.join("2026-09/programme-report.md")).unwrap();
    assert!(!report.contains("All payouts are held"), "{report}");
    // And the table.
    let evidence = h.killed.join("2026-09/evidence.json");
    let o = ok(bin().args(["replay", "--format", "table", "--evidence"]).arg(evidence).output().unwrap());
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("Total payable: 0.00 USD\nAll payouts held: programme hold (every payout) since 2026-09-01: Payout audit FIN-88"), "{table}");
}

#[test]
fn mail_under_the_kill_switch_sends_nothing_payable_and_tells_finance() {
    let h = fixture();
    let maildir = h.f.root.path().join("maildir-holds");
    let smtp = Smtp::start(common::free_port(), &maildir);
    let o = mail_flags(bin().args(["mail", "--period", "2026-09"]).arg("--out").arg(&h.killed), smtp.port)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3, "finance and both operators");
    for m in &messages {
        let (rcpt, subject, body) =
            (m["rcpt"].as_str().unwrap(), m["subject"].as_str().unwrap(), m["body"].as_str().unwrap());
        if rcpt == "finance@example.org" {
            assert_eq!(subject, "Holds programme: statement 2026-09 (total 1200.00 USD; ALL PAYOUTS HELD)");
            assert!(
                body.contains(
                    "ALL PAYOUTS ARE HELD: programme hold (every payout) since 2026-09-01: Payout audit FIN-88."
                ),
                "{body}"
            );
            assert!(body.contains("Total payable: 0.00 USD"), "{body}");
            let payroll = m["attachments"]["payroll-2026-09.csv"].as_str().expect("the payroll file attached");
            assert_eq!(
                payroll.replace("\r\n", "\n"),
                std::fs::read_to_string(h.killed.join("2026-09/payroll.csv")).unwrap().replace("\r\n", "\n")
            );
        } else {
            assert_eq!(subject, "Holds programme: your statement for 2026-09 (payout held)", "{rcpt}");
            assert!(body.contains("payable                                              0.00 USD"), "{rcpt}: {body}");
            assert!(body.contains("Your payout for 2026-09 is held (programme hold (every payout) since 2026-09-01: Payout audit FIN-88)."), "{body}");
        }
    }
    // Without the kill switch September's mail pays: a control.
    let dry =
        mail_flags(bin().args(["mail", "--period", "2026-09", "--dry-run"]).arg("--out").arg(&h.f.out), smtp.port)
            .output()
            .unwrap();
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        printed.contains("your statement for 2026-09 (600.00 USD)") && !printed.contains("payout held"),
        "{printed}"
    );
}

#[test]
fn a_held_statement_shows_the_hold_in_a_browser() {
    let h = fixture();
    let chromium = Chromium::start();
    let page = h.f.out.join("2026-08/statements/op-b.html");
    let shown = visible_text(&chromium.dump_dom(&page));
    for needle in [
        "Total this month $600.00 Payable $0.00 · payout held",
        "Payout held Nothing is paid for August 2026 now: $1200.00 is carried as held and paid in the first month closed without a hold.",
        "Your payouts are suspended since 2026-07-10 until 2026-08-31: Node n2 under review (SEC-4)",
        "Held in earlier months, carried in $600.00",
        "Payable: held, nothing is paid now $0.00",
        "Held, carried into the next month $1200.00",
        "suspended 2026-07-10 2026-08-31 Node n2 under review (SEC-4)",
    ] {
        assert!(shown.contains(needle), "`{needle}` is not shown:\n{shown}");
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("holds");
    std::fs::create_dir_all(&dir).unwrap();
    chromium.screenshot(&page, &dir.join("op-b-2026-08.png"), (1024, 1500));
    let killed = h.killed.join("2026-09/statements/op-a.html");
    let shown = visible_text(&chromium.dump_dom(&killed));
    assert!(shown.contains("Every payout of the programme is held since 2026-09-01: Payout audit FIN-88"), "{shown}");
    chromium.screenshot(&killed, &dir.join("op-a-2026-09-hold-all.png"), (1024, 1500));
}

#[test]
fn reclosing_and_replaying_are_byte_identical() {
    let h = fixture();
    for (rules, out) in [(&h.f.rules, &h.f.out), (&h.killed_rules, &h.killed)] {
        let o = ok(bin()
            .args(["close", "--period", "2026-09", "--prometheus.url", &h.f.prometheus.url()])
            .arg("--rules.dir")
            .arg(rules)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap());
        assert!(String::from_utf8_lossy(&o.stderr).contains("already closed with identical files"));
        for m in MONTHS {
            let evidence = out.join(m).join("evidence.json");
            let o = ok(bin().args(["replay", "--format", "json", "--evidence"]).arg(evidence).output().unwrap());
            assert!(
                o.stdout == std::fs::read(out.join(m).join("statement.json")).unwrap(),
                "{m}: replay = the closed statement"
            );
        }
    }
}

/// The ledger panels (finance) and the payee panels of the operator
/// scorecard (payable, year to date, standing, eligible since) answer from a
/// Prometheus that scraped `serve` live in August, July closed: op-a
/// throttled and disputing July's stipend, op-b suspended (held), an
/// adjustment. The demo fleet has none of these (tests/it/serve.rs).
#[test]
fn the_ledger_and_standing_panels_have_data_from_a_prometheus_that_scraped_serve() {
    let h = fixture();
    let rules = h.f.root.path().join("rules-panels");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(h.f.rules.join("rules.yaml"), rules.join("rules.yaml")).unwrap();
    std::fs::write(
        rules.join("ledger.yaml"),
        "version: 1\n\
         disputes:\n  - {id: d-1, payee: op-a, period: 2026-07, line: base, opened_on: 2026-08-02, opened_by: A, text: Two nodes, status: open}\n\
         adjustments:\n  - {id: adj-1, payee: op-a, amount: 25, currency: USD, reason: On call, reference: FIN-1, approved_by: Dana, period: 2026-08}\n",
    )
    .unwrap();
    let port = common::free_port();
    let plan = crate::history::plan();
    let scrape = format!("[{{job_name: fleet-incentives, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]");
    let prom = common::Prometheus::start_scraping(&plan.series("fleet-node"), plan.span, &scrape);
    let history = format!("--history.dir={}", h.f.out.display());
    let mut serve =
        common::serve::Serve::start(port, &prom.url(), &rules, &["--clock.start=2026-08-15T12:00:00Z", &history]);
    serve.wait_ready();
    common::dashboards::wait_for_scrapes(prom.port, "fleet_incentives_payee_payable_amount", 3.0);
    let ours = |title: &str| {
        title.starts_with("Ledger")
            || ["Payable", "Year to date", "Standing", "Promotion eligible since"].contains(&title)
    };
    let boards = common::dashboards::load_dashboards();
    let checked: Vec<&str> = boards
        .iter()
        .flat_map(|b| b.panels())
        .filter(|p| !common::dashboards::is_row(p))
        .filter_map(|p| p["title"].as_str())
        .filter(|t| ours(t))
        .collect();
    assert_eq!(checked.len(), 10, "{checked:?}");
    // The scorecard's operator is the first one (op-a), throttled; nobody is
    // eligible for a promotion here (one tier), so "eligible since" has no
    // row: the exporter-shaped test of tests/it/dashboards.rs covers it.
    let failures: Vec<String> = common::dashboards::check_panels_against(&prom.url())
        .into_iter()
        .filter(|f| ours(&f.panel) && f.panel != "Promotion eligible since")
        .map(|f| f.to_string())
        .collect();
    assert!(failures.is_empty(), "panels without data:\n{}", failures.join("\n"));
}
