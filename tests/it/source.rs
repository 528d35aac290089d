//! The source stage against a REAL Prometheus (backfilled, see `common`):
//! a 12-node fleet in 3 regions over October 2026 at 60 s, with planned
//! outages, gaps and a weekly maintenance window. Every expected value comes
//! from the plan.

use crate::common;

use chrono::{DateTime, TimeZone, Utc};
use common::fleet::{self, Node, Plan, Window};
use common::{Prometheus, Series, Span, block_on, rules_from_yaml};
use fleet_incentives::facts::{InputFacts, Interval, NodeFacts, Outage};
use fleet_incentives::rules::Rules;
use fleet_incentives::source::{
    Client, ClientConfig, QueryKind, Reading, Running, SourceError, read_facts, read_window,
};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, day, h, m, 0).unwrap()
}

fn month_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn names(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|n| format!("n{n:02}")).collect()
}

/// Sundays of October 2026, 02:00–04:00 UTC.
fn sunday_maintenance() -> Vec<Window> {
    [4, 11, 18, 25].iter().map(|d| (at(*d, 2, 0), at(*d, 4, 0))).collect()
}

/// [`fleet::RULES`] with a degraded series and inputs, one of them broken.
const MORE_RULES: &str = r#"  degraded: degraded{job="fleet"}
inputs:
  - name: revenue
    query: sum by (region) (max_over_time(revenue[$__range]))
    by: region
  - name: total_revenue
    query: sum(max_over_time(revenue[$__range]))
    by: scalar
  - name: broken
    query: sum(rate(revenue[$__range])
"#;

fn rules() -> Rules {
    rules_from_yaml(&[fleet::RULES, MORE_RULES].concat())
}

fn plan() -> Plan {
    let regions = [("eu", "op-a"), ("us", "op-b"), ("ap", "op-c")];
    let nodes = (1..=12)
        .map(|i| {
            let (region, operator) = regions[(i - 1) / 4];
            Node { name: format!("n{i:02}"), region: region.into(), operator: operator.into() }
        })
        .collect();
    let all: Vec<u32> = (1..=12).collect();
    Plan {
        span: Span { start: at(1, 0, 0), end: month_end(), step: 60 },
        nodes,
        outages: vec![
            (names(&all), at(3, 10, 0), at(3, 10, 30)),       // fleet-wide
            (names(&[1, 2, 3]), at(7, 14, 0), at(7, 15, 30)), // regional: 3 of 4 in eu
            (names(&[5]), at(9, 8, 0), at(9, 8, 7)),
            (names(&[6]), at(12, 23, 50), at(13, 0, 20)), // across a chunk border
            (names(&[8]), at(14, 20, 0), at(16, 2, 0)),   // 30 h: two chunk borders
            (names(&[10]), at(11, 2, 30), at(11, 3, 30)), // inside maintenance
            (names(&[11]), at(18, 3, 30), at(18, 5, 0)),  // ends after maintenance
            (names(&[12]), at(20, 5, 0), at(20, 7, 0)),   // runs into the fleet gap
            (names(&[7]), at(31, 23, 30), month_end()),   // still down at the end
        ],
        gaps: vec![
            (None, at(20, 6, 0), at(20, 9, 0)), // Prometheus was down
            (Some("n09".into()), at(22, 0, 0), at(22, 12, 0)),
        ],
    }
}

/// Planned outages per node, as the reader must report them.
fn expected_outages() -> BTreeMap<String, Vec<Outage>> {
    let o = |start, end| Outage { start, end, ongoing: false };
    let mut m: BTreeMap<String, Vec<Outage>> =
        names(&(1..=12).collect::<Vec<_>>()).into_iter().map(|n| (n, vec![o(at(3, 10, 0), at(3, 10, 30))])).collect();
    let mut add = |n: u32, out: Outage| m.get_mut(&format!("n{n:02}")).unwrap().push(out);
    for n in [1, 2, 3] {
        add(n, o(at(7, 14, 0), at(7, 15, 30)));
    }
    add(5, o(at(9, 8, 0), at(9, 8, 7)));
    add(6, o(at(12, 23, 50), at(13, 0, 20)));
    add(8, o(at(14, 20, 0), at(16, 2, 0)));
    add(10, o(at(11, 2, 30), at(11, 3, 30)));
    add(11, o(at(18, 3, 30), at(18, 5, 0)));
    add(12, o(at(20, 5, 0), at(20, 6, 0)));
    add(7, Outage { start: at(31, 23, 30), end: month_end(), ongoing: true });
    for v in m.values_mut() {
        v.sort();
    }
    m
}

fn degraded_series() -> Vec<Series> {
    let windows = [("n02", at(10, 22, 0), at(11, 1, 0)), ("n05", at(5, 12, 0), at(5, 14, 0))];
    windows
        .into_iter()
        .map(|(node, s, e)| {
            let labels = [("job", "fleet"), ("instance", node)];
            Series::new("degraded", &labels, move |t| Some(if s < t && t <= e { 1.0 } else { 0.0 }))
        })
        .collect()
}

fn revenue_series() -> Vec<Series> {
    [("eu", 1000.5), ("us", 2000.0), ("ap", 300.0)]
        .into_iter()
        .map(|(region, v)| Series::new("revenue", &[("region", region)], move |_| Some(v)))
        .collect()
}

struct Fixture {
    plan: Plan,
    prometheus: Prometheus,
    rules: Rules,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let plan = plan();
        let mut series = plan.series("fleet");
        series.extend(degraded_series());
        series.extend(revenue_series());
        let prometheus = Prometheus::start(&series, plan.span);
        eprintln!(
            "data for {} series over a month: {:.1} s (from cache: {})",
            series.len(),
            prometheus.backfill_seconds,
            prometheus.cached
        );
        Fixture { plan, prometheus, rules: rules() }
    })
}

