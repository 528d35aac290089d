//! The Grafana JSON models of `dashboards/`, read the way Grafana reads
//! them: panels (rows' nested panels included), their targets, template
//! variables and the variable references in any string.
//!
//! - [`CONTRACT_METRICS`]: the metric names `fleet-incentives serve` exports
//!   (the metrics contract); the ONE list the dashboard tests check against.
//! - [`substitute`]: a panel query with its `$variables` replaced, so that
//!   promql-parser (offline) or Prometheus (live) can read it.
//! - [`metric_names`]: every metric name a PromQL expression selects.
//! - [`check_panels_against`]: runs every panel query against a Prometheus
//!   holding the exporter's metrics and returns the queries that fail or
//!   return no data.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use fleet_incentives::source::{Client, ClientConfig, QueryData};
use promql_parser::parser::{self, Expr};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every metric name `fleet-incentives serve` exports, as Prometheus stores
/// them (counters with `_total`, info metrics with `_info`), from the
/// metrics contract (README, "Metrics reference"; `src/export/tests.rs`).
pub const CONTRACT_METRICS: &[&str] = &[
    // evaluation metrics (a fresh registry per evaluation)
    "fleet_incentives_period_info",
    "fleet_incentives_rules_info",
    "fleet_incentives_period_start_timestamp_seconds",
    "fleet_incentives_period_end_timestamp_seconds",
    "fleet_incentives_data_window_end_timestamp_seconds",
    "fleet_incentives_fleet_nodes",
    "fleet_incentives_fleet_uptime_ratio",
    "fleet_incentives_fleet_coverage_ratio",
    "fleet_incentives_region_uptime_ratio",
    "fleet_incentives_region_coverage_ratio",
    "fleet_incentives_node_uptime_ratio",
    "fleet_incentives_node_coverage_ratio",
    "fleet_incentives_node_down_seconds",
    "fleet_incentives_node_offline_since_timestamp_seconds",
    "fleet_incentives_operator_uptime_ratio",
    "fleet_incentives_operator_coverage_ratio",
    "fleet_incentives_operator_nodes",
    "fleet_incentives_incidents",
    "fleet_incentives_incidents_open",
    "fleet_incentives_incident_mttr_seconds",
    "fleet_incentives_incident_mean_response_seconds",
    "fleet_incentives_sla_breaches",
    "fleet_incentives_incident_start_timestamp_seconds",
    "fleet_incentives_incident_age_seconds",
    "fleet_incentives_incident_respond_deadline_timestamp_seconds",
    "fleet_incentives_incident_resolve_deadline_timestamp_seconds",
    "fleet_incentives_incident_acknowledged_timestamp_seconds",
    "fleet_incentives_incident_escalation_level",
    "fleet_incentives_incident_nodes_down",
    "fleet_incentives_pay_line_amount",
    "fleet_incentives_pay_line_status",
    "fleet_incentives_payee_total_amount",
    "fleet_incentives_payee_year_to_date_amount",
    "fleet_incentives_payee_adjustment_amount",
    "fleet_incentives_payee_balance_in_amount",
    "fleet_incentives_payee_payable_amount",
    "fleet_incentives_payee_balance_out_amount",
    "fleet_incentives_payee_written_off_amount",
    "fleet_incentives_programme_payable_amount",
    "fleet_incentives_dispute_open_age_seconds",
    "fleet_incentives_payee_state",
    "fleet_incentives_payee_held_amount",
    "fleet_incentives_programme_held_amount",
    "fleet_incentives_programme_hold_all",
    "fleet_incentives_class_incidents",
    "fleet_incentives_class_incidents_open",
    "fleet_incentives_class_incident_mttr_seconds",
    "fleet_incentives_class_incident_mean_response_seconds",
    "fleet_incentives_class_sla_breaches",
    "fleet_incentives_class_incident_start_timestamp_seconds",
    "fleet_incentives_class_incident_respond_deadline_timestamp_seconds",
    "fleet_incentives_class_incident_resolve_deadline_timestamp_seconds",
    "fleet_incentives_class_incident_acknowledged_timestamp_seconds",
    "fleet_incentives_programme_total_amount",
    "fleet_incentives_promotion_eligible",
    "fleet_incentives_promotion_eligible_since_timestamp_seconds",
    "fleet_incentives_payee_score",
    "fleet_incentives_payee_score_criterion",
    "fleet_incentives_payee_flag",
    "fleet_incentives_evaluation_warnings",
    "fleet_incentives_leakage_findings",
    "fleet_incentives_leakage_roster_node_without_data",
    "fleet_incentives_leakage_unrostered_node",
    "fleet_incentives_leakage_paid_without_active_node_amount",
    // self-metrics (one long-lived registry)
    "fleet_incentives_build_info",
    "fleet_incentives_evaluations_total",
    "fleet_incentives_evaluation_failures_total",
    "fleet_incentives_evaluation_duration_seconds",
    "fleet_incentives_last_successful_evaluation_timestamp_seconds",
    "fleet_incentives_input_up",
    "fleet_incentives_input_failures_total",
    "fleet_incentives_queries_total",
    "fleet_incentives_query_failures_total",
    "fleet_incentives_query_samples_total",
    "fleet_incentives_rules_last_reload_successful",
    "fleet_incentives_rules_last_reload_success_timestamp_seconds",
    "fleet_incentives_acknowledgement_source_up",
    "fleet_incentives_acknowledgement_source_failures_total",
];

