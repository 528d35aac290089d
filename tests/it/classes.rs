//! Incident classes from incident sources against a REAL Prometheus
//! (backfilled with promtool): seed 002's support tickets (critical 2 h /
//! 24 h, major 4 h / 48 h, questions 48 h and no resolution target) from a
//! ticketing exporter's gauge, and an API service's own `up` (`open_when:
//! zero`) as a class whose resolve target is its RTO (15 min), over October
//! 2026. Every expected value comes from the plan below.
//!
//! - The month read with acknowledgements (silences as Alertmanager returns
//!   them): one class breaches, another is met, a question has no resolve
//!   verdict; pay lines read the per-class variables.
//! - The month read window by window (as `serve` does) gives the same
//!   incidents as one read.
//! - `close` then `replay` through the binary: byte-identical statements,
//!   the incident queries in the evidence.
//! - A REAL Alertmanager: a silence created on it acknowledges a ticket
//!   backfilled over the last minutes (`evaluate --alertmanager.url`).

use crate::common;

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use common::alertmanager::Alertmanager;
use common::{Prometheus, Series, Span, block_on};
use fleet_incentives::evaluation::{ClassIncident, Evaluation, Verdict};
use fleet_incentives::history::History;
use fleet_incentives::period::Period;
use fleet_incentives::pipeline::{self, Read, Silences};
use fleet_incentives::rules::Rules;
use fleet_incentives::source::alertmanager::{Matcher, Silence};
use fleet_incentives::source::{Running, read_facts, read_window};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const RULES: &str = r#"version: 1
programme: {name: Support programme, currency: USD, time_zone: UTC}
source: {up: 'up{job="fleet"}', node_label: instance, region_label: region, step: 1m, failure_after: 5m}
severities:
  - {id: P2, name: Single node, definition: a node down, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
incident_sources:
  - name: support
    selector: 'support_ticket_open{team="fleet"}'
    id_label: ticket
    severity_label: priority
  - name: services
    selector: 'up{service="api"}'
    id_label: service
    class: api_outage
    open_when: zero
incident_classes:
  - {id: critical, name: Critical ticket, respond_within: 2h, resolve_within: 24h, major: true}
  - {id: major, name: Major ticket, respond_within: 4h, resolve_within: 48h}
  - {id: questions, name: Question, respond_within: 48h}
  - {id: api_outage, name: API service outage, respond_within: 15m, resolve_within: 15m}
operators:
  - {id: op-a, name: Operator A, tier: t1, start: 2026-01-01, nodes: [n1]}
  - {id: op-b, name: Operator B, tier: t1, start: 2026-01-01, nodes: [n2]}
tiers:
  - id: t1
    name: Tier 1
    lines:
      - {id: base, name: Base stipend, kind: per_node, amount: 500}
      - {id: support_sla, name: Support SLA met, kind: fixed, amount: 200, when: "respond_breaches_critical + resolve_breaches_critical + respond_breaches_major + resolve_breaches_major == 0"}
      - {id: answered, name: Questions answered in time, kind: per_unit, amount: 10, quantity: "incidents_questions - respond_breaches_questions"}
      - {id: api_rto, name: API recovered within its RTO, kind: fixed, amount: 100, when: "resolve_breaches_api_outage == 0"}
      - {id: clean, name: No major incident, kind: fixed, amount: 50, when: "major_incidents == 0"}
"#;

fn oct(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, d, h, m, 0).unwrap()
}

fn month_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// `[from, to)`.
fn within(t: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    from <= t && t < to
}

