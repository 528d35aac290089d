//! The Grafana dashboards in `dashboards/`: the JSON model's own rules
//! (unique panel ids, the `datasource` variable everywhere, every template
//! variable used, units and thresholds), every query parsed with
//! promql-parser and reading only the exporter's metrics, and every panel
//! run against a real Prometheus holding series shaped like the exporter's.

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::dashboards::*;
use common::{Prometheus, Series, Span};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const DATASOURCE: &str = "${datasource}";

fn boards() -> Vec<Dashboard> {
    let boards = load_dashboards();
    assert!(boards.len() >= 5, "expected the five dashboards, found {}", boards.len());
    boards
}

/// Every metric name a panel's queries select.
fn panel_metrics(board: &Dashboard, panel: &Value) -> Vec<String> {
    let values = sample_values(board);
    targets(panel)
        .into_iter()
        .filter_map(expr)
        .flat_map(|e| metric_names(&parse_query(e, &values).unwrap()))
        .map(|m| m.unwrap_or_default())
        .collect()
}

/// The panel's unit settings: the default unit and the units of its overrides.
fn panel_units(panel: &Value) -> Vec<String> {
    let mut units: Vec<String> =
        panel["fieldConfig"]["defaults"]["unit"].as_str().map(str::to_string).into_iter().collect();
    for o in panel["fieldConfig"]["overrides"].as_array().into_iter().flatten() {
        for p in o["properties"].as_array().into_iter().flatten() {
            if p["id"] == "unit" {
                units.extend(p["value"].as_str().map(str::to_string));
            }
        }
    }
    units
}

/// Every threshold step value of the panel (defaults and overrides).
fn panel_thresholds(panel: &Value) -> Vec<f64> {
    let mut steps = vec![];
    let mut add = |t: &Value| {
        steps.extend(t["steps"].as_array().into_iter().flatten().filter_map(|s| s["value"].as_f64()));
    };
    add(&panel["fieldConfig"]["defaults"]["thresholds"]);
    for o in panel["fieldConfig"]["overrides"].as_array().into_iter().flatten() {
        for p in o["properties"].as_array().into_iter().flatten() {
            if p["id"] == "thresholds" {
                add(&p["value"]);
            }
        }
    }
    steps
}

#[test]
fn every_dashboard_is_a_grafana_model_with_its_own_uid_and_the_datasource_variable() {
    let mut uids = BTreeSet::new();
    for board in boards() {
        let m = &board.model;
        let file = &board.file;
        assert!(m["title"].as_str().is_some_and(|t| !t.is_empty()), "{file}: no title");
        let uid = m["uid"].as_str().unwrap_or_else(|| panic!("{file}: no uid"));
        assert!(uid.len() <= 40, "{file}: uid {uid} longer than Grafana's 40 characters");
        assert!(uids.insert(uid.to_string()), "{file}: uid {uid} used twice");
        let schema = m["schemaVersion"].as_i64().unwrap_or(0);
        assert!((36..=41).contains(&schema), "{file}: schemaVersion {schema}, expected ~39");
        assert!(m["id"].is_null(), "{file}: `id` must be null (Grafana assigns it)");
        assert!(m["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "fleet-incentives")), "{file}: tag");
        let ds: Vec<&Value> = board.variables().into_iter().filter(|v| v["name"] == "datasource").collect();
        assert_eq!(ds.len(), 1, "{file}: one `datasource` variable");
        assert_eq!(ds[0]["type"], "datasource", "{file}: `datasource` is of type datasource");
        assert_eq!(ds[0]["query"], "prometheus", "{file}: `datasource` lists Prometheus data sources");
    }
}

#[test]
fn panel_ids_are_unique_in_each_dashboard() {
    for board in boards() {
        let mut seen = BTreeMap::new();
        for p in board.panels() {
            let id = p["id"].as_i64().unwrap_or_else(|| panic!("{}: panel {:?} has no id", board.file, p["title"]));
            if let Some(other) = seen.insert(id, p["title"].clone()) {
                panic!("{}: panel id {id} used by {other} and {}", board.file, p["title"]);
            }
            let g = &p["gridPos"];
            for k in ["h", "w", "x", "y"] {
                assert!(g[k].is_u64(), "{}: panel {id} gridPos.{k}", board.file);
            }
            assert!(
                g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
                "{}: panel {id} wider than 24",
                board.file
            );
        }
    }
}

#[test]
fn every_panel_and_target_reads_the_datasource_variable() {
    for board in boards() {
        for p in board.panels().into_iter().filter(|p| !is_row(p)) {
            let id = &p["id"];
            assert_eq!(p["datasource"]["type"], "prometheus", "{}: panel {id} datasource type", board.file);
            assert_eq!(p["datasource"]["uid"], DATASOURCE, "{}: panel {id} datasource", board.file);
            let targets = targets(p);
            assert!(!targets.is_empty(), "{}: panel {id} has no query", board.file);
            for t in targets {
                assert_eq!(t["datasource"]["uid"], DATASOURCE, "{}: panel {id} target {}", board.file, t["refId"]);
                assert_eq!(t["datasource"]["type"], "prometheus", "{}: panel {id} target {}", board.file, t["refId"]);
            }
        }
        for v in board.variables().into_iter().filter(|v| v["type"] == "query") {
            assert_eq!(v["datasource"]["uid"], DATASOURCE, "{}: variable {}", board.file, v["name"]);
        }
    }
}

#[test]
fn no_data_source_uid_is_hard_coded_anywhere() {
    // Any `datasource` object in the model: the variable, or Grafana's own
    // built-in annotation source.
    fn walk(v: &Value, file: &str, path: &str) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let here = format!("{path}.{k}");
                    if k == "datasource" && x.is_object() && x["type"] != "grafana" {
                        assert_eq!(x["uid"], DATASOURCE, "{file}: {here} hard-codes a data source");
                    }
                    if k == "datasource" && x.is_string() {
                        panic!("{file}: {here} names a data source by name");
                    }
                    walk(x, file, &here);
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| walk(x, file, &format!("{path}[{i}]"))),
            _ => {}
        }
    }
    for board in boards() {
        walk(&board.model, &board.file, "");
    }
}

