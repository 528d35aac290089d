//! `serve`'s input refresh against a REAL Prometheus: an additive input
//! (`sum_over_time`/`count_over_time` of a per-minute series) read window by
//! window equals the full read at every refresh, and after the first refresh
//! each loads only the new window's samples.

use crate::common;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use common::{Prometheus, Series, Span, block_on, rules_from_yaml};
use fleet_incentives::facts::InputFacts;
use fleet_incentives::rules::Rules;
use fleet_incentives::serve::cycle::Evaluator;
use fleet_incentives::serve::inputs::LiveInputs;
use fleet_incentives::source::{Client, ClientConfig, QueryRecord, read_inputs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, day, h, m, 0).unwrap()
}

const INPUTS: &str = r#"
inputs:
  - {name: sales, query: 'sum by (operator) (sum_over_time(revenue_minute[$__range]))', by: operator, unit: money}
  - {name: minutes, query: 'sum by (operator) (count_over_time(revenue_minute[$__range]))', by: operator}
  - {name: total, query: 'sum(sum_over_time(revenue_minute{operator="op-a"}[$__range]))', by: scalar}
  - {name: grown, query: 'sum by (operator) (increase(revenue_total[$__range]))', by: operator}
"#;

fn rules() -> Rules {
    rules_from_yaml(&[common::fleet::RULES, INPUTS].concat())
}

/// Two nodes up all October; revenue earned each minute per operator
/// (op-a whole, op-b in quarters and silent for 6 hours on day 5) and a
/// counter of it.
fn prometheus() -> &'static Prometheus {
    static P: OnceLock<Prometheus> = OnceLock::new();
    P.get_or_init(|| {
        let span = Span { start: at(1, 0, 0), end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), step: 60 };
        let up = |n: &str, op: &str| {
            Series::new("up", &[("job", "fleet"), ("instance", n), ("operator", op)], |_| Some(1.0))
        };
        let a = |t: DateTime<Utc>| ((t.minute() * 7 + t.hour()) % 13) as f64;
        let b = move |t: DateTime<Utc>| {
            let gap = t >= at(5, 6, 0) && t < at(5, 12, 0);
            (!gap).then(|| ((t.minute() + t.day()) % 9) as f64 * 0.25)
        };
        let series = vec![
            up("n1", "op-a"),
            up("n2", "op-b"),
            Series::new("revenue_minute", &[("operator", "op-a")], move |t| Some(a(t))),
            Series::new("revenue_minute", &[("operator", "op-b")], b),
            Series::new("revenue_total", &[("operator", "op-a")], move |t| Some((t - span.start).num_minutes() as f64)),
        ];
        Prometheus::start(&series, span)
    })
}

fn full(client: &Client, rules: &Rules, end: DateTime<Utc>) -> BTreeMap<String, InputFacts> {
    block_on(read_inputs(client, &rules.inputs, at(1, 0, 0), end, &mut vec![]))
}

/// The query of `input` in `log`, and the samples it loaded.
fn sent<'a>(log: &'a [QueryRecord], input: &str) -> (&'a str, u64) {
    let q = log.iter().find(|q| q.purpose == format!("input:{input}")).unwrap_or_else(|| panic!("{log:#?}"));
    (&q.query, q.total_queryable_samples.expect("stats"))
}