/// The whole month, read once.
fn month() -> &'static Reading {
    static R: OnceLock<Reading> = OnceLock::new();
    R.get_or_init(|| {
        let f = fixture();
        let started = std::time::Instant::now();
        // The PromQL plan, whose queries these tests pin (remote read gives
        // the same facts: `remote_read`'s tests).
        let mut config = ClientConfig::new(f.prometheus.url());
        config.stats = true;
        config.protocol = fleet_incentives::source::Protocol::Promql;
        let client = Client::new(config).unwrap();
        let r = block_on(read_facts(&client, &f.rules, f.plan.span.start, f.plan.span.end)).unwrap();
        eprintln!("read_facts over the month: {:.2} s, {} queries", started.elapsed().as_secs_f64(), r.queries.len());
        r
    })
}

fn node<'a>(r: &'a Reading, name: &str) -> &'a NodeFacts {
    r.facts.nodes.iter().find(|n| n.node == name).unwrap_or_else(|| panic!("no facts for {name}"))
}

#[test]
fn every_node_reads_the_planned_up_down_expected_and_maintenance_samples() {
    let (f, r) = (fixture(), month());
    assert_eq!(r.facts.nodes.iter().map(|n| n.node.clone()).collect::<Vec<_>>(), f.plan.node_names());
    for name in f.plan.node_names() {
        let want = f.plan.expected(&name, &sunday_maintenance());
        let n = node(r, &name);
        let got = (n.up_samples, n.down_samples, n.expected_samples, n.maintenance_samples);
        assert_eq!(got, (want.up, want.down, want.expected, want.maintenance), "{name}");
    }
    assert_eq!(r.facts.step_seconds, 60);
    assert_eq!((r.facts.start, r.facts.end), (f.plan.span.start, f.plan.span.end));
    assert_eq!(r.facts.acknowledgements, None);
}

#[test]
fn outages_are_the_planned_intervals_even_across_chunk_borders() {
    let r = month();
    for (name, want) in expected_outages() {
        assert_eq!(node(r, &name).outages, want, "{name}");
    }
}

#[test]
fn missing_data_is_unknown_not_down() {
    let r = month();
    // The 3 h when Prometheus was down: unknown for everyone.
    assert_eq!(node(r, "n01").unknown_samples(), 180);
    // n09 also had no data for 12 h.
    assert_eq!(node(r, "n09").unknown_samples(), 180 + 720);
    // n12 was down until the gap began: the gap is not downtime.
    assert_eq!(node(r, "n12").down_samples, 30 + 60);
}

#[test]
fn an_outage_inside_a_maintenance_window_is_not_counted_down() {
    let r = month();
    assert_eq!(node(r, "n10").down_samples, 30, "only the fleet-wide outage counts");
    assert_eq!(node(r, "n11").down_samples, 30 + 60, "only the hour after the window counts");
    assert_eq!(node(r, "n01").maintenance_samples, 4 * 120);
}