/// The metric names of README's "Metrics reference" tables (the contract
/// as documented).
pub fn readme_metrics() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("\n## Metrics reference").expect("README: ## Metrics reference");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let names: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("fleet_incentives_"))
        .map(str::to_string)
        .collect();
    assert!(names.len() > 30, "README metrics reference: only {names:?}");
    names
}

/// The repository's `dashboards/` directory.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// One dashboard: its file name and JSON model.
pub struct Dashboard {
    pub file: String,
    pub model: Value,
}

impl Dashboard {
    /// Every panel, rows' nested panels included, in order.
    pub fn panels(&self) -> Vec<&Value> {
        fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
            for p in panels.as_array().into_iter().flatten() {
                out.push(p);
                walk(&p["panels"], out);
            }
        }
        let mut out = vec![];
        walk(&self.model["panels"], &mut out);
        out
    }

    /// The template variables (`templating.list`).
    pub fn variables(&self) -> Vec<&Value> {
        self.model["templating"]["list"].as_array().map(|v| v.iter().collect()).unwrap_or_default()
    }
}

/// Every `*.json` in `dashboards/`, sorted by file name; a file that is not
/// JSON panics with its name.
pub fn load_dashboards() -> Vec<Dashboard> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("dashboards/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let model = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            Dashboard { file: path.file_name().unwrap().to_string_lossy().into_owned(), model }
        })
        .collect()
}

/// Panel type of a row (a container, no queries of its own).
pub fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

/// The panel's targets (queries).
pub fn targets(panel: &Value) -> Vec<&Value> {
    panel["targets"].as_array().map(|v| v.iter().collect()).unwrap_or_default()
}

/// The PromQL of a target (`expr`), if it has one.
pub fn expr(target: &Value) -> Option<&str> {
    target["expr"].as_str()
}

// ------------------------------------------------------------- variables

/// Grafana's built-in variables that may appear in a query, with the sample
/// values used to read it (the window of [`check_panels_against`]: one hour,
/// one-minute steps).
pub const BUILTIN_VARIABLES: &[(&str, &str)] = &[
    ("__range", "1h"),
    ("__range_s", "3600"),
    ("__range_ms", "3600000"),
    ("__interval", "1m"),
    ("__interval_ms", "60000"),
    ("__rate_interval", "4m"),
];