#[test]
fn additive_inputs_read_window_by_window_equal_a_full_read() {
    let (p, rules) = (prometheus(), rules());
    let client = p.client();
    let mut live = LiveInputs::default();
    let start = at(1, 0, 0);
    // A full read, three 15-minute windows, a window across midnight
    // (with op-b's gap inside), and a window of nothing new.
    let ends = [at(4, 12, 0), at(4, 12, 15), at(4, 12, 30), at(4, 12, 45), at(5, 13, 0), at(5, 13, 0)];
    let mut previous: Option<DateTime<Utc>> = None;
    for end in ends {
        let mut log = vec![];
        let got = block_on(live.refresh(&client, &rules.inputs, start, end, &mut log));
        assert_eq!(got, full(&client, &rules, end), "at {end}");
        let InputFacts::Values(sales) = &got["sales"] else { panic!("{got:?}") };
        assert_eq!(sales.len(), 2, "{sales:?}");
        let (query, samples) = sent(&log, "grown");
        assert!(query.contains(&format!("[{}s]", (end - start).num_seconds())), "re-read whole: {query}");
        assert!(samples > 3 * 1440, "{samples}");
        match previous {
            None => assert!(sent(&log, "sales").1 > 2 * 3 * 1440, "{log:#?}"),
            Some(p) if p == end => assert!(log.iter().all(|q| q.purpose == "input:grown"), "{log:#?}"),
            Some(p) => {
                let minutes = (end - p).num_minutes() as u64;
                let (query, samples) = sent(&log, "sales");
                assert!(query.contains(&format!("[{}ms]", (end - p).num_milliseconds() - 1)), "{query}");
                let gap = if p < at(5, 6, 0) && end > at(5, 12, 0) { 360 } else { 0 };
                assert_eq!(samples, 2 * minutes - gap, "only the window: {query}");
                assert_eq!(sent(&log, "total").1, minutes);
            }
        }
        previous = Some(end);
    }
    // A new month starts again from a full read.
    let november = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let mut log = vec![];
    block_on(live.refresh(&client, &rules.inputs, november, november + Duration::minutes(10), &mut log));
    assert!(sent(&log, "sales").0.contains("[600s]"), "{log:#?}");
}

#[test]
fn a_failed_window_leaves_the_totals_and_the_next_refresh_reads_from_the_same_point() {
    let (p, rules) = (prometheus(), rules());
    let client = p.client();
    let down = Client::new(ClientConfig {
        max_attempts: 1,
        ..ClientConfig::new(format!("http://127.0.0.1:{}", common::free_port()))
    })
    .unwrap();
    let mut live = LiveInputs::default();
    let start = at(1, 0, 0);
    let first = block_on(live.refresh(&client, &rules.inputs, start, at(8, 9, 0), &mut vec![]));
    let failed = block_on(live.refresh(&down, &rules.inputs, start, at(8, 9, 15), &mut vec![]));
    assert!(failed.values().all(|f| matches!(f, InputFacts::Failed(_))), "{failed:?}");
    let mut log = vec![];
    let again = block_on(live.refresh(&client, &rules.inputs, start, at(8, 9, 30), &mut log));
    assert_ne!(again["sales"], first["sales"]);
    assert_eq!(again, full(&client, &rules, at(8, 9, 30)));
    assert!(sent(&log, "sales").0.contains("[1799999ms]"), "from the last good end: {log:#?}");
    // A changed query starts again from a full read; the others go on.
    let mut changed = rules.clone();
    changed.inputs[0].query.value = changed.inputs[0].query.value.replace("(operator)", "(operator, job)");
    let mut log = vec![];
    block_on(live.refresh(&client, &changed.inputs, start, at(8, 9, 45), &mut log));
    assert!(sent(&log, "sales").0.ends_with(&format!("[{}s]))", (at(8, 9, 45) - start).num_seconds())));
    assert!(sent(&log, "minutes").0.contains("[899999ms]"), "{log:#?}");
}

#[test]
fn serve_refreshes_an_additive_input_with_the_new_window_only() {
    let (p, rules) = (prometheus(), rules());
    let mut ev = Evaluator::new(p.client(), PathBuf::from("unused"), rules, Duration::zero(), Duration::minutes(15));
    let mut refreshes = vec![];
    for k in 0..=31 {
        let out = block_on(ev.cycle(at(20, 12, 0) + Duration::minutes(k))).unwrap().expect("an evaluation");
        if out.queries.iter().any(|q| q.purpose == "input:sales") {
            assert!(out.inputs.iter().all(|(_, ok)| *ok), "{:?}", out.inputs);
            refreshes.push((k, sent(&out.queries, "sales").1));
        }
    }
    assert_eq!(refreshes.len(), 3, "{refreshes:?}");
    assert!(refreshes[0].1 > 2 * 19 * 1440, "the first refresh reads the month so far: {refreshes:?}");
    assert_eq!(&refreshes[1..], &[(15, 30), (30, 30)], "then 15 minutes of two series");
}