/// A ticket gauge: 1 while open, absent otherwise.
fn ticket(ticket: &str, class: &str, operator: &str, open: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Series {
    let labels =
        [("team", "fleet"), ("ticket", ticket), ("class", class), ("operator", operator), ("priority", "high")];
    Series::new("support_ticket_open", &labels, move |t| open.iter().any(|(a, b)| within(t, *a, *b)).then_some(1.0))
}

/// October's series: two nodes always up, the tickets, the API service.
fn series() -> Vec<Series> {
    let mut s = vec![
        Series::new("up", &[("job", "fleet"), ("instance", "n1"), ("region", "eu")], |_| Some(1.0)),
        Series::new("up", &[("job", "fleet"), ("instance", "n2"), ("region", "eu")], |_| Some(1.0)),
        // 30 h: over both critical targets (acknowledged after 3 h).
        ticket("T-1", "critical", "op-a", vec![(oct(3, 9, 0), oct(4, 15, 0))]),
        // 10 h, acknowledged after 1 h by its full id.
        ticket("T-2", "major", "op-b", vec![(oct(4, 9, 0), oct(4, 19, 0))]),
        // 50 h, never acknowledged: past its 48 h respond target.
        ticket("Q-2", "questions", "op-a", vec![(oct(6, 0, 0), oct(8, 2, 0))]),
        // Open from the 20th to the month end, acknowledged after 47 h.
        ticket("Q-1", "questions", "op-a", vec![(oct(20, 0, 0), month_end() + Duration::minutes(1))]),
        // Of a class the rules do not know: a warning, not counted.
        ticket("T-9", "blocker", "op-a", vec![(oct(15, 10, 0), oct(15, 11, 0))]),
    ];
    // Another team's ticket: not selected.
    s.push(Series::new(
        "support_ticket_open",
        &[("team", "other"), ("ticket", "X-1"), ("class", "critical"), ("operator", "op-a")],
        |t| within(t, oct(2, 0, 0), oct(9, 0, 0)).then_some(1.0),
    ));
    // T-3 opened twice: the gauge is 0 in between (closed), absent after.
    let (first, closed, second) = ((oct(10, 9, 0), oct(10, 10, 0)), oct(12, 9, 0), oct(12, 14, 0));
    s.push(Series::new(
        "support_ticket_open",
        &[("team", "fleet"), ("ticket", "T-3"), ("class", "critical"), ("operator", "op-b"), ("priority", "high")],
        move |t| {
            if within(t, first.0, first.1) || within(t, closed, second) {
                Some(1.0)
            } else {
                within(t, first.1, closed).then_some(0.0)
            }
        },
    ));
    // The API service: down 10 minutes on the 7th (within its RTO), 40 on the 8th.
    s.push(Series::new(
        "up",
        &[("job", "api"), ("service", "api"), ("instance", "api-1"), ("operator", "op-a")],
        |t| {
            let down = within(t, oct(7, 10, 0), oct(7, 10, 10)) || within(t, oct(8, 10, 0), oct(8, 10, 40));
            Some(if down { 0.0 } else { 1.0 })
        },
    ));
    s
}

/// The silences on-call made: by key, by full id, between T-3's two runs.
fn silences() -> Vec<Silence> {
    let silence = |id: &str, at: DateTime<Utc>, incident: &str| Silence {
        id: id.into(),
        starts_at: at,
        ends_at: at + Duration::hours(24),
        created_by: "on-call".into(),
        comment: "ack".into(),
        matchers: vec![Matcher { name: "incident".into(), value: incident.into(), is_regex: false, is_equal: true }],
    };
    vec![
        silence("1", oct(3, 12, 0), "T-1"),
        silence("2", oct(4, 10, 0), "major-20261004T0900Z-T-2"),
        silence("3", oct(8, 10, 5), "api"),
        silence("4", oct(10, 9, 30), "T-3"),
        silence("5", oct(11, 12, 0), "T-3"),
        silence("6", oct(21, 23, 0), "Q-1"),
    ]
}

struct Fixture {
    prometheus: Prometheus,
    rules: Rules,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn rules_dir(&self) -> PathBuf {
        self.dir.path().join("rules")
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let prometheus = Prometheus::start(&series(), Span { start: oct(1, 0, 0), end: month_end(), step: 60 });
        let dir = tempfile::Builder::new().prefix("fleet-classes-").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/rules.yaml"), RULES).unwrap();
        let rules = fleet_incentives::rules::load_dir(&dir.path().join("rules")).unwrap_or_else(|e| panic!("{e}"));
        Fixture { prometheus, rules, dir }
    })
}

fn october() -> Period {
    Period::month("2026-10", chrono_tz::Tz::UTC).unwrap()
}

fn evaluate(f: &Fixture, silences: Option<Vec<Silence>>) -> Evaluation {
    let period = october();
    let read = Read {
        client: f.prometheus.client(),
        rules: &f.rules,
        history: &History::default(),
        period: &period,
        window: (period.start, period.end),
        at: period.end,
        silences: Silences::Known(silences),
    };
    pipeline::read_and_evaluate(read, None).unwrap().evaluation
}

/// (class, key, start, duration in minutes, open, respond, resolve)
type Row = (String, String, DateTime<Utc>, i64, bool, Verdict, Option<Verdict>);

fn row(i: &ClassIncident) -> Row {
    (
        i.class.clone(),
        i.key.clone(),
        i.start,
        i.duration_seconds / 60,
        i.end.is_none(),
        i.respond_verdict,
        i.resolve_verdict,
    )
}

