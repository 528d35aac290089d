//! A second Prometheus-API backend: the same month of the test fleet in a
//! REAL Prometheus (backfilled) and a REAL VictoriaMetrics single-node
//! (imported, see `common::victoria`) gives the same bytes through
//! `evaluate`, `close` and `serve`.
//!
//! The month is the six-node October of `close` (outages, a P0, a P1, a
//! 26-hour P2, a gap, maintenance) plus per-operator revenue series read by
//! an input, so inputs go through both backends too. The source's own
//! queries (`count_over_time`/`sum_over_time` of 0/1 samples, raw range
//! selectors, ranges 1 ms short) mean the same on both. User PromQL in
//! inputs need not: the last two tests pin the differences found, which is
//! why the compared input sums integer cents.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::fleet::{self, Plan};
use common::serve::{Serve, sample, samples};
use common::victoria::VictoriaMetrics;
use common::{Prometheus, Series};
use fleet_incentives::evaluation::LineStatus;
use fleet_incentives::facts::InputFacts;
use fleet_incentives::period::Period;
use fleet_incentives::rules::{self, Rules};
use fleet_incentives::source::{self, Client};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration as StdDuration, Instant};

const PERIOD: &str = "2026-10";
const PERIOD_END: &str = "2026-11-01T00:00:00Z";
/// Samples per series in October at 60 s.
const MINUTES: f64 = 31.0 * 24.0 * 60.0;

/// Revenue per minute of each operator, in cents.
const CENTS_PER_MINUTE: [(&str, u32); 2] = [("op-eu", 35), ("op-us", 20)];

/// The head of the rules file: version, programme and the revenue input;
/// `{REVENUE}` is the input's PromQL.
const HEAD: &str = r#"
version: 1
programme: {name: Backends programme, currency: USD, time_zone: UTC}
inputs:
  - {name: operator_revenue, query: '{REVENUE}', by: operator, unit: money}
"#;

/// The revenue input both backends answer alike: integer cents summed
/// sample by sample (exact in floating point), then in dollars.
const REVENUE: &str = "sum by (operator) (sum_over_time(fleet_operator_revenue_cents[$__range])) / 100";

/// Tiers and operators, after [`fleet::SIX_NODE_RULES`]: lines that read
/// every fact a backend feeds — the nodes seen, uptime to the 0.1 %,
/// coverage (n3's gap), resolution breaches (n6's 26 hours), the input.
const TAIL: &str = r#"tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: per_node, name: Per node seen, kind: per_node, category: stipend, amount: 400}
      - {id: uptime_steps, name: Uptime steps, kind: steps, category: uptime_bonus, over: uptime, above: 0.98, step: 0.001, amount: 50, max_steps: 20}
      - {id: covered, name: Full coverage, kind: fixed, category: performance_bonus, amount: 75, when: "coverage >= 0.999"}
      - {id: resolved, name: Resolved in time, kind: fixed, category: performance_bonus, amount: 100, when: "resolve_breaches == 0"}
      - {id: revenue_share, name: Revenue share, kind: percent, category: revenue_share, percent: 2, of: {input: operator_revenue}}
operators:
  - {id: op-eu, name: EU operator, email: eu@example.org, tier: t1, start: 2026-01-01, nodes: [n1, n2, n3]}
  - {id: op-us, name: US operator, email: us@example.org, tier: t1, start: 2026-01-01, nodes: [n4, n5, n6]}
"#;

/// October 2026: the six-node month of `close` (Sundays 4, 11, 18, 25;
/// n6 down 26 hours from the 20th, n3's gap on the 22nd).
fn october() -> Plan {
    fleet::six_nodes(Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap(), 31, 4, 20, 22)
}