#[test]
fn every_template_variable_is_used_somewhere_else_in_the_dashboard() {
    for board in boards() {
        for var in board.variables() {
            let name = var["name"].as_str().unwrap();
            // References from panels, and from the other variables.
            let mut used = board.panels().into_iter().flat_map(strings).flat_map(var_refs).any(|r| r.name == name);
            used |= board
                .variables()
                .into_iter()
                .filter(|v| v["name"] != name)
                .flat_map(strings)
                .flat_map(var_refs)
                .any(|r| r.name == name);
            assert!(used, "{}: variable ${name} is defined but never used", board.file);
        }
    }
}

#[test]
fn every_panel_query_parses_with_its_variables_substituted() {
    let mut errors = vec![];
    for board in boards() {
        let values = sample_values(&board);
        for p in board.panels() {
            for t in targets(p) {
                let Some(e) = expr(t) else {
                    errors.push(format!("{}: panel {} target without expr", board.file, p["id"]));
                    continue;
                };
                if let Err(err) = parse_query(e, &values) {
                    errors.push(format!("{}: panel {} {}: {err}", board.file, p["id"], p["title"]));
                }
            }
        }
        for v in board.variables().into_iter().filter(|v| v["type"] == "query") {
            let q = variable_query(v).unwrap_or_else(|| panic!("{}: variable {} has no query", board.file, v["name"]));
            match parse_label_values(q) {
                Ok((selector, _)) => {
                    if let Err(err) = parse_query(&selector, &values) {
                        errors.push(format!("{}: variable {}: {err}", board.file, v["name"]));
                    }
                }
                Err(err) => errors.push(format!("{}: variable {}: {err}", board.file, v["name"])),
            }
        }
    }
    assert!(errors.is_empty(), "queries that do not parse:\n{}", errors.join("\n"));
}

#[test]
fn the_contract_the_dashboards_are_checked_against_is_readmes_metrics_reference() {
    // src/export/tests.rs ties README's reference to what /metrics writes;
    // this ties the dashboards' list to README, so a metric added to the
    // exporter cannot be missed by the dashboard tests.
    let contract: BTreeSet<String> = CONTRACT_METRICS.iter().map(|m| m.to_string()).collect();
    let readme = common::dashboards::readme_metrics();
    let missing: Vec<&String> = readme.difference(&contract).collect();
    let extra: Vec<&String> = contract.difference(&readme).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in CONTRACT_METRICS: {missing:?}; not in README: {extra:?}");
}