fn want(class: &str, key: &str, start: DateTime<Utc>, minutes: i64, respond: Verdict, resolve: Option<Verdict>) -> Row {
    (class.into(), key.into(), start, minutes, false, respond, resolve)
}

#[test]
fn tickets_and_a_service_outage_get_their_classes_targets_and_pay_effects() {
    use Verdict::{Breached, Met};
    let f = fixture();
    let e = evaluate(f, Some(silences()));
    let q1_minutes = (month_end() - oct(20, 0, 0)).num_minutes();
    let expected = vec![
        want("critical", "T-1", oct(3, 9, 0), 30 * 60, Breached, Some(Breached)),
        want("major", "T-2", oct(4, 9, 0), 10 * 60, Met, Some(Met)),
        want("questions", "Q-2", oct(6, 0, 0), 50 * 60, Breached, None),
        // Never acknowledged, back within 15 minutes: its recovery answered it.
        want("api_outage", "api", oct(7, 10, 0), 10, Met, Some(Met)),
        want("api_outage", "api", oct(8, 10, 0), 40, Met, Some(Breached)),
        want("critical", "T-3", oct(10, 9, 0), 60, Met, Some(Met)),
        want("critical", "T-3", oct(12, 9, 0), 5 * 60, Met, Some(Met)),
        ("questions".into(), "Q-1".into(), oct(20, 0, 0), q1_minutes, true, Met, None),
    ];
    assert_eq!(e.class_incidents.iter().map(row).collect::<Vec<_>>(), expected);
    let response: Vec<Option<i64>> = e.class_incidents.iter().map(|i| i.response_seconds).collect();
    assert_eq!(response, [Some(3 * 3600), Some(3600), None, None, Some(300), Some(1800), Some(0), Some(47 * 3600)]);
    let t1 = &e.class_incidents[0];
    assert_eq!(
        (t1.id.as_str(), t1.severity.as_deref(), t1.operator.as_deref()),
        ("critical-20261003T0900Z-T-1", Some("high"), Some("op-a"))
    );
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("incident T-9 of source support at 2026-10-15T10:00:00+00:00 is of class blocker")),
        "{:#?}",
        e.warnings
    );
    // Per class, in rules order.
    type Summary<'a> = (&'a str, u64, u64, u64, u64, Option<Decimal>);
    let classes: Vec<Summary> = e
        .classes
        .iter()
        .map(|c| (c.class.as_str(), c.incidents, c.open, c.respond_breaches, c.resolve_breaches, c.mttr_seconds))
        .collect();
    let h = |hours: i64| Some(Decimal::from(hours * 3600));
    assert_eq!(
        classes,
        [
            ("critical", 3, 0, 1, 1, h(12)),
            ("major", 1, 0, 0, 0, h(10)),
            ("questions", 2, 1, 1, 0, h(50)),
            ("api_outage", 2, 0, 0, 1, Some(Decimal::from(25 * 60))),
        ]
    );
    // Pay: op-a has the critical breach, one question answered in time, the
    // API's RTO breach; op-b met every target. Both had critical (major) tickets.
    let lines = |op: &str| -> BTreeMap<String, Decimal> {
        let s = e.operators.iter().find(|s| s.id == op).unwrap();
        s.lines.iter().map(|l| (l.id.clone(), l.amount)).collect()
    };
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let a = lines("op-a");
    assert_eq!((a["support_sla"], a["answered"], a["api_rto"], a["clean"]), (d("0"), d("10"), d("0"), d("0")));
    let b = lines("op-b");
    assert_eq!((b["support_sla"], b["answered"], b["api_rto"], b["clean"]), (d("200"), d("0"), d("100"), d("0")));
    assert_eq!(e.total, d("1310.00"), "500 + 10 and 500 + 200 + 100");
    // Node outages: none, by severity as ever.
    assert!(e.incidents.is_empty());

    // Without an acknowledgement source the respond verdicts are unknown and
    // the lines that read them withheld, never paid as met.
    let e = evaluate(f, None);
    assert!(e.class_incidents.iter().all(|i| i.respond_verdict == Verdict::Unknown));
    let b = e.operators.iter().find(|s| s.id == "op-b").unwrap();
    let sla = b.lines.iter().find(|l| l.id == "support_sla").unwrap();
    assert_eq!(sla.status, fleet_incentives::evaluation::LineStatus::Withheld);
}

