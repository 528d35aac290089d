//! How much does reading a month cost, against the floor of one query that
//! loads every sample of the month once?
//!
//! Backfills a fleet (default 500 nodes, `FLEET_BENCH_NODES` to change) over
//! October 2026 at 60 s into a real Prometheus, then times, alternately:
//!
//! 1. `read_facts` for the month with remote read (`--source.protocol=
//!    remote-read`, what `close` does by default): wall time, and the samples
//!    it decoded (counted here: Prometheus' query log does not see remote
//!    read) against the samples in the month;
//! 2. the naive one-query month `avg_over_time(up[31d])` on the same
//!    Prometheus (its `totalQueryableSamples` is the samples in the month);
//! 3. for comparison, `read_facts` with the PromQL plan, and the same
//!    queries replayed through a bare reqwest loop with the same concurrency.
//!
//! Prints the wall times, the ratios, and the samples loaded.
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
use fleet_incentives::source::{Client, ClientConfig, Protocol, QueryKind, QueryRecord, read_facts};
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

/// A client of `prometheus` reading long windows with `protocol`.
fn client(prometheus: &Prometheus, protocol: Protocol) -> Client {
    let config = ClientConfig { protocol, stats: true, ..ClientConfig::new(prometheus.url()) };
    Client::new(config).unwrap()
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
    let (promql, remote) = (client(&prometheus, Protocol::Promql), client(&prometheus, Protocol::RemoteRead));
    let (start, end) = (plan.span.start, plan.span.end);
    let naive = "avg_over_time(up{job=\"fleet\"}[31d])";

    let mut record = record::Record::new("evaluate_vs_promql");
    record.set("nodes", nodes);
    record.set("backfilled_samples", samples);
    let reading = block_on(read_facts(&promql, &rules, start, end)).expect("warm-up reading: no query refused");
    let remote_reading = block_on(read_facts(&remote, &rules, start, end)).expect("warm-up remote read");
    assert_eq!(reading.facts, remote_reading.facts, "remote read and PromQL give the same facts");
    let (mut ours, mut theirs, mut remote_times, mut naive_times) = (vec![], vec![], vec![], vec![]);
    let mut naive_answer = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        block_on(read_facts(&remote, &rules, start, end)).unwrap();
        remote_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        naive_answer = Some(block_on(promql.instant(naive, end)));
        naive_times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        block_on(read_facts(&promql, &rules, start, end)).unwrap();
        ours.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        block_on(replay(&prometheus.url(), &reading.queries, fleet_incentives::source::plan::CONCURRENCY));
        theirs.push(t.elapsed().as_secs_f64());
    }
    let loaded: u64 = reading.queries.iter().filter_map(|q| q.total_queryable_samples).sum();
    let replayed = block_on(replay(&prometheus.url(), &reading.queries, 4));
    let returned: usize = reading.queries.iter().map(|q| q.samples).sum();
    let (ours, theirs) = (median(ours), median(theirs));
    println!("PromQL plan: queries issued: {} ({} points returned)", reading.queries.len(), returned);
    println!("read_facts (PromQL), median of {RUNS}:  {ours:.3} s");
    println!("same PromQL replayed, median of {RUNS}: {theirs:.3} s");
    println!("ratio read_facts / replay:           {:.2}", ours / theirs);
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

    let naive_time = median(naive_times);
    record.set("naive_query", naive);
    record.set("naive_seconds", naive_time);
    let month_samples = match naive_answer.expect("ran") {
        Ok(a) => {
            let n = a.total_queryable_samples.unwrap_or(0);
            println!("naive one query `{naive}`, median of {RUNS}: {naive_time:.3} s, totalQueryableSamples {n}");
            record.set("naive_samples", n);
            n
        }
        Err(e) => {
            println!("naive one query `{naive}` failed after {naive_time:.3} s: {e}");
            record.set("naive_error", e.to_string());
            samples as u64
        }
    };
    let reads: Vec<&QueryRecord> = remote_reading.queries.iter().filter(|q| q.kind == QueryKind::RemoteRead).collect();
    let decoded: u64 = reads.iter().map(|q| q.samples as u64).sum();
    let remote_time = median(remote_times);
    let computed = remote_reading.queries.iter().filter(|q| q.kind != QueryKind::RemoteRead).count();
    println!(
        "remote read: {} requests, {decoded} samples decoded = {:.3} × the month's {month_samples}",
        reads.len(),
        decoded as f64 / month_samples as f64
    );
    println!(
        "read_facts (remote read), median of {RUNS}: {remote_time:.3} s = {:.2} × the naive query",
        remote_time / naive_time
    );
    record.set("month_samples", month_samples);
    record.set("remote_read_requests", reads.len());
    record.set("remote_read_computed_queries", computed);
    record.set("remote_read_seconds", remote_time);
    record.set("remote_read_decoded_samples", decoded);
    record.set("remote_read_load_ratio", decoded as f64 / month_samples as f64);
    record.set("remote_read_wall_ratio", remote_time / naive_time);
    record.save();
}