#[test]
fn operator_and_region_come_from_the_series_labels() {
    let r = month();
    let n = node(r, "n06");
    assert_eq!((n.operator.as_deref(), n.region.as_deref()), (Some("op-b"), Some("us")));
}

#[test]
fn degraded_intervals_are_read_as_planned() {
    let want = vec![
        Interval { node: "n02".into(), start: at(10, 22, 0), end: at(11, 1, 0) },
        Interval { node: "n05".into(), start: at(5, 12, 0), end: at(5, 14, 0) },
    ];
    assert_eq!(month().facts.degraded, want);
}

#[test]
fn inputs_are_keyed_by_their_label_and_a_failing_input_fails_alone() {
    let inputs = &month().facts.inputs;
    let want: BTreeMap<String, f64> =
        [("ap", 300.0), ("eu", 1000.5), ("us", 2000.0)].map(|(k, v)| (k.to_string(), v)).into();
    assert_eq!(inputs["revenue"], InputFacts::Values(want));
    assert_eq!(inputs["total_revenue"], InputFacts::Values([(String::new(), 3300.5)].into()));
    match &inputs["broken"] {
        InputFacts::Failed(m) => assert!(m.contains("sum(rate(revenue[2678400s])") && m.contains("bad_data"), "{m}"),
        other => panic!("expected a failed input, got {other:?}"),
    }
}

#[test]
fn every_query_is_recorded_and_stays_small() {
    let r = month();
    let count = |p: &str| r.queries.iter().filter(|q| q.purpose == p).count();
    assert_eq!(count("availability"), 31 * 2, "two instant queries per day");
    assert_eq!(count("maintenance"), 4 * 2, "two per maintenance window");
    assert!(r.queries.iter().all(|q| q.kind != QueryKind::Range), "no range query");
    let outage_queries: Vec<_> = r.queries.iter().filter(|q| q.purpose == "outages").collect();
    assert!(!outage_queries.is_empty() && outage_queries.iter().all(|q| q.kind == QueryKind::Raw));
    for q in r.queries.iter().filter(|q| !q.purpose.starts_with("input:")) {
        {
            let loaded = q.total_queryable_samples.unwrap_or_else(|| panic!("no stats for {}", q.query));
            assert!(loaded <= 12 * 1440 * 2, "{} loaded {loaded} samples", q.query);
        }
    }
    let raw: usize = outage_queries.iter().map(|q| q.samples).sum();
    assert!(raw < 12 * 1440 * 6, "raw samples only where there was downtime: {raw}");
}

#[test]
fn a_window_shorter_than_a_day_and_not_at_midnight_reads_the_same_slots() {
    let f = fixture();
    let (start, end) = (at(12, 12, 0), at(13, 0, 10));
    let r = block_on(read_facts(&f.prometheus.client(), &f.rules, start, end)).unwrap();
    let plan = Plan { span: Span { start, end, step: 60 }, ..f.plan.clone() };
    let n = node(&r, "n06");
    let want = plan.expected("n06", &[]);
    assert_eq!((n.up_samples, n.down_samples, n.expected_samples), (want.up, want.down, want.expected));
    assert_eq!(n.outages, vec![Outage { start: at(12, 23, 50), end, ongoing: true }]);
}

#[test]
fn a_bad_query_fails_the_reading_with_an_error_naming_the_query() {
    let f = fixture();
    let rules = rules_from_yaml("version: 1\nsource:\n  up: up{job=\"fleet\"\n");
    let err = block_on(read_facts(&f.prometheus.client(), &rules, at(1, 0, 0), at(2, 0, 0))).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SourceError::Rejected { status: 400, .. }), "{msg}");
    assert!(msg.contains("count_over_time(up{job=\"fleet\"[86399999ms])") && msg.contains("bad_data"), "{msg}");
}

#[test]
fn prometheus_down_gives_a_connection_error_after_bounded_retries() {
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{}", common::free_port()));
    config.max_attempts = 3;
    config.backoff = std::time::Duration::from_millis(100);
    let client = Client::new(config).unwrap();
    let rules = rules();
    let started = std::time::Instant::now();
    let err = block_on(read_facts(&client, &rules, at(1, 0, 0), at(2, 0, 0))).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, SourceError::Connection { attempts: 3, .. }), "{err}");
    // The month is read with remote read first (`--source.protocol=auto`);
    // a server that cannot be reached is not a server without remote read.
    assert!(err.to_string().contains("query `remote read up{"), "{err}");
    assert!(
        elapsed >= std::time::Duration::from_millis(300) && elapsed < std::time::Duration::from_secs(10),
        "{elapsed:?}"
    );
}

