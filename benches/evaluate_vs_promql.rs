//! How much does `read_facts` cost over the PromQL it sends?
//!
//! Backfills a fleet (default 500 nodes, `FLEET_BENCH_NODES` to change) over
//! October 2026 at 60 s into a real Prometheus, then times:
//!
//! 1. `read_facts` for the month (the plan, the client, the fact building);
//! 2. the same queries it issued replayed through a bare reqwest loop with
//!    the same concurrency (the floor: Prometheus' own work plus HTTP);
//! 3. for scale, the naive one-query month `count_over_time(up[31d])`.
//!
//! Prints the wall times, the ratio 1 / 2, and `totalQueryableSamples`
//! totals (the load on Prometheus, free of timing noise).
//!
//! Run: `cargo bench --bench evaluate_vs_promql` (kept out of `cargo test`).
//!
//! `scripts/perf-record.sh` runs it at 500 and 10,000 nodes and puts the
//! figures in README's performance table. Note: the one-query month is not
//! refused even at 10,000 nodes (445 M samples loaded): `--query.max-samples`
//! bounds the samples held at once (`peakSamples`), not those read.

// The benchmarks use a part of the integration tests' harness.
#[allow(dead_code)]
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/record.rs"]
mod record;
#[path = "support/synthetic.rs"]
mod synthetic;

use chrono::{TimeZone, Utc};
use common::fleet::Plan;
use common::{Prometheus, block_on, rules_from_yaml};
use fleet_incentives::source::{QueryRecord, read_facts};
use std::sync::Arc;
use std::time::Instant;

const RUNS: usize = 3;

/// The benchmark fleet over the whole month (see `synthetic::fleet`).
fn plan(nodes: usize) -> Plan {
    synthetic::fleet(nodes, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
}

/// The queries replayed with a bare HTTP loop, `concurrency` at a time;
/// returns the summed `totalQueryableSamples`.
async fn replay(url: &str, queries: &[QueryRecord], concurrency: usize) -> u64 {
    let http = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = tokio::task::JoinSet::new();
    for q in queries {
        let (http, gate, url) = (http.clone(), gate.clone(), format!("{url}/api/v1/query"));
        let form = vec![
            ("query", q.query.clone()),
            ("time", q.time.expect("instant query").timestamp().to_string()),
            ("stats", "all".to_string()),
        ];
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let body: serde_json::Value = http.post(url).form(&form).send().await.unwrap().json().await.unwrap();
            assert_eq!(body["status"], "success", "{body}");
            body["data"]["stats"]["samples"]["totalQueryableSamples"].as_u64().unwrap_or(0)
        });
    }
    let mut total = 0;
    while let Some(n) = set.join_next().await {
        total += n.unwrap();
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let nodes: usize = std::env::var("FLEET_BENCH_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let plan = plan(nodes);
    let samples = nodes as i64 * (plan.span.end - plan.span.start).num_seconds() / plan.span.step;
    println!("fleet: {nodes} nodes, 2026-10 at 60 s ({samples} samples)");
    let prometheus = Prometheus::start(&plan.series("fleet"), plan.span);
    println!(
        "data: {:.1} s ({})",
        prometheus.backfill_seconds,
        if prometheus.cached { "copied from the backfill cache" } else { "backfill: one file per 2 h block, promtool" }
    );
    let rules = rules_from_yaml(common::fleet::RULES);
    let client = prometheus.client();
    let (start, end) = (plan.span.start, plan.span.end);

    let mut record = record::Record::new("evaluate_vs_promql");
    record.set("nodes", nodes);
    record.set("backfilled_samples", samples);
    let reading = block_on(read_facts(&client, &rules, start, end)).expect("warm-up reading: no query refused");
    let mut ours = vec![];
    let mut theirs = vec![];
    for _ in 0..RUNS {
        let t = Instant::now();
        block_on(read_facts(&client, &rules, start, end)).unwrap();
        ours.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        block_on(replay(&prometheus.url(), &reading.queries, fleet_incentives::source::plan::CONCURRENCY));
        theirs.push(t.elapsed().as_secs_f64());
    }
    let loaded: u64 = reading.queries.iter().filter_map(|q| q.total_queryable_samples).sum();
    let replayed = block_on(replay(&prometheus.url(), &reading.queries, 4));
    let returned: usize = reading.queries.iter().map(|q| q.samples).sum();
    let (ours, theirs) = (median(ours), median(theirs));
    println!("queries issued: {} ({} points returned)", reading.queries.len(), returned);
    println!("read_facts, median of {RUNS}:           {ours:.3} s");
    println!("same PromQL replayed, median of {RUNS}: {theirs:.3} s");
    println!("ratio read_facts / replay:          {:.2}", ours / theirs);
    println!("totalQueryableSamples: read_facts {loaded}, replay {replayed}");
    let largest = reading.queries.iter().filter_map(|q| q.total_queryable_samples).max().unwrap_or(0);
    println!("largest request: {largest} samples (default --query.max-samples: 50,000,000)");
    record.set("queries", reading.queries.len());
    record.set("read_facts_seconds", ours);
    record.set("replay_seconds", theirs);
    record.set("ratio", ours / theirs);
    record.set("loaded_samples", loaded);
    record.set("replayed_samples", replayed);
    record.set("largest_request_samples", largest);

    let naive = "count_over_time(up{job=\"fleet\"}[31d])";
    let t = Instant::now();
    let answer = block_on(client.instant(naive, end));
    let naive_time = t.elapsed().as_secs_f64();
    record.set("naive_query", naive);
    record.set("naive_seconds", naive_time);
    match answer {
        Ok(a) => {
            let n = a.total_queryable_samples.unwrap_or(0);
            println!("for scale, one query `{naive}`: {naive_time:.3} s, totalQueryableSamples {n}");
            record.set("naive_samples", n);
        }
        Err(e) => {
            println!("for scale, one query `{naive}` failed after {naive_time:.3} s: {e}");
            record.set("naive_error", e.to_string());
        }
    }
    record.save();
}