#[test]
fn the_month_read_window_by_window_has_the_incidents_of_one_read() {
    let f = fixture();
    let client = f.prometheus.client();
    let period = october();
    let whole = block_on(read_facts(&client, &f.rules, period.start, period.end)).unwrap();
    assert_eq!(whole.facts.reported.len(), 9, "the blocker ticket too: {:#?}", whole.facts.reported);
    let purposes: Vec<&str> = whole.queries.iter().map(|q| q.purpose.as_str()).collect();
    assert_eq!(purposes.iter().filter(|p| **p == "incidents:support").count(), 31, "one raw query a day");
    assert_eq!(purposes.iter().filter(|p| **p == "incidents:services").count(), 31);
    // Cut inside T-1, on the sample T-2 starts with, inside T-3's closed stretch, in short raw windows.
    let mut run = Running::new(&f.rules, period.start);
    let mut cuts = vec![oct(3, 12, 0), oct(3, 12, 30), oct(4, 9, 0), oct(4, 9, 1), oct(11, 0, 0), oct(12, 11, 0)];
    cuts.extend((1..=5).map(|i| oct(12, 11, 0) + Duration::minutes(i * 20)));
    cuts.push(period.end);
    for to in cuts {
        let delta = block_on(read_window(&client, &f.rules, &run, to, &mut vec![])).unwrap();
        run.apply(delta);
        if to == oct(3, 12, 30) {
            let open: Vec<String> = run
                .facts(&f.rules, BTreeMap::new())
                .reported
                .iter()
                .filter(|r| r.open)
                .map(|r| r.key.clone())
                .collect();
            assert_eq!(open, ["T-1"], "T-1 is open at 12:30 on the 3rd");
        }
    }
    assert_eq!(run.facts(&f.rules, BTreeMap::new()).reported, whole.facts.reported);
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fleet-incentives"));
    c.env("RUST_LOG", "warn");
    c
}

fn ok(c: &mut Command) -> Vec<u8> {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?} failed: {}", c, String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn a_closed_month_of_tickets_replays_byte_for_byte() {
    let f = fixture();
    let out = f.dir.path().join("out");
    ok(bin()
        .args(["close", "--period", "2026-10", "--prometheus.url", &f.prometheus.url(), "--rules.dir"])
        .arg(f.rules_dir())
        .arg("--out")
        .arg(&out));
    let closed = out.join("2026-10");
    let statement = std::fs::read(closed.join("statement.json")).unwrap();
    let evidence = closed.join("evidence.json");
    let replayed = ok(bin().args(["replay", "--format", "json", "--evidence"]).arg(&evidence));
    assert_eq!(replayed, statement, "replay = close");
    let s: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    let incidents = s["evaluation"]["class_incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 8);
    assert_eq!(incidents[2]["key"], "Q-2");
    assert_eq!(incidents[2]["resolve_verdict"], serde_json::Value::Null, "a question has no resolve target");
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&evidence).unwrap()).unwrap();
    let raw = e["queries"].as_array().unwrap().iter().filter(|q| q["purpose"] == "incidents:support").count();
    assert_eq!(raw, 31, "the ticket samples are evidence");
    let table = String::from_utf8(ok(bin().args(["replay", "--evidence"]).arg(&evidence))).unwrap();
    assert!(table.contains("Incidents by class:"), "{table}");
    assert!(table.contains("critical-20261003T0900Z-T-1 (op-a)"), "{table}");
}

/// Rules for minutes: a class that must be acknowledged within 10 s and one within an hour.
const LIVE_RULES: &str = r#"version: 1
programme: {name: Live tickets, currency: USD, time_zone: UTC}
source: {up: 'up{job="fleet"}', step: 5s}
severities:
  - {id: P2, name: Single node, definition: a node down, when: "nodes_down >= 1", respond_within: 1h, resolve_within: 24h}
incident_sources:
  - {name: support, selector: support_ticket_open, id_label: ticket, step: 5s}
incident_classes:
  - {id: fast, name: Answer at once, respond_within: 10s}
  - {id: slow, name: Answer within the hour, respond_within: 1h, resolve_within: 1d}
  - {id: questions, name: Question, respond_within: 48h}
operators:
  - {id: op-a, name: Operator A, tier: t1, start: 2026-01-01, nodes: []}
tiers:
  - {id: t1, name: Tier 1, lines: [{id: sla, name: SLA, kind: fixed, amount: 100, when: "respond_breaches_fast + respond_breaches_slow == 0"}]}
"#;