#[test]
fn every_metric_a_dashboard_reads_is_one_the_exporter_exports() {
    let contract: BTreeSet<&str> = CONTRACT_METRICS.iter().copied().collect();
    let mut bad = vec![];
    let mut read = BTreeSet::new();
    for board in boards() {
        let values = sample_values(&board);
        let mut exprs: Vec<(String, String)> = vec![];
        for p in board.panels() {
            for e in targets(p).into_iter().filter_map(expr) {
                exprs.push((format!("panel {}", p["id"]), e.to_string()));
            }
        }
        for v in board.variables().into_iter().filter(|v| v["type"] == "query") {
            let (selector, _) = parse_label_values(variable_query(v).unwrap()).unwrap();
            exprs.push((format!("variable {}", v["name"]), selector));
        }
        for (place, e) in exprs {
            for name in metric_names(&parse_query(&e, &values).unwrap()) {
                match name {
                    Some(n) if contract.contains(n.as_str()) => {
                        read.insert(n);
                    }
                    Some(n) => bad.push(format!("{}: {place}: {n} is not an exporter metric", board.file)),
                    None => bad.push(format!("{}: {place}: a selector without a metric name in {e}", board.file)),
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The boards show (nearly) everything the exporter exports.
    let unread: Vec<&&str> = CONTRACT_METRICS.iter().filter(|m| !read.contains(**m)).collect();
    assert!(unread.is_empty(), "exported but on no dashboard: {unread:?}");
}

#[test]
fn units_follow_the_metric_names_and_thresholds_the_programme() {
    for board in boards() {
        for p in board.panels().into_iter().filter(|p| !is_row(p)) {
            let metrics = panel_metrics(&board, p);
            let units = panel_units(p);
            let id = format!("{}: panel {} {}", board.file, p["id"], p["title"]);
            let all = |suffix: &str| !metrics.is_empty() && metrics.iter().all(|m| m.ends_with(suffix));
            if metrics.iter().any(|m| m.ends_with("_amount")) {
                assert!(units.iter().any(|u| u == "currencyUSD"), "{id}: money in currencyUSD, units {units:?}");
            }
            if all("_uptime_ratio") {
                assert!(units.iter().any(|u| u == "percentunit"), "{id}: uptime in percentunit");
                // §4: fleet uptime > 99.5 %.
                assert!(panel_thresholds(p).contains(&0.995), "{id}: the 99.5 % target as a threshold");
            }
            if all("_coverage_ratio") {
                assert!(units.iter().any(|u| u == "percentunit"), "{id}: coverage in percentunit");
            }
            if all("_mttr_seconds") || all("_duration_seconds") || all("_age_seconds") {
                assert!(units.iter().any(|u| u == "s"), "{id}: durations in seconds");
            }
            // A panel showing a point in time shows it as a date.
            let points_in_time = targets(p)
                .into_iter()
                .filter_map(expr)
                .any(|e| e.contains("_timestamp_seconds") && e.trim_end().ends_with("* 1000"));
            if points_in_time {
                assert!(units.iter().any(|u| u == "dateTimeAsIso"), "{id}: timestamps as dateTimeAsIso");
            }
        }
    }
}

#[test]
fn mttr_thresholds_are_the_resolve_targets_of_the_runbook() {
    // programme.md §1: resolve within 4 h, 8 h, 24 h, 3 days.
    let expected = [("P0", 4.0 * 3600.0), ("P1", 8.0 * 3600.0), ("P2", 24.0 * 3600.0), ("P3", 3.0 * 86400.0)];
    let boards = boards();
    let board = boards.iter().find(|b| b.file == "incidents-sla.json").unwrap();
    let panel = board
        .panels()
        .into_iter()
        .find(|p| p["title"].as_str().is_some_and(|t| t.starts_with("MTTR per severity vs")))
        .expect("the MTTR panel");
    for (severity, seconds) in expected {
        let o = panel["fieldConfig"]["overrides"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["matcher"]["options"] == severity)
            .unwrap_or_else(|| panic!("no override for {severity}"));
        let steps = &o["properties"][0]["value"]["steps"];
        assert_eq!(steps[1]["value"].as_f64(), Some(seconds), "{severity}");
    }
}

#[test]
fn the_variable_scanner_finds_every_grafana_syntax() {
    let refs: Vec<String> = var_refs("a{x=\"$op\", y=~\"${sev:regex}\"}[$__rate_interval] [[old]] $1 $")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(refs, ["op", "sev", "__rate_interval", "old"]);
    let values = BTreeMap::from([("op".to_string(), "alice".to_string()), ("sev".to_string(), "P0".to_string())]);
    assert_eq!(substitute("m{o=\"$op\",s=~\"${sev}\"}[$__range]", &values).unwrap(), "m{o=\"alice\",s=~\"P0\"}[1h]");
    assert!(substitute("m{o=\"$nobody\"}", &values).is_err());
}

// ----------------------------------------------- against a real Prometheus

/// The time the panels are checked at: 4 hours into November 2026, so the
/// "last month" panels read October's last values.
fn check_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64
}

/// Series shaped like the exporter's (names, labels, semantics of the
/// metrics contract) across a month rollover, as Prometheus would hold them
/// after scraping `serve` (job and instance labels added). Values are made
/// up; what matters is that every panel's joins and filters find them.
fn exporter_like_series() -> Vec<Series> {
    let midnight = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let october = move |t: DateTime<Utc>| t <= midnight;
    let scrape = [("job", "fleet-incentives"), ("instance", "fleet-incentives:9464")];
    let mut out = vec![];
    let mut add = |name: &str, labels: &[(&str, &str)], f: Box<dyn Fn(DateTime<Utc>) -> Option<f64> + Send + Sync>| {
        let mut all: Vec<(&str, &str)> = scrape.to_vec();
        all.extend_from_slice(labels);
        out.push(Series::new(&format!("fleet_incentives_{name}"), &all, f));
    };
    // The period in force: October until midnight, then November.
    for (period, in_october) in [("2026-10", true), ("2026-11", false)] {
        add(
            "period_info",
            &[("period", period), ("time_zone", "UTC"), ("programme", "Timmy Fleet")],
            Box::new(move |t| (october(t) == in_october).then_some(1.0)),
        );
    }
    let (oct, nov, dec) = (
        Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(),
        midnight,
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    );
    add("period_start_timestamp_seconds", &[], Box::new(move |t| Some(ts(if october(t) { oct } else { nov }))));
    add("period_end_timestamp_seconds", &[], Box::new(move |t| Some(ts(if october(t) { nov } else { dec }))));
    let mtd = move |t: DateTime<Utc>, october_value: f64, november_value: f64| {
        Some(if october(t) { october_value } else { november_value })
    };
    add("rules_info", &[("sha256", "ab12"), ("programme", "Timmy Fleet")], Box::new(|_| Some(1.0)));
    add("data_window_end_timestamp_seconds", &[], Box::new(|t| Some(ts(t) - 120.0)));
    add("fleet_nodes", &[], Box::new(|_| Some(20.0)));
    add("fleet_uptime_ratio", &[], Box::new(move |t| mtd(t, 0.9962, 0.9990)));
    add("fleet_coverage_ratio", &[], Box::new(|_| Some(0.99)));
    add("evaluation_warnings", &[], Box::new(|_| Some(0.0)));
    for region in ["eu", "us", "ap"] {
        add("region_uptime_ratio", &[("region", region)], Box::new(move |t| mtd(t, 0.997, 0.999)));
        add("region_coverage_ratio", &[("region", region)], Box::new(|_| Some(0.99)));
    }
    // Nodes and operators; node-004 (carol) has been offline since 01:00.
    let offline_from = midnight + Duration::hours(1);
    for (node, operator, region, tier) in
        [("node-001", "alice", "eu", "tier1"), ("node-003", "bob", "us", "tier1"), ("node-004", "carol", "ap", "tier1")]
    {
        let l = [("node", node), ("operator", operator), ("region", region)];
        add("node_uptime_ratio", &l, Box::new(move |t| mtd(t, 0.996, 0.998)));
        add("node_coverage_ratio", &l, Box::new(|_| Some(0.99)));
        add("node_down_seconds", &l, Box::new(move |t| mtd(t, 9000.0, 600.0)));
        if node == "node-004" {
            add(
                "node_offline_since_timestamp_seconds",
                &l,
                Box::new(move |t| (t > offline_from).then_some(ts(offline_from))),
            );
        }
        let o = [("operator", operator), ("tier", tier), ("region", region)];
        add("operator_uptime_ratio", &o, Box::new(move |t| mtd(t, 0.996, 0.998)));
        add("operator_coverage_ratio", &o, Box::new(|_| Some(0.99)));
        add("operator_nodes", &o, Box::new(|_| Some(1.0)));
        add("promotion_eligible", &[("operator", operator), ("to", "tier2")], Box::new(|_| Some(0.0)));
    }
    // Open incidents: P2 on node-004 from 01:00 (acknowledged at 01:20); P1
    // in us from 02:00, never acknowledged; P3 on alice's node from 03:00.
    for severity in ["P0", "P1", "P2", "P3"] {
        let open = match severity {
            "P1" => midnight + Duration::hours(2),
            "P2" => offline_from,
            "P3" => midnight + Duration::hours(3),
            _ => midnight + Duration::days(30),
        };
        add("incidents", &[("severity", severity)], Box::new(move |t| mtd(t, 3.0, if t > open { 1.0 } else { 0.0 })));
        add("incidents_open", &[("severity", severity)], Box::new(move |t| Some(if t > open { 1.0 } else { 0.0 })));
        // November has resolved P2 and P3 incidents only: no MTTR for P0/P1.
        let resolved = matches!(severity, "P2" | "P3");
        add(
            "incident_mttr_seconds",
            &[("severity", severity)],
            Box::new(move |t| (october(t) || resolved).then_some(5400.0)),
        );
        for target in ["respond", "resolve"] {
            add("sla_breaches", &[("severity", severity), ("target", target)], Box::new(move |t| mtd(t, 1.0, 0.0)));
        }
    }
    for (incident, severity, region, operator, start, respond, resolve, ack) in [
        ("2026-11-01T01:00:00Z-P2", "P2", "ap", "carol", offline_from, 3600.0, 86400.0, Some(1200.0)),
        ("2026-11-01T02:00:00Z-P1", "P1", "us", "bob", midnight + Duration::hours(2), 1800.0, 28800.0, None),
        ("2026-11-01T03:00:00Z-P3", "P3", "eu", "alice", midnight + Duration::hours(3), 14400.0, 259200.0, Some(600.0)),
    ] {
        let l = [("incident", incident), ("severity", severity), ("region", region), ("operator", operator)];
        let open = move |t: DateTime<Utc>| t > start;
        let s = ts(start);
        add("incident_start_timestamp_seconds", &l, Box::new(move |t| open(t).then_some(s)));
        add("incident_age_seconds", &l, Box::new(move |t| open(t).then_some(ts(t) - s)));
        add("incident_respond_deadline_timestamp_seconds", &l, Box::new(move |t| open(t).then_some(s + respond)));
        add("incident_resolve_deadline_timestamp_seconds", &l, Box::new(move |t| open(t).then_some(s + resolve)));
        add("incident_nodes_down", &l, Box::new(move |t| open(t).then_some(1.0)));
        if let Some(after) = ack {
            add(
                "incident_acknowledged_timestamp_seconds",
                &l,
                Box::new(move |t| (ts(t) > s + after).then_some(s + after)),
            );
        }
        // The shipped ladder (operator, senior after 15 min, core team an
        // hour later; P3 stays with the operator), frozen when acknowledged.
        let escalation = move |t: DateTime<Utc>| {
            let unacked = ack.map_or(ts(t) - s, |a| a.min(ts(t) - s));
            match (severity, unacked) {
                ("P3", _) => 1.0,
                (_, u) if u >= 4500.0 => 3.0,
                (_, u) if u >= 900.0 => 2.0,
                _ => 1.0,
            }
        };
        add("incident_escalation_level", &l, Box::new(move |t| open(t).then(|| escalation(t))));
    }
    for (severity, mean) in [("P2", 1200.0), ("P3", 600.0)] {
        add("incident_mean_response_seconds", &[("severity", severity)], Box::new(move |_| Some(mean)));
    }
    add("acknowledgement_source_up", &[], Box::new(|_| Some(1.0)));
    add("acknowledgement_source_failures_total", &[], Box::new(|t| Some((ts(t) / 3600.0).floor())));
    // Money.
    let lines = [
        ("operator", "alice", "tier1", "base_stipend", "per_node", "stipend", 1000.0, "paid"),
        ("operator", "alice", "tier1", "uptime_bonus", "fixed", "uptime_bonus", 200.0, "paid"),
        ("operator", "bob", "tier1", "base_stipend", "per_node", "stipend", 274.19, "paid"),
        ("operator", "bob", "tier1", "response_bonus", "fixed", "response_bonus", 0.0, "withheld"),
        ("operator", "carol", "tier1", "base_stipend", "per_node", "stipend", 500.0, "paid"),
        ("partner", "brightpath", "bronze", "referral_commission", "percent", "partner_commission", 120.0, "paid"),
    ];
    let mut totals: BTreeMap<(&str, &str, &str), f64> = BTreeMap::new();
    for (kind, payee, tier, line, line_kind, category, amount, status) in lines {
        *totals.entry((kind, payee, tier)).or_default() += amount;
        add(
            "pay_line_amount",
            &[
                ("payee_kind", kind),
                ("payee", payee),
                ("line", line),
                ("kind", line_kind),
                ("category", category),
                ("currency", "USD"),
            ],
            Box::new(move |t| mtd(t, amount, amount / 31.0)),
        );
        for s in ["paid", "not_met", "withheld", "error"] {
            let v = if s == status { 1.0 } else { 0.0 };
            add(
                "pay_line_status",
                &[("payee_kind", kind), ("payee", payee), ("line", line), ("status", s)],
                Box::new(move |_| Some(v)),
            );
        }
    }
    let programme: f64 = totals.values().sum();
    for ((kind, payee, tier), total) in totals {
        add(
            "payee_total_amount",
            &[("payee_kind", kind), ("payee", payee), ("tier", tier), ("currency", "USD")],
            Box::new(move |t| mtd(t, total, total / 31.0)),
        );
    }
    add("programme_total_amount", &[("currency", "USD")], Box::new(move |t| mtd(t, programme, programme / 31.0)));
    // The ledger: bob carries a 100.00 balance in (a clawback last month),
    // carol is suspended (held), alice is warned and disputes a line.
    for (kind, payee, tier, total) in [
        ("operator", "alice", "tier1", 1200.0),
        ("operator", "bob", "tier1", 274.19),
        ("operator", "carol", "tier1", 500.0),
    ] {
        let l = [("payee_kind", kind), ("payee", payee), ("tier", tier), ("currency", "USD")];
        let (balance_in, held): (f64, f64) = match payee {
            "bob" => (-100.0, 0.0),
            "carol" => (0.0, total),
            _ => (0.0, 0.0),
        };
        let payable = (total + balance_in).max(0.0) - held;
        add("payee_adjustment_amount", &l, Box::new(move |_| Some(if payee == "bob" { -100.0 } else { 0.0 })));
        add("payee_balance_in_amount", &l, Box::new(move |_| Some(balance_in)));
        add("payee_payable_amount", &l, Box::new(move |t| mtd(t, payable, payable / 31.0)));
        add("payee_balance_out_amount", &l, Box::new(|_| Some(0.0)));
        add("payee_written_off_amount", &l, Box::new(|_| Some(0.0)));
        add("payee_held_amount", &l, Box::new(move |_| Some(held)));
        add("payee_year_to_date_amount", &l, Box::new(move |t| mtd(t, 10.0 * total, 10.0 * total + total / 31.0)));
    }
    add("programme_payable_amount", &[("currency", "USD")], Box::new(move |t| mtd(t, 1374.19, 1374.19 / 31.0)));
    add("programme_held_amount", &[("currency", "USD")], Box::new(|_| Some(500.0)));
    add("programme_hold_all", &[], Box::new(|_| Some(0.0)));
    for (payee, state) in [("alice", "warned"), ("carol", "suspended")] {
        add("payee_state", &[("payee_kind", "operator"), ("payee", payee), ("state", state)], Box::new(|_| Some(1.0)));
    }
    let dispute = [
        ("payee_kind", "operator"),
        ("payee", "alice"),
        ("dispute", "d-7"),
        ("period", "2026-09"),
        ("line", "uptime_bonus"),
    ];
    let opened = ts(midnight - Duration::days(20));
    add("dispute_open_age_seconds", &dispute, Box::new(move |t| Some(ts(t) - opened)));
    for operator in ["alice", "bob", "carol"] {
        let since = ts(Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap());
        add(
            "promotion_eligible_since_timestamp_seconds",
            &[("operator", operator), ("to", "tier2")],
            Box::new(move |_| Some(since)),
        );
    }
    // Scores and flags (rules `scores:`/`flags:`): a scorecard of two
    // weighted criteria per operator, and one action-threshold flag.
    for (operator, score, flag) in [("alice", 76.0, 0.0), ("bob", 87.5, 1.0), ("carol", 40.0, 1.0)] {
        let who = [("payee_kind", "operator"), ("payee", operator)];
        add("payee_score", &[&who[..], &[("score", "scorecard")]].concat(), Box::new(move |_| Some(score)));
        for criterion in ["revenue", "retention"] {
            let l = [&who[..], &[("score", "scorecard"), ("criterion", criterion)]].concat();
            add("payee_score_criterion", &l, Box::new(move |_| Some(score)));
        }
        add("payee_flag", &[&who[..], &[("flag", "action_needed")]].concat(), Box::new(move |_| Some(flag)));
    }
    // Incident classes: a critical ticket open since 02:30 (acknowledged at
    // 03:00), and questions (no resolve target) resolved earlier.
    for (class, incidents, open, mttr) in [("critical", 3.0, 1.0, Some(7200.0)), ("questions", 2.0, 0.0, None)] {
        let c = [("class", class)];
        add("class_incidents", &c, Box::new(move |_| Some(incidents)));
        add("class_incidents_open", &c, Box::new(move |_| Some(open)));
        if let Some(m) = mttr {
            add("class_incident_mttr_seconds", &c, Box::new(move |_| Some(m)));
        }
        add("class_incident_mean_response_seconds", &c, Box::new(|_| Some(1800.0)));
        add("class_sla_breaches", &[("class", class), ("target", "respond")], Box::new(|_| Some(1.0)));
        if mttr.is_some() {
            add("class_sla_breaches", &[("class", class), ("target", "resolve")], Box::new(|_| Some(0.0)));
        }
    }
    let ticket_start = midnight + Duration::minutes(150);
    let t = [
        ("incident", "critical-20261101T0230Z-T-1"),
        ("class", "critical"),
        ("severity", "critical"),
        ("operator", "bob"),
    ];
    let s0 = ts(ticket_start);
    let open = move |t: DateTime<Utc>| t > ticket_start;
    add("class_incident_start_timestamp_seconds", &t, Box::new(move |t| open(t).then_some(s0)));
    add("class_incident_respond_deadline_timestamp_seconds", &t, Box::new(move |t| open(t).then_some(s0 + 7200.0)));
    add("class_incident_resolve_deadline_timestamp_seconds", &t, Box::new(move |t| open(t).then_some(s0 + 86400.0)));
    add(
        "class_incident_acknowledged_timestamp_seconds",
        &t,
        Box::new(move |t| (ts(t) > s0 + 1800.0).then_some(s0 + 1800.0)),
    );
    // Leakage: dan's node-021 never reported and dan is paid anyway;
    // node-099 (labelled operator rogue) is on no roster.
    for (kind, n) in [("roster_node_without_data", 1.0), ("unrostered_node", 1.0), ("paid_without_active_node", 1.0)] {
        add("leakage_findings", &[("kind", kind)], Box::new(move |_| Some(n)));
    }
    let dan = [("node", "node-021"), ("operator", "dan"), ("region", "ap")];
    add("leakage_roster_node_without_data", &dan, Box::new(|_| Some(1.0)));
    let stray = [("node", "node-099"), ("operator", "rogue"), ("region", "us")];
    add("leakage_unrostered_node", &stray, Box::new(|_| Some(1.0)));
    let paid = [("payee_kind", "operator"), ("payee", "dan"), ("currency", "USD")];
    add("leakage_paid_without_active_node_amount", &paid, Box::new(move |t| mtd(t, 500.0, 500.0 / 31.0)));
    // Self-metrics.
    let t0 = ts(midnight - Duration::hours(4));
    add("build_info", &[("version", "0.1.0")], Box::new(|_| Some(1.0)));
    add("evaluations_total", &[], Box::new(move |t| Some((ts(t) - t0) / 60.0)));
    add("evaluation_failures_total", &[], Box::new(move |t| Some(((ts(t) - t0) / 3600.0).floor())));
    add("evaluation_duration_seconds", &[], Box::new(|_| Some(0.4)));
    add("last_successful_evaluation_timestamp_seconds", &[], Box::new(|t| Some(ts(t) - 20.0)));
    add("rules_last_reload_successful", &[], Box::new(|_| Some(1.0)));
    add("rules_last_reload_success_timestamp_seconds", &[], Box::new(move |_| Some(t0)));
    add("input_up", &[("input", "partner_revenue")], Box::new(|_| Some(1.0)));
    add(
        "input_failures_total",
        &[("input", "partner_revenue")],
        Box::new(move |t| Some(((ts(t) - t0) / 7200.0).floor())),
    );
    for purpose in ["rebuild", "cycle"] {
        add("queries_total", &[("purpose", purpose)], Box::new(move |t| Some((ts(t) - t0) / 30.0)));
        add("query_failures_total", &[("purpose", purpose)], Box::new(move |t| Some(((ts(t) - t0) / 3600.0).floor())));
        add("query_samples_total", &[("purpose", purpose)], Box::new(move |t| Some((ts(t) - t0) * 20.0)));
    }
    out
}

/// One server for the tests of this file (two backfilling the same data at
/// once would share the cache's temporary directory).
fn exporter_like_prometheus() -> &'static Prometheus {
    static P: OnceLock<Prometheus> = OnceLock::new();
    P.get_or_init(|| {
        let at = check_time();
        // 30 s steps like the scrape config, from 20:00 on October 31 to `at`.
        let span = Span { start: at - Duration::hours(8), end: at, step: 30 };
        Prometheus::start(&exporter_like_series(), span)
    })
}

#[test]
fn every_series_shaped_like_the_exporters_uses_a_contract_name() {
    let contract: BTreeSet<&str> = CONTRACT_METRICS.iter().copied().collect();
    let made: BTreeSet<String> = exporter_like_series().into_iter().map(|s| s.name).collect();
    let unknown: Vec<&String> = made.iter().filter(|m| !contract.contains(m.as_str())).collect();
    assert!(unknown.is_empty(), "{unknown:?}");
    let missing: Vec<&&str> = contract.iter().filter(|m| !made.contains(**m)).collect();
    assert!(missing.is_empty(), "the test data lacks {missing:?}");
}

#[test]
fn every_panel_returns_data_from_a_prometheus_holding_exporter_shaped_series() {
    let prometheus = exporter_like_prometheus();
    let failures = check_panels_at(&prometheus.url(), check_time());
    let text: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    assert!(failures.is_empty(), "{} panel queries failed:\n{}", failures.len(), text.join("\n"));
}

#[test]
fn the_panel_checker_reports_refused_queries_empty_results_and_empty_variables() {
    let prometheus = exporter_like_prometheus();
    let client = {
        let mut c = fleet_incentives::source::ClientConfig::new(prometheus.url());
        c.max_attempts = 1;
        fleet_incentives::source::Client::new(c).unwrap()
    };
    let mut board = load_dashboards().into_iter().find(|b| b.file == "operator-scorecard.json").unwrap();
    let model = &mut board.model;
    // The first stat's query: refused by Prometheus; the second: no series.
    model["panels"][0]["targets"][0]["expr"] = "sum(fleet_incentives_fleet_nodes".into();
    model["panels"][1]["targets"][0]["expr"] = "fleet_incentives_fleet_nodes{region=\"nowhere\"}".into();
    let failures = common::block_on(check_dashboard_at(&client, &board, check_time()));
    let problems: Vec<(i64, &Problem)> = failures.iter().map(|f| (f.panel_id, &f.problem)).collect();
    assert!(matches!(problems[..], [(1, Problem::Error(_)), (2, Problem::NoData)]), "{problems:?}");

    // An operator nobody has: the variable is empty, its panels find nothing.
    let mut board = load_dashboards().into_iter().find(|b| b.file == "operator-scorecard.json").unwrap();
    let vars = board.model["templating"]["list"].as_array_mut().unwrap();
    let operator = vars.iter_mut().find(|v| v["name"] == "operator").unwrap();
    operator["query"]["query"] =
        "label_values(fleet_incentives_operator_uptime_ratio{tier=\"tier9\"}, operator)".into();
    let failures = common::block_on(check_dashboard_at(&client, &board, check_time()));
    assert!(matches!(failures[0].problem, Problem::VariableEmpty(_)), "{:?}", failures[0]);
    assert!(failures.iter().any(|f| f.problem == Problem::NoData));
}