/// The plan's `up` series and, per operator, the revenue of each minute
/// in cents and in dollars (0.35: not a binary fraction) and a revenue
/// counter in cents that stood at 1,000 minutes' worth when the data starts.
fn series(plan: &Plan) -> Vec<Series> {
    let mut all = plan.series("fleet-node");
    let start = plan.span.start;
    for (operator, cents) in CENTS_PER_MINUTE {
        let (labels, cents) = ([("operator", operator)], f64::from(cents));
        all.push(Series::new("fleet_operator_revenue_cents", &labels, move |_| Some(cents)));
        all.push(Series::new("fleet_operator_revenue_usd", &labels, move |_| Some(cents / 100.0)));
        let minutes = move |t: DateTime<Utc>| (t - start).num_minutes() as f64;
        let counter = move |t| Some(cents * (1000.0 + minutes(t)));
        all.push(Series::new("fleet_operator_revenue_cents_total", &labels, counter));
    }
    all
}

struct Fixture {
    prometheus: Prometheus,
    vm: VictoriaMetrics,
    root: tempfile::TempDir,
    /// The rules with the [`REVENUE`] input.
    rules: PathBuf,
}

impl Fixture {
    /// Both backends: name and URL.
    fn backends(&self) -> [(&'static str, String); 2] {
        [("prometheus", self.prometheus.url()), ("victoria-metrics", self.vm.url())]
    }
}

fn rules_yaml(revenue: &str) -> String {
    [HEAD, fleet::SIX_NODE_RULES, TAIL].concat().replace("{REVENUE}", revenue)
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let plan = october();
        let series = series(&plan);
        let prometheus = Prometheus::start(&series, plan.span);
        let vm = VictoriaMetrics::start(&series, plan.span);
        let root = tempfile::Builder::new().prefix("fleet-backends-").tempdir().unwrap();
        let rules = root.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("rules.yaml"), rules_yaml(REVENUE)).unwrap();
        Fixture { prometheus, vm, root, rules }
    })
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env("RUST_LOG", "warn");
    c
}

