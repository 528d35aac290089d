//! Scores and flags against a REAL Prometheus (backfilled with promtool):
//! the operator-network example (rules/examples/operator-network, seed
//! 002's scorecard, performance tier, action thresholds, exclusivity and
//! equity flags) over October 2026, through the binary: the scorecard on
//! `serve`'s /metrics (month to date) and in a closed month's
//! statement.json and HTML statement. Every expected value comes from the
//! plan below.
//!
//! The plan, per operator: revenue, new customers and community
//! contributions are counters whose month is far above their targets (so
//! the month to date scores 100 too); the other measures are gauges.
//!
//! | | olga | pete | quinn |
//! |---|---|---|---|
//! | software revenue / month | 40,000 → 100 | 40,000 | 60,000 → 100 |
//! | new customers / month | 3 → 100 | 3 | 3 → 100 |
//! | renewal rate | 0.88 → 80 | 0.88 | 0.96 → 100 |
//! | days to go-live | 30 → 0 (action) | 21 | 21 → 50 |
//! | NPS | 45 → 75 | no series | 45 → 75 |
//! | training completion | 0.9 → 50 | 0.9 | 0.9 → 50 |
//! | community / month | 8 → 100 | 8 | 8 → 100 |
//! | active customers | 12 (Silver, 2) | 6 (Silver, 2) | 31 (Platinum, 4) |
//! | score | 25 + 20 + 16 + 0 + 7.5 + 2.5 + 5 = 76.0 | unknown | 25 + 20 + 20 + 7.5 + 7.5 + 2.5 + 5 = 87.5 |
//!
//! September is not closed: the "< 1 new customer for 2 months" threshold
//! is unknown for everyone, so "any action" is true for olga (her go-live
//! days) and unknown for quinn. quinn (month 24) meets exclusivity and
//! equity; olga (12 customers, month 10) neither.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::serve::{Serve, samples};
use common::{Prometheus, Series, Span};
use std::path::{Path, PathBuf};
use std::process::Command;

fn oct1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

fn nov1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// A counter rising by `per_month` over October.
fn counter(name: &str, operator: &str, per_month: f64) -> Series {
    let month = (nov1() - oct1()).num_seconds() as f64;
    Series::new(name, &[("operator", operator)], move |t| Some(per_month * (t - oct1()).num_seconds() as f64 / month))
}

fn gauge(name: &str, operator: &str, value: f64) -> Series {
    Series::new(name, &[("operator", operator)], move |_| Some(value))
}

fn series() -> Vec<Series> {
    let mut s = vec![];
    for (i, op) in ["olga", "pete", "quinn"].into_iter().enumerate() {
        let node = format!("net-0{}", i + 1);
        s.push(Series::new("up", &[("job", "network-node"), ("instance", &node), ("region", "emea")], |_| Some(1.0)));
        let revenue = if op == "quinn" { 60000.0 } else { 40000.0 };
        s.push(counter("network_software_revenue_usd_total", op, revenue));
        s.push(counter("network_customers_added_total", op, 3.0));
        s.push(counter("network_community_contributions_total", op, 8.0));
        s.push(gauge("network_annual_renewal_ratio", op, if op == "quinn" { 0.96 } else { 0.88 }));
        s.push(gauge("network_go_live_days_average", op, if op == "olga" { 30.0 } else { 21.0 }));
        if op != "pete" {
            s.push(gauge("network_nps_score", op, 45.0));
        }
        s.push(gauge("network_training_completion_ratio", op, 0.9));
        s.push(gauge("network_lead_first_contact_hours", op, 6.0));
        let customers = match op {
            "olga" => 12.0,
            "pete" => 6.0,
            _ => 31.0,
        };
        s.push(gauge("network_active_customers", op, customers));
        s.push(gauge("network_customer_satisfaction_ratio", op, if op == "quinn" { 0.95 } else { 0.92 }));
    }
    s
}

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/examples/operator-network")
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env("RUST_LOG", "warn");
    c
}