/// A stand-in HTTP server that always answers `status` with `body` and
/// counts the requests: Prometheus cannot be made to answer 503 on demand.
fn always_answering(status: u16, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            counter.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    (url, hits)
}

fn quick_client(url: String) -> Client {
    let mut config = ClientConfig::new(url);
    config.max_attempts = 3;
    config.backoff = std::time::Duration::from_millis(20);
    Client::new(config).unwrap()
}

#[test]
fn unavailable_is_retried_and_bad_data_is_not() {
    let (url, hits) = always_answering(503, r#"{"status":"error","errorType":"unavailable","error":"too busy"}"#);
    let err = block_on(quick_client(url).instant("up", at(2, 0, 0))).unwrap_err();
    assert!(matches!(err, SourceError::Server { status: 503, attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("`up`") && err.to_string().contains("too busy"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let (url, hits) = always_answering(400, r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#);
    let err = block_on(quick_client(url).instant("up{", at(2, 0, 0))).unwrap_err();
    assert!(matches!(err, SourceError::Rejected { status: 400, .. }), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a bad query is not asked again");
}

/// Read `(start, end]` the way `serve` does: one coarse window, then small ones.
fn read_in_pieces(f: &Fixture, cuts: &[DateTime<Utc>]) -> Vec<(DateTime<Utc>, fleet_incentives::facts::Facts)> {
    let client = f.prometheus.client();
    let mut run = Running::new(&f.rules, f.plan.span.start);
    let mut out = vec![];
    for &to in cuts {
        let mut queries = vec![];
        let delta = block_on(read_window(&client, &f.rules, &run, to, &mut queries)).unwrap();
        let kinds: Vec<QueryKind> = queries.iter().map(|q| q.kind).collect();
        if to - run.end <= chrono::Duration::hours(1) {
            assert!(kinds.iter().all(|k| *k == QueryKind::Raw), "a short window is read raw: {kinds:?}");
        }
        run.apply(delta);
        out.push((to, run.facts(&f.rules, BTreeMap::new())));
    }
    out
}

/// `n` windows of `minutes` each after `from`.
fn steps(from: DateTime<Utc>, minutes: i64, n: i64) -> Vec<DateTime<Utc>> {
    (1..=n).map(|i| from + chrono::Duration::minutes(minutes * i)).collect()
}

#[test]
fn a_month_read_window_by_window_equals_the_month_read_at_once() {
    let f = fixture();
    let mut cuts = vec![at(10, 23, 50)];
    cuts.extend(steps(at(10, 23, 50), 1, 20)); // n02 degraded across midnight
    cuts.push(at(12, 23, 55));
    cuts.extend(steps(at(12, 23, 55), 1, 30)); // n06 down across a chunk border
    cuts.push(at(16, 1, 30));
    cuts.extend(steps(at(16, 1, 30), 7, 6)); // n08's 30 h outage ends at 02:00
    cuts.push(at(20, 5, 30));
    cuts.extend(steps(at(20, 5, 30), 10, 6)); // n12 down into the fleet-wide gap
    cuts.extend(steps(at(20, 6, 30), 45, 2));
    cuts.push(at(31, 23, 58));
    cuts.extend(steps(at(31, 23, 58), 1, 2)); // n07 still down at the end
    let pieces = read_in_pieces(f, &cuts);

    let mut whole = month().facts.clone();
    whole.inputs = BTreeMap::new();
    assert_eq!(pieces.last().unwrap().1, whole, "month-to-date in pieces = the month at once");
    // And at a few cuts on the way, against a reading of (start, cut] at once.
    for (to, facts) in
        pieces.iter().filter(|(t, _)| [at(11, 0, 5), at(13, 0, 10), at(16, 2, 5), at(20, 6, 0)].contains(t))
    {
        let mut at_once = block_on(read_facts(&f.prometheus.client(), &f.rules, f.plan.span.start, *to)).unwrap().facts;
        at_once.inputs = BTreeMap::new();
        assert_eq!(*facts, at_once, "month-to-date at {to}");
    }
}