/// A variable reference in a string: its name and byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every variable reference in `s`: `$name`, `${name}`, `${name:format}`
/// and `[[name]]`.
pub fn var_refs(s: &str) -> Vec<VarRef> {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1] == b'{' {
            if let Some(close) = s[i..].find('}') {
                let inner = &s[i + 2..i + close];
                let name = inner.split(':').next().unwrap_or("");
                if !name.is_empty() && name.bytes().all(is_ident) {
                    out.push(VarRef { name: name.into(), start: i, end: i + close + 1 });
                }
                i += close + 1;
                continue;
            }
        } else if b[i] == b'$' {
            let mut j = i + 1;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
            if j > i + 1 && !b[i + 1].is_ascii_digit() {
                out.push(VarRef { name: s[i + 1..j].into(), start: i, end: j });
                i = j;
                continue;
            }
        } else if b[i] == b'['
            && s[i..].starts_with("[[")
            && let Some(close) = s[i..].find("]]")
        {
            let name = s[i + 2..i + close].split(':').next().unwrap_or("");
            if !name.is_empty() && name.bytes().all(is_ident) {
                out.push(VarRef { name: name.into(), start: i, end: i + close + 2 });
                i += close + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Every string anywhere in a JSON value.
pub fn strings(v: &Value) -> Vec<&str> {
    let mut out = vec![];
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// `text` with every variable replaced by its value in `values`, or Grafana's
/// built-ins by [`BUILTIN_VARIABLES`]; an unknown variable is an error.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut last = 0;
    for r in var_refs(text) {
        let value = values
            .get(&r.name)
            .map(String::as_str)
            .or_else(|| BUILTIN_VARIABLES.iter().find(|(n, _)| *n == r.name).map(|(_, v)| *v))
            .ok_or_else(|| format!("unknown variable ${} in {text:?}", r.name))?;
        out.push_str(&text[last..r.start]);
        out.push_str(value);
        last = r.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// Sample values for a dashboard's variables, good enough to parse its
/// queries: the regex Grafana sends for "All" (`allValue`) for multi-value
/// variables, else the first option or `sample`.
pub fn sample_values(board: &Dashboard) -> BTreeMap<String, String> {
    board
        .variables()
        .into_iter()
        .filter_map(|v| {
            let name = v["name"].as_str()?.to_string();
            let value = if v["includeAll"] == true {
                v["allValue"].as_str().unwrap_or(".+").to_string()
            } else if let Some(first) = v["options"].as_array().and_then(|o| o.first()) {
                first["value"].as_str().unwrap_or("sample").to_string()
            } else {
                "sample".to_string()
            };
            Some((name, value))
        })
        .collect()
}

/// The text of a query variable's query (`label_values(...)`).
pub fn variable_query(var: &Value) -> Option<&str> {
    var["query"]["query"].as_str().or_else(|| var["query"].as_str())
}

/// `label_values(selector, label)`: the selector and the label.
pub fn parse_label_values(query: &str) -> Result<(String, String), String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("not label_values(selector, label): {query}"))?;
    let (selector, label) = inner.rsplit_once(',').ok_or_else(|| format!("label_values needs a selector: {query}"))?;
    Ok((selector.trim().to_string(), label.trim().to_string()))
}

// ---------------------------------------------------------------- PromQL

/// Every metric name selected anywhere in `expr` (`None` for a selector
/// without a name, e.g. `{__name__=~"..."}`).
pub fn metric_names(expr: &Expr) -> Vec<Option<String>> {
    let mut out = vec![];
    fn walk(e: &Expr, out: &mut Vec<Option<String>>) {
        match e {
            Expr::Aggregate(a) => {
                walk(&a.expr, out);
                if let Some(p) = &a.param {
                    walk(p, out);
                }
            }
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Subquery(s) => walk(&s.expr, out),
            Expr::VectorSelector(v) => out.push(v.name.clone()),
            Expr::MatrixSelector(m) => out.push(m.vs.name.clone()),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    walk(expr, &mut out);
    out
}

/// Parse a query after substituting `values`.
pub fn parse_query(text: &str, values: &BTreeMap<String, String>) -> Result<Expr, String> {
    let query = substitute(text, values)?;
    parser::parse(&query).map_err(|e| format!("{e}\n  query: {query}"))
}

// ------------------------------------------------------------------ live

/// A panel query that failed against a real Prometheus.
#[derive(Debug, Clone)]
pub struct PanelFailure {
    pub dashboard: String,
    pub panel_id: i64,
    pub panel: String,
    /// The query as sent (variables substituted); empty for a variable failure.
    pub query: String,
    /// Evaluated at the previous month's end (the panel has a time shift).
    pub time_shifted: bool,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Prometheus refused the query or did not answer.
    Error(String),
    /// The query returned no series.
    NoData,
    /// A template variable has no value (its `label_values` found nothing).
    VariableEmpty(String),
    /// Something the checker does not know how to run (e.g. a time shift other than `1M/M`).
    Unsupported(String),
}

impl std::fmt::Display for PanelFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} panel {} {:?}", self.dashboard, self.panel_id, self.panel)?;
        if self.time_shifted {
            write!(f, " (last month)")?;
        }
        write!(f, ": {:?}", self.problem)?;
        if !self.query.is_empty() {
            write!(f, "\n    {}", self.query)?;
        }
        Ok(())
    }
}

/// Run every panel query of every dashboard against the Prometheus at
/// `prom_url` (which holds the exporter's metrics, e.g. after scraping
/// `fleet-incentives serve`), now. See [`check_panels_at`].
pub fn check_panels_against(prom_url: &str) -> Vec<PanelFailure> {
    check_panels_at(prom_url, Utc::now())
}

/// Run every panel query of every dashboard against `prom_url` as Grafana
/// would at `at` with the dashboard's default variable values: query
/// variables resolved from Prometheus (first value, or the "All" regex for
/// multi-value variables), instant targets at `at`, range targets over the
/// hour before `at`, panels shifted to last month (`timeShift: 1M/M`) at
/// the previous month's last millisecond (UTC, the dashboards' zone).
/// Returns every query that errors or returns no series.
pub fn check_panels_at(prom_url: &str, at: DateTime<Utc>) -> Vec<PanelFailure> {
    let client = client(prom_url);
    let mut failures = vec![];
    for board in load_dashboards() {
        failures.extend(super::block_on(check_dashboard_at(&client, &board, at)));
    }
    failures
}

/// Wait until the Prometheus at `port` has scraped `metric` at least
/// `scrapes` times within the last minute (range panels need two samples).
pub fn wait_for_scrapes(port: u16, metric: &str, scrapes: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let path = format!("/api/v1/query?query=count_over_time({metric}%5B1m%5D)");
    loop {
        let (_, json) = super::http(port, "GET", &path);
        let seen =
            json.split("\"value\":[").nth(1).and_then(|v| v.split('"').nth(1)).and_then(|v| v.parse::<f64>().ok());
        if seen.is_some_and(|n| n >= scrapes) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "Prometheus did not scrape {metric}: {json}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn client(prom_url: &str) -> Client {
    let mut config = ClientConfig::new(prom_url);
    config.max_attempts = 2;
    config.backoff = std::time::Duration::from_millis(100);
    Client::new(config).unwrap()
}

/// The last millisecond of the month before `at`'s month (UTC).
pub fn previous_month_end(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).unwrap() - Duration::milliseconds(1)
}

/// [`check_panels_at`] for one dashboard model.
pub async fn check_dashboard_at(client: &Client, board: &Dashboard, at: DateTime<Utc>) -> Vec<PanelFailure> {
    let mut failures = vec![];
    let failure = |panel: &Value, query: &str, time_shifted: bool, problem: Problem| PanelFailure {
        dashboard: board.file.clone(),
        panel_id: panel["id"].as_i64().unwrap_or(-1),
        panel: panel["title"].as_str().unwrap_or("").to_string(),
        query: query.to_string(),
        time_shifted,
        problem,
    };
    // Variables, in order (a later one may use an earlier one).
    let mut values = BTreeMap::new();
    for var in board.variables() {
        let name = var["name"].as_str().unwrap_or("").to_string();
        let value = match var["type"].as_str() {
            Some("datasource") => Ok("prometheus".to_string()),
            Some("query") => resolve_query_variable(client, var, &values, at).await,
            _ if var["includeAll"] == true => Ok(var["allValue"].as_str().unwrap_or(".+").to_string()),
            _ => var["options"]
                .as_array()
                .and_then(|o| o.first())
                .and_then(|o| o["value"].as_str())
                .map(str::to_string)
                .ok_or_else(|| "no options".to_string()),
        };
        match value {
            Ok(v) => {
                values.insert(name, v);
            }
            Err(e) => {
                failures.push(failure(&Value::Null, "", false, Problem::VariableEmpty(format!("${name}: {e}"))));
                values.insert(name, "__no_value__".into());
            }
        }
    }
    for panel in board.panels().into_iter().filter(|p| !is_row(p)) {
        let time_shifted = panel.get("timeShift").is_some_and(|v| !v.is_null());
        let when = if time_shifted {
            if panel["timeShift"] != "1M/M" {
                failures.push(failure(
                    panel,
                    "",
                    true,
                    Problem::Unsupported(format!("timeShift {}", panel["timeShift"])),
                ));
                continue;
            }
            previous_month_end(at)
        } else {
            at
        };
        for target in targets(panel) {
            let Some(text) = expr(target) else { continue };
            let query = match substitute(text, &values) {
                Ok(q) => q,
                Err(e) => {
                    failures.push(failure(panel, text, time_shifted, Problem::Error(e)));
                    continue;
                }
            };
            let answer = if target["instant"] == true {
                client.instant(&query, when).await
            } else {
                client.range(&query, when - Duration::hours(1), when, 60).await
            };
            match answer {
                Err(e) => failures.push(failure(panel, &query, time_shifted, Problem::Error(e.to_string()))),
                Ok(a) if a.data.series() == 0 || matches!(&a.data, QueryData::Matrix(m) if m.is_empty()) => {
                    failures.push(failure(panel, &query, time_shifted, Problem::NoData))
                }
                Ok(_) => {}
            }
        }
    }
    failures
}

async fn resolve_query_variable(
    client: &Client,
    var: &Value,
    values: &BTreeMap<String, String>,
    at: DateTime<Utc>,
) -> Result<String, String> {
    let query = variable_query(var).ok_or("no query")?;
    let (selector, label) = parse_label_values(query)?;
    let selector = substitute(&selector, values)?;
    let answer = client.instant(&format!("group by ({label}) ({selector})"), at).await.map_err(|e| e.to_string())?;
    let QueryData::Vector(samples) = answer.data else { return Err("not a vector".into()) };
    let found: BTreeSet<String> = samples.iter().filter_map(|s| s.labels.get(&label).cloned()).collect();
    let first = found.iter().next().ok_or_else(|| format!("{query} found no values"))?;
    if var["includeAll"] == true { Ok(var["allValue"].as_str().unwrap_or(".+").to_string()) } else { Ok(first.clone()) }
}