#[test]
fn a_silence_in_a_real_alertmanager_acknowledges_a_ticket() {
    // Tickets backfilled over the last minutes: the silences Alertmanager
    // makes start now, so the data must be of now.
    let mut now = Utc::now();
    let month = Period::containing(now, chrono_tz::Tz::UTC);
    if now - month.start < Duration::minutes(6) {
        std::thread::sleep((month.start + Duration::minutes(6) - now).to_std().unwrap());
        now = Utc::now();
    }
    let end = now.duration_trunc(Duration::seconds(5)).unwrap();
    let start = end - Duration::minutes(5);
    let open = start + Duration::seconds(60);
    let t = |key: &str, class: &str, from: DateTime<Utc>, to: DateTime<Utc>| {
        let labels = [("ticket", key), ("class", class), ("operator", "op-a")];
        Series::new("support_ticket_open", &labels, move |t| (from < t && t <= to).then_some(1.0))
    };
    let series = vec![
        t("T-A", "fast", open, end),
        t("T-B", "slow", open, end),
        t("T-Q", "questions", start + Duration::seconds(30), start + Duration::seconds(90)),
    ];
    let prometheus = Prometheus::start(&series, Span { start, end, step: 5 });
    let am = Alertmanager::start("route: {receiver: r}\nreceivers: [{name: r}]\n");
    let first = open + Duration::seconds(5);
    am.silence(&[("incident", "T-A")], "on-call");
    am.silence(&[("incident", &format!("slow-{}-T-B", first.format("%Y%m%dT%H%MZ")))], "on-call");
    let dir = tempfile::Builder::new().prefix("fleet-classes-live-").tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), LIVE_RULES).unwrap();
    let at = (Utc::now() + Duration::seconds(1)).to_rfc3339();
    let json = ok(bin()
        .args(["evaluate", "--format", "json", "--prometheus.url", &prometheus.url(), "--alertmanager.url", &am.url()])
        .args(["--period", &month.label, "--at", &at, "--rules.dir"])
        .arg(dir.path()));
    let e: Evaluation = serde_json::from_slice(&json).unwrap();
    let by_key = |k: &str| e.class_incidents.iter().find(|i| i.key == k).unwrap_or_else(|| panic!("no {k}: {e:#?}"));
    let (a, b, q) = (by_key("T-A"), by_key("T-B"), by_key("T-Q"));
    assert_eq!((a.start, b.start), (first, first));
    let acked = a.acknowledged_at.expect("the silence on T-A acknowledges it");
    assert!(acked >= now - Duration::seconds(5) && acked <= Utc::now(), "acknowledged when silenced: {acked}");
    assert_eq!(a.respond_verdict, Verdict::Breached, "{} s > 10 s", a.response_seconds.unwrap());
    assert!(b.acknowledged_at.is_some(), "the silence on T-B's full id acknowledges it");
    assert_eq!(b.respond_verdict, Verdict::Met);
    assert_eq!((q.resolve_verdict, q.end.is_some()), (None, true), "a question has no resolve target");
    let op = &e.operators[0];
    assert_eq!(op.lines[0].amount, Decimal::ZERO, "the fast class breached");
}

/// The dashboards' incident-class panels answer from a Prometheus that
/// scraped `serve` on October 12, 12:00: T-3 (critical) open again, T-1,
/// T-2 and Q-2 resolved. The demo fleet has no incident source
/// (tests/it/serve.rs).
#[test]
fn the_incident_class_panels_have_data_from_a_prometheus_that_scraped_serve() {
    let f = fixture();
    let port = common::free_port();
    let scrape = format!("[{{job_name: fleet-incentives, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]");
    let prom = Prometheus::start_scraping(&series(), Span { start: oct(1, 0, 0), end: month_end(), step: 60 }, &scrape);
    let mut serve =
        common::serve::Serve::start(port, &prom.url(), &f.rules_dir(), &["--clock.start=2026-10-12T12:00:00Z"]);
    serve.wait_ready();
    common::dashboards::wait_for_scrapes(prom.port, "fleet_incentives_class_incidents", 3.0);
    let failures = common::dashboards::check_panels_against(&prom.url());
    let ours: Vec<&common::dashboards::PanelFailure> =
        failures.iter().filter(|f| f.panel.starts_with("Incident classes")).collect();
    // Acknowledgements come from silences, made at the wall clock: October
    // replayed has none (the last test of this file acknowledges live).
    let unexpected: Vec<String> = ours
        .iter()
        .filter(|f| {
            !(f.problem == common::dashboards::Problem::NoData
                && (f.query.contains("mean_response") || f.query.contains("acknowledged")))
        })
        .map(|f| f.to_string())
        .collect();
    assert!(unexpected.is_empty(), "class panels without data:\n{}", unexpected.join("\n"));
    assert_eq!(ours.len(), 2, "only the two acknowledgement queries are empty: {ours:#?}");
}