fn ok(o: Output, what: &str) -> Vec<u8> {
    assert!(o.status.success(), "{what} failed: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// `left == right`, or a panic that lists the lines that differ.
fn assert_same(what: &str, left: &str, right: &str) {
    if left == right {
        return;
    }
    let (l, r): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    let differ: Vec<String> = (0..l.len().max(r.len()))
        .filter(|i| l.get(*i) != r.get(*i))
        .map(|i| {
            format!(
                "line {}:\n  Prometheus:       {}\n  VictoriaMetrics:  {}",
                i + 1,
                l.get(i).unwrap_or(&""),
                r.get(i).unwrap_or(&"")
            )
        })
        .collect();
    panic!("{what}: {} lines differ:\n{}", differ.len(), differ.join("\n"));
}

fn loaded_rules(dir: &Path) -> Rules {
    rules::load_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

// --------------------------------------------------------------- evaluate

#[test]
fn evaluate_gives_the_same_statement_from_prometheus_and_victoria_metrics() {
    let f = fixture();
    for format in ["json", "csv", "table"] {
        let [p, v] = f.backends().map(|(name, url)| {
            let o = bin()
                .args(["evaluate", "--period", PERIOD, "--at", PERIOD_END, "--format", format])
                .args(["--prometheus.url", &url, "--rules.dir"])
                .arg(&f.rules)
                .output()
                .unwrap();
            ok(o, &format!("evaluate --format {format} from {name}"))
        });
        assert_same(&format!("evaluate --format {format}"), text(&p), text(&v));
    }
    // The month is not trivial: incidents of every severity, lines paid
    // and not met on either side of each threshold, the input read.
    let rules = loaded_rules(&f.rules);
    let period = Period::month(PERIOD, rules.time_zone).unwrap();
    let reading = common::block_on(source::read_facts(&f.vm.client(), &rules, period.start, period.end)).unwrap();
    let evaluation =
        fleet_incentives::engine::evaluate(&reading.facts, &Default::default(), &rules, &period, period.end);
    let severities: Vec<&str> = evaluation.incidents.iter().map(|i| i.severity.as_str()).collect();
    assert_eq!(severities, ["P0", "P1", "P2", "P2"]);
    let status = |operator: &str, line: &str| {
        let o = evaluation.operators.iter().find(|o| o.id == operator).unwrap();
        o.lines.iter().find(|l| l.id == line).unwrap().status
    };
    assert_eq!([status("op-eu", "covered"), status("op-us", "covered")], [LineStatus::NotMet, LineStatus::Paid]);
    assert_eq!([status("op-eu", "resolved"), status("op-us", "resolved")], [LineStatus::Paid, LineStatus::NotMet]);
    let InputFacts::Values(revenue) = &reading.facts.inputs["operator_revenue"] else { panic!("the input failed") };
    assert_eq!(revenue.keys().collect::<Vec<_>>(), ["op-eu", "op-us"]);
}

// ------------------------------------------------------------------ close

/// The files of `close` that carry the statement; `evidence.json` holds
/// each backend's raw answers and is compared on its own.
const STATEMENT_FILES: [&str; 3] = ["statement.csv", "statement.json", "programme-report.md"];

fn close(f: &Fixture, url: &str, out: &Path) {
    let o = bin()
        .args(["close", "--period", PERIOD, "--prometheus.url", url, "--rules.dir"])
        .arg(&f.rules)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    ok(o, &format!("close from {url}"));
}

#[test]
fn close_writes_the_same_statement_from_prometheus_and_victoria_metrics() {
    let f = fixture();
    let [p, v] = f.backends().map(|(name, url)| {
        let out = f.root.path().join(format!("close-{name}"));
        close(f, &url, &out);
        out.join(PERIOD)
    });
    for name in STATEMENT_FILES {
        let (a, b) = (std::fs::read(p.join(name)).unwrap(), std::fs::read(v.join(name)).unwrap());
        assert_same(name, text(&a), text(&b));
    }
    // The evidence: the same queries, answered with the same data (by
    // Prometheus through remote read, marked `computed_from`; VictoriaMetrics
    // has none, so it answered the PromQL itself).
    let evidence = |dir: &Path| -> serde_json::Value {
        let mut e: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("evidence.json")).unwrap()).unwrap();
        for q in e["queries"].as_array_mut().unwrap() {
            q.as_object_mut().unwrap().remove("computed_from");
        }
        e
    };
    let (a, b) = (evidence(&p), evidence(&v));
    assert_eq!(a, b, "evidence.json: Prometheus (left) vs VictoriaMetrics (right)");
    // Each replays to the statement, without a backend.
    for dir in [&p, &v] {
        let o = bin().args(["replay", "--format", "json", "--evidence"]).arg(dir.join("evidence.json")).output();
        assert_eq!(ok(o.unwrap(), "replay"), std::fs::read(dir.join("statement.json")).unwrap());
    }
}

// ------------------------------------------------------------------ serve

/// The month-to-date part of a `/metrics` body: the evaluation's text,
/// before the self-metrics (which carry each process' own durations).
fn month_to_date(body: &str) -> &str {
    &body[..body.find("# HELP fleet_incentives_build ").expect("self-metrics in the body")]
}

fn window_end(body: &str) -> Option<i64> {
    sample(body, "fleet_incentives_data_window_end_timestamp_seconds").map(|s| s as i64)
}

#[test]
fn serve_gives_the_same_month_to_date_from_prometheus_and_victoria_metrics() {
    let f = fixture();
    // Oct 20 11:00: n6's 26-hour outage is under way; every cycle then
    // reads the second since the last one, raw.
    let flags = ["--clock.start=2026-10-20T11:00:00Z", "--inputs.refresh-interval=0s"];
    let [mut p, mut v] = f.backends().map(|(_, url)| Serve::start(common::free_port(), &url, &f.rules, &flags));
    p.wait_ready();
    v.wait_ready();
    let mut seen: [BTreeMap<i64, String>; 2] = Default::default();
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let first = window_end(&v.get("/metrics").1).expect("a data window end");
    let end = loop {
        for (serve, seen) in [&p, &v].into_iter().zip(seen.iter_mut()) {
            let body = serve.get("/metrics").1;
            if let Some(end) = window_end(&body) {
                seen.insert(end, month_to_date(&body).to_string());
            }
        }
        // A window end both reached after a few incremental cycles.
        if let Some(end) = seen[0].keys().find(|k| **k >= first + 3 && seen[1].contains_key(*k)) {
            break *end;
        }
        assert!(Instant::now() < deadline, "no common window end: {:?} vs {:?}", seen[0].keys(), seen[1].keys());
        std::thread::sleep(StdDuration::from_millis(100));
    };
    let (from_p, from_v) = (&seen[0][&end], &seen[1][&end]);
    assert_eq!(from_p, from_v, "serve at window end {end}: Prometheus (left) vs VictoriaMetrics (right)");
    assert!(!samples(from_v, "fleet_incentives_incident_start_timestamp_seconds").is_empty(), "n6's open incident");
    assert!(from_v.contains("line=\"revenue_share\""), "the input's line: {from_v}");
    // And it is what `evaluate --at` reads from either backend.
    let rules = loaded_rules(&f.rules);
    let to = Utc.timestamp_opt(end, 0).unwrap();
    for (name, url) in f.backends() {
        let client = Client::new(source::ClientConfig::new(url)).unwrap();
        let want = evaluate_at(&client, &rules, to);
        assert_eq!(from_v, &want, "serve from VictoriaMetrics vs evaluate --at {to} from {name}");
    }
}

/// What `evaluate --at to` gives, as the exporter encodes it.
fn evaluate_at(client: &Client, rules: &Rules, to: DateTime<Utc>) -> String {
    let period = Period::containing(to, rules.time_zone);
    let reading = common::block_on(source::read_facts(client, rules, period.start, to)).unwrap();
    let evaluation = fleet_incentives::engine::evaluate(&reading.facts, &Default::default(), rules, &period, to);
    fleet_incentives::export::encode_evaluation(&evaluation)
}

// ----------------------------------------------- where the backends differ

/// One input's values from each backend over October: (Prometheus, VictoriaMetrics).
fn input_values(f: &Fixture, query: &str) -> [BTreeMap<String, f64>; 2] {
    let rules = rules::from_yaml_unchecked(&rules_yaml(query)).unwrap();
    let span = october().span;
    f.backends().map(|(name, url)| {
        let client = Client::new(source::ClientConfig::new(url)).unwrap();
        let mut inputs =
            common::block_on(source::read_inputs(&client, &rules.inputs, span.start, span.end, &mut vec![]));
        match inputs.remove("operator_revenue") {
            Some(InputFacts::Values(v)) => v,
            other => panic!("{name}: {other:?}"),
        }
    })
}

/// `sum_over_time` of values that are not binary fractions: Prometheus
/// (2.42) adds with compensated (Kahan) summation and gets the sum of the
/// stored values correctly rounded, `0.35 × 44,640` = 15623.999999999998;
/// VictoriaMetrics adds them one after the other and gets the rounding
/// error of 44,640 additions, 15624.00000001123. (The `up` sums of the
/// source are integers: exact on both.)
#[test]
fn sum_over_time_of_fractions_differs_in_the_last_digits_as_prometheus_compensates_the_rounding() {
    let f = fixture();
    let [p, v] = input_values(f, "sum by (operator) (sum_over_time(fleet_operator_revenue_usd[$__range]))");
    for (operator, cents) in CENTS_PER_MINUTE {
        let x = f64::from(cents) / 100.0;
        assert_eq!(p[operator], x * MINUTES, "Prometheus, {operator}: the exact sum, rounded once");
        let one_by_one = (0..MINUTES as u32).fold(0.0, |sum, _| sum + x);
        assert_eq!(v[operator], one_by_one, "VictoriaMetrics, {operator}: added one by one");
    }
    assert_ne!(p["op-eu"], v["op-eu"]);
}

/// `increase` is not the same function: for a counter with no sample
/// before the window, VictoriaMetrics gives last − first (the window's
/// first sample is 60 s after its start and is taken as the base: 44,639
/// minutes of revenue), Prometheus extrapolates last − first to the window
/// start (up to 1.1 average intervals away): 44,640 minutes, up to
/// floating-point rounding. With samples before the window, VictoriaMetrics
/// takes the last of them as the base instead (exact, no extrapolation).
/// Inputs written with `increase`/`rate` over `$__range` may so differ
/// by up to a scrape interval's increase at each window edge.
#[test]
fn increase_without_an_earlier_sample_is_extrapolated_by_prometheus_and_not_by_victoria_metrics() {
    let f = fixture();
    let [p, v] = input_values(f, "sum by (operator) (increase(fleet_operator_revenue_cents_total[$__range]))");
    for (operator, cents) in CENTS_PER_MINUTE {
        let per_minute = f64::from(cents);
        assert_eq!(v[operator], per_minute * (MINUTES - 1.0), "VictoriaMetrics, {operator}: last − first");
        let month = per_minute * MINUTES;
        assert!((p[operator] - month).abs() < 1e-6, "Prometheus, {operator}: extrapolated: {}", p[operator]);
    }
}

/// Range boundaries: Prometheus 2.x ranges hold both ends, `[t − r, t]`;
/// VictoriaMetrics' are left-open, `(t − r, t]`. A one-minute range
/// ending on a sample so holds two samples on Prometheus and one on
/// VictoriaMetrics; the source writes every range 1 ms short, which holds
/// one on both (and consecutive windows never share a sample).
#[test]
fn a_range_holds_its_left_edge_on_prometheus_only_so_the_source_writes_ranges_1_ms_short() {
    let f = fixture();
    let t = october().span.start + chrono::Duration::minutes(2);
    let count = |url: &str, query: &str| -> f64 {
        let client = Client::new(source::ClientConfig::new(url)).unwrap();
        match common::block_on(client.instant(query, t)).unwrap().data {
            source::QueryData::Vector(v) if v.len() == 1 => v[0].value,
            other => panic!("{query}: {other:?}"),
        }
    };
    let up = r#"up{instance="n1"}"#;
    let whole = format!("count_over_time({up}[60s])");
    let left_open =
        format!("count_over_time({})", source::plan::range_selector(up, (t - chrono::Duration::minutes(1), t)));
    assert_eq!(count(&f.prometheus.url(), &whole), 2.0, "Prometheus: 00:01 and 00:02");
    assert_eq!(count(&f.vm.url(), &whole), 1.0, "VictoriaMetrics: 00:02");
    for (name, url) in f.backends() {
        assert_eq!(count(&url, &left_open), 1.0, "{name}: {left_open}");
    }
}

/// `-search.latencyOffset` (30 s by default): VictoriaMetrics answers an
/// instant query for a time less than 30 s before its own clock as of
/// 30 s ago, without saying so (the answer carries the time asked for).
/// Aggregates over a window that ends in the last 30 s miss its newest
/// samples; raw range selectors (serve's per-cycle reads) are not moved.
/// Hence `serve --evaluation.delay` must exceed the offset: with the
/// default 30 s of both, the window end is just old enough.
#[test]
fn victoria_metrics_answers_for_the_last_30_seconds_as_of_30_seconds_ago() {
    let f = fixture();
    let now = Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap();
    let at = |seconds_ago: i64| (now - chrono::Duration::seconds(seconds_ago)).timestamp_millis();
    f.vm.add(&format!("latency_probe 1 {}\nlatency_probe 1 {}\nlatency_probe 1 {}\n", at(50), at(35), at(2)));
    let client = f.vm.client();
    let answer = |query: &str| common::block_on(client.instant(query, now)).unwrap().data;
    match answer("count_over_time(latency_probe[120s])") {
        source::QueryData::Vector(v) => {
            assert_eq!(v.iter().map(|s| s.value).collect::<Vec<_>>(), [2.0], "the sample 2 s old is not counted");
            assert_eq!(v[0].time, now, "the answer says it is for the time asked");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(answer("latency_probe[120s]").samples(), 3, "a raw range selector sees every sample");
}