fn sample_of(body: &str, name: &str, labels: &str) -> Option<f64> {
    let want = format!("{name}{{{labels}}} ");
    samples(body, name).into_iter().find(|l| l.starts_with(&want)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn the_scorecard_and_flags_are_on_metrics_in_the_statement_and_its_html() {
    let prometheus = Prometheus::start(&series(), Span { start: oct1(), end: nov1(), step: 60 });

    // Live on the last day of October (month to date).
    let mut serve =
        Serve::start(common::free_port(), &prometheus.url(), &rules_dir(), &["--clock.start=2026-10-31T12:00:00Z"]);
    serve.wait_ready();
    let body = serve.wait_metrics("the scorecard", |b| !samples(b, "fleet_incentives_payee_score").is_empty());
    let score = |payee: &str, score: &str| {
        let labels = format!("payee_kind=\"operator\",payee=\"{payee}\",score=\"{score}\"");
        sample_of(&body, "fleet_incentives_payee_score", &labels)
    };
    let flag = |payee: &str, flag: &str| {
        let labels = format!("payee_kind=\"operator\",payee=\"{payee}\",flag=\"{flag}\"");
        sample_of(&body, "fleet_incentives_payee_flag", &labels)
    };
    assert_eq!(score("olga", "operator_score"), Some(76.0), "{body}");
    assert_eq!(score("quinn", "operator_score"), Some(87.5));
    assert_eq!(score("pete", "operator_score"), None, "unknown without NPS: no sample, never 0");
    assert_eq!(score("olga", "operator_score_quarter"), Some(76.0), "October is the quarter to date");
    assert_eq!((score("olga", "performance_tier"), score("quinn", "performance_tier")), (Some(2.0), Some(4.0)));
    let criterion = "payee_kind=\"operator\",payee=\"olga\",score=\"operator_score\",criterion=\"customer_retention\"";
    assert_eq!(sample_of(&body, "fleet_incentives_payee_score_criterion", criterion), Some(80.0));
    assert_eq!(flag("olga", "action_implementation_time"), Some(1.0));
    assert_eq!(flag("olga", "action_needed"), Some(1.0));
    assert_eq!(flag("olga", "action_customer_acquisition"), None, "September is not closed");
    assert_eq!(flag("quinn", "action_needed"), None);
    assert_eq!((flag("quinn", "equity_eligible"), flag("quinn", "exclusivity_eligible")), (Some(1.0), Some(1.0)));
    assert_eq!((flag("olga", "equity_eligible"), flag("olga", "exclusivity_eligible")), (Some(0.0), Some(0.0)));
    drop(serve);

    // The closed month.
    let out = tempfile::Builder::new().prefix("fleet-scores-").tempdir().unwrap();
    let o = bin()
        .args(["close", "--period", "2026-10", "--prometheus.url", &prometheus.url(), "--rules.dir"])
        .arg(rules_dir())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "close failed: {}", String::from_utf8_lossy(&o.stderr));
    let month = out.path().join("2026-10");
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(month.join("statement.json")).unwrap()).unwrap();
    let operator = |id: &str| {
        statement["evaluation"]["operators"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone()
    };
    let olga = operator("olga");
    let card = &olga["scores"][0];
    assert_eq!((card["id"].as_str(), card["value"].as_str()), (Some("operator_score"), Some("76.0")));
    assert_eq!(card["scale"], serde_json::json!(["0", "100"]));
    let criteria: Vec<(String, String, String)> = card["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["weight"].as_str().unwrap().into(),
                c["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("revenue_generation", "0.25", "100.0"),
        ("customer_acquisition", "0.2", "100.0"),
        ("customer_retention", "0.2", "80.0"),
        ("implementation_speed", "0.15", "0.0"),
        ("customer_satisfaction", "0.1", "75.0"),
        ("training_compliance", "0.05", "50.0"),
        ("community_contribution", "0.05", "100.0"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(criteria, want);
    // Recorded for the months after: the closed month's variables hold it.
    assert_eq!(olga["variables"]["operator_score"], serde_json::json!(76.0));
    let pete = operator("pete");
    assert!(pete["scores"][0]["value"].is_null(), "{}", pete["scores"][0]);
    assert!(pete["scores"][0]["reason"].as_str().unwrap().contains("customer_satisfaction: no value for nps"));
    let flags = |s: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        s["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_string(), f["value"].clone()))
            .collect()
    };
    let quinn = flags(&operator("quinn"));
    assert!(quinn.contains(&("equity_eligible".into(), serde_json::json!(true))), "{quinn:?}");
    assert!(quinn.contains(&("action_customer_acquisition".into(), serde_json::Value::Null)), "{quinn:?}");

    let html = std::fs::read_to_string(month.join("statements/olga.html")).unwrap();
    for needle in [
        "<h2>Scores and flags</h2>",
        "<td class=\"num\" id=\"score-value-operator_score\">76.0</td>",
        "<tr id=\"criterion-operator_score-customer_retention\"><td>Customer retention (renewal rate) <span class=\"muted\">· customer_retention · measured 0.88</span></td>\n      <td class=\"num\">80.0</td>\n      <td class=\"num\">0.2</td>\n      <td class=\"num\">16</td>",
        "<tr id=\"flag-action_implementation_time\"><td>Action: implementation time &gt; 4 weeks average <span class=\"muted\">· action_implementation_time</span></td>\n      <td><strong>yes</strong></td>",
        "<tr id=\"flag-action_customer_acquisition\">",
    ] {
        assert!(html.contains(needle), "missing {needle}:\n{html}");
    }
}

/// The operator scorecard's score, criteria and flag panels answer from a
/// Prometheus that scraped `serve` on the operator-network example (the
/// board's operator is the first, olga: score 76.0, her go-live flag).
#[test]
fn the_scorecard_panels_have_data_from_a_prometheus_that_scraped_serve() {
    let port = common::free_port();
    let scrape = format!("[{{job_name: fleet-incentives, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]");
    let prometheus = Prometheus::start_scraping(&series(), Span { start: oct1(), end: nov1(), step: 60 }, &scrape);
    let mut serve = Serve::start(port, &prometheus.url(), &rules_dir(), &["--clock.start=2026-10-31T12:00:00Z"]);
    serve.wait_ready();
    common::dashboards::wait_for_scrapes(prometheus.port, "fleet_incentives_payee_score", 3.0);
    let ours = ["Scores", "Score criteria", "Flags"];
    let failures: Vec<String> = common::dashboards::check_panels_against(&prometheus.url())
        .into_iter()
        .filter(|f| ours.contains(&f.panel.as_str()))
        .map(|f| f.to_string())
        .collect();
    assert!(failures.is_empty(), "scorecard panels without data:\n{}", failures.join("\n"));
    let boards = common::dashboards::load_dashboards();
    let found =
        boards.iter().flat_map(|b| b.panels()).filter(|p| ours.contains(&p["title"].as_str().unwrap_or(""))).count();
    assert_eq!(found, 3);
}
