//! What does `serve` cost Prometheus and its scrapers?
//!
//! Part 1 — load per cycle (default 500 nodes, `FLEET_BENCH_NODES`):
//! a month of `up` for the fleet plus one revenue counter per operator is
//! backfilled into a real Prometheus with its query log on. For days 1, 8,
//! 15, 22, 29 and 31 an evaluator starts at noon (the coarse catch-up), then
//! runs steady-state cycles one minute apart. Per cycle, the samples
//! Prometheus loaded (`totalQueryableSamples`, summed from its query log)
//! are compared with the samples it ingested in that minute
//! (`count_over_time` over every series). Input refreshes are reported
//! apart, at the cycle 15 minutes after noon (`--inputs.refresh-interval`):
//! the shipped `increase(revenue[$__range])` inputs are read over the month
//! so far (their cost grows with the month); an additive input,
//! `sum by (operator) (sum_over_time(revenue_minute[$__range]))` over a
//! per-minute revenue series, reads only the 15 new minutes. The live cost,
//! inputs included, is availability + the additive refresh amortized over
//! the refresh interval, per minute, against what was ingested.
//!
//! Part 2 — 10,000 nodes (`FLEET_BENCH_BIG_NODES`), one day backfilled:
//! the `serve` binary with a 10,000-node roster; a Prometheus scrapes it.
//! Times `GET /metrics` against Prometheus' `GET /federate` of the same
//! series (medians, interleaved, ratio in one run), and reads serve's peak
//! RSS from /proc. Twice: with the per-node series, then without
//! (`--metrics.per-node=false`, keys `*_aggregate`; `FLEET_BENCH_SKIP_PER_NODE`
//! / `FLEET_BENCH_SKIP_AGGREGATE` skip one).
//!
//! Run: `cargo bench --bench serve_cycle` (kept out of `cargo test`).

// The benchmarks use a part of the integration tests' harness.
#[allow(dead_code)]
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/record.rs"]
mod record;
#[path = "support/synthetic.rs"]
mod synthetic;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::fleet::Plan;
use common::{Prometheus, Series, block_on};
use fleet_incentives::rules::{self, Rules};
use fleet_incentives::serve::cycle::Evaluator;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, day, h, m, 0).unwrap()
}

const STEADY_CYCLES: i64 = 5;

/// The benchmark fleet up to `end` (see `synthetic::fleet`).
fn plan(nodes: usize, end: DateTime<Utc>) -> Plan {
    synthetic::fleet(nodes, end)
}

/// One revenue counter per operator.
fn revenue(plan: &Plan) -> Vec<Series> {
    let mut ops: Vec<String> = plan.nodes.iter().map(|n| n.operator.clone()).collect();
    ops.dedup();
    let start = plan.span.start;
    ops.into_iter()
        .map(|op| {
            Series::new("fleet_operator_revenue_usd_total", &[("operator", &op)], move |t| {
                Some((t - start).num_seconds() as f64 * 0.1)
            })
        })
        .collect()
}

/// Revenue earned each minute, per operator: what a user records (a
/// recording rule over the counter, say) to have it read incrementally.
/// (`per` keeps its labels apart from the counter's once the name is dropped.)
fn revenue_minute(plan: &Plan) -> Vec<Series> {
    let mut ops: Vec<String> = plan.nodes.iter().map(|n| n.operator.clone()).collect();
    ops.dedup();
    ops.into_iter()
        .map(|op| {
            Series::new("fleet_operator_revenue_usd_minute", &[("operator", &op), ("per", "minute")], |_| Some(6.0))
        })
        .collect()
}

/// The additive input of the benchmark (read window by window by `serve`).
const ADDITIVE_INPUT: &str = "operator_revenue_minutes";

/// The shipped rules with a roster of every operator of `plan` (tier 1,
/// all month) instead of the demo roster.
fn rules_for(plan: &Plan, dir: &Path) -> Rules {
    fleet_incentives::local_prometheus::copy_dir(Path::new("rules"), dir).unwrap();
    let _ = std::fs::remove_dir_all(dir.join("tests"));
    let _ = std::fs::remove_dir_all(dir.join("examples"));
    let mut roster = String::from("version: 1\noperators:\n");
    let mut current = String::new();
    for n in &plan.nodes {
        if n.operator != current {
            current = n.operator.clone();
            roster.push_str(&format!(
                "  - {{id: {current}, name: {current}, tier: tier1, start: 2026-01-01, nodes: []}}\n"
            ));
        }
        // Append the node to the last operator's flow list.
        let end = roster.len() - "]}\n".len();
        let sep = if roster[..end].ends_with('[') { "" } else { ", " };
        roster.insert_str(end, &format!("{sep}{}", n.name));
    }
    roster.push_str("partners: []\n");
    // A rule file is at most 1 MiB: a roster naming 100,000 nodes is larger,
    // so there every operator's nodes are those of its `operator` label
    // (an operator with neither nodes nor a region on the roster).
    if roster.len() > 1 << 20 {
        roster = roster
            .lines()
            .map(|l| match l.split_once(", nodes: [") {
                Some((operator, _)) => format!("{operator}, nodes: []}}\n"),
                None => format!("{l}\n"),
            })
            .collect();
    }
    std::fs::write(dir.join("roster.yaml"), roster).unwrap();
    let additive = format!(
        "version: 1\ninputs:\n  - {{name: {ADDITIVE_INPUT}, query: 'sum by (operator) \
         (sum_over_time(fleet_operator_revenue_usd_minute[$__range]))', by: operator, unit: money}}\n"
    );
    std::fs::write(dir.join("bench-inputs.yaml"), additive).unwrap();
    rules::load_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

/// `totalQueryableSamples` of the query-log lines after `offset`: their
/// sum, the largest, and the new offset.
fn logged_samples(log: &Path, offset: u64) -> (u64, u64, u64) {
    let mut f = std::fs::File::open(log).unwrap();
    let len = f.metadata().unwrap().len();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset)).unwrap();
    let (mut total, mut largest) = (0, 0);
    for line in std::io::BufReader::new(f).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let n = v["stats"]["samples"]["totalQueryableSamples"].as_u64().unwrap_or(0);
        total += n;
        largest = largest.max(n);
    }
    (total, largest, len)
}

fn part1(nodes: usize, record: &mut record::Record) {
    let plan = plan(nodes, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let mut series = plan.series("fleet-node");
    series.extend(revenue(&plan));
    series.extend(revenue_minute(&plan));
    println!("part 1: {nodes} nodes + {} revenue series, 2026-10 at 60 s", series.len() - nodes);
    let prometheus = Prometheus::start(&series, plan.span);
    println!("  data ready in {:.1} s (cached: {})", prometheus.backfill_seconds, prometheus.cached);
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_for(&plan, dir.path());
    let client = prometheus.client();
    let log = prometheus.query_log();
    let ingested = |t: DateTime<Utc>| -> u64 {
        let a = block_on(client.instant("sum(count_over_time({__name__=~\".+\"}[59999ms]))", t)).unwrap();
        match a.data {
            fleet_incentives::source::QueryData::Vector(v) => v.first().map(|s| s.value as u64).unwrap_or(0),
            _ => 0,
        }
    };
    println!("  day | catch-up samples | steady cycle: loaded / ingested (ratio) | input refresh: loaded");
    record.set("cycle_nodes", nodes);
    record.set("cycle_series", series.len());
    record.set("revenue_series", (series.len() - nodes) / 2);
    let mut live = vec![];
    let (mut days, mut largest) = (vec![], 0);
    for day in [1, 8, 15, 22, 29, 31] {
        let mut ev = Evaluator::new(
            client.clone(),
            dir.path().to_path_buf(),
            rules.clone(),
            Duration::zero(),
            Duration::minutes(15),
        );
        let noon = at(day, 12, 0);
        let (_, _, mut offset) = logged_samples(&log, 0);
        let t = Instant::now();
        let first = block_on(ev.cycle(noon)).unwrap().unwrap();
        let catch_up = t.elapsed().as_secs_f64();
        let (catch_up_samples, big, o) = logged_samples(&log, offset);
        largest = largest.max(big);
        offset = o;
        let inputs = input_samples(&first.queries, false);
        let (mut loaded, mut fresh) = (0, 0);
        for k in 1..=STEADY_CYCLES {
            let t = noon + Duration::minutes(k);
            let out = block_on(ev.cycle(t)).unwrap().unwrap();
            assert!(out.queries.iter().all(|q| !q.purpose.starts_with("input:")), "no input refresh");
            let (n, big, o) = logged_samples(&log, offset);
            largest = largest.max(big);
            offset = o;
            loaded += n;
            fresh += ingested(t);
            let (_, _, o) = logged_samples(&log, offset);
            offset = o;
        }
        println!(
            "  {day:>3} | {catch_up_samples:>16} ({catch_up:.2} s) | {:>8} / {:>8} ({:.3}) | {inputs}",
            loaded / STEADY_CYCLES as u64,
            fresh / STEADY_CYCLES as u64,
            loaded as f64 / fresh as f64
        );
        let refresh = block_on(ev.cycle(noon + REFRESH)).unwrap().unwrap();
        live.push(live_cost(day, &first.queries, &refresh.queries, loaded, fresh));
        days.push(serde_json::json!({
            "day": day,
            "catch_up_samples": catch_up_samples,
            "catch_up_seconds": catch_up,
            "steady_loaded": loaded / STEADY_CYCLES as u64,
            "steady_ingested": fresh / STEADY_CYCLES as u64,
            "ratio": loaded as f64 / fresh as f64,
            "input_refresh_samples": inputs,
        }));
    }
    println!("  largest request: {largest} samples (default --query.max-samples: 50,000,000)");
    record.set("days", days);
    record_live_cost(live, record);
    record.set("cycle_largest_request_samples", largest);
}

/// `--inputs.refresh-interval` of the benchmark.
const REFRESH: Duration = Duration::minutes(15);

/// Samples loaded by the input queries in `queries`: the additive input's
/// or (`additive` false) the others'.
fn input_samples(queries: &[fleet_incentives::source::QueryRecord], additive: bool) -> u64 {
    let purpose = format!("input:{ADDITIVE_INPUT}");
    queries
        .iter()
        .filter(|q| q.purpose.starts_with("input:") && (q.purpose == purpose) == additive)
        .filter_map(|q| q.total_queryable_samples)
        .sum()
}

/// The live cost of one day, inputs included, per minute: the steady
/// cycles' availability reads (`loaded` over [`STEADY_CYCLES`], against
/// `ingested`) plus the input refresh 15 minutes after noon, amortized.
fn live_cost(
    day: u32,
    first: &[fleet_incentives::source::QueryRecord],
    refresh: &[fleet_incentives::source::QueryRecord],
    loaded: u64,
    ingested: u64,
) -> serde_json::Value {
    let minutes = REFRESH.num_minutes() as f64;
    let per_cycle = |n: u64| n as f64 / STEADY_CYCLES as f64;
    let (availability, ingested) = (per_cycle(loaded), per_cycle(ingested));
    let additive = input_samples(refresh, true) as f64 / minutes;
    let whole = input_samples(refresh, false) as f64 / minutes;
    let daily_full = input_samples(first, true) as f64 / 1440.0;
    let ratio = (availability + additive) / ingested;
    println!(
        "  {day:>3} | live, inputs included: ({availability:.0} + {additive:.0}) / {ingested:.0} = {ratio:.3} \
         | re-read inputs {whole:.0}/min ({:.1}×) | daily full re-read of the additive input {daily_full:.0}/min",
        whole / ingested
    );
    serde_json::json!({
        "day": day,
        "availability_per_minute": availability,
        "additive_inputs_per_minute": additive,
        "ingested_per_minute": ingested,
        "ratio": ratio,
        "whole_inputs_per_minute": whole,
        "whole_inputs_ratio": whole / ingested,
        "daily_full_read_per_minute": daily_full,
    })
}

/// The live cost figures in the record (`live_cost`), day by day.
fn record_live_cost(days: Vec<serde_json::Value>, record: &mut record::Record) {
    record.set("live_refresh_minutes", REFRESH.num_minutes());
    record.set("live_days", days);
}

fn series_lines(body: &str) -> usize {
    body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count()
}

fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What one `serve` run of part 2 measured.
struct ServeRun {
    ready_seconds: f64,
    series: usize,
    bytes: usize,
    federate_series: usize,
    federate_bytes: usize,
    metrics_seconds: f64,
    federate_seconds: f64,
    rss_peak_mb: f64,
    rss_steady_mb: f64,
    /// Of the steady figure, the pages of files (the binary's).
    rss_file_mb: f64,
}

impl ServeRun {
    /// Into `record`, each key with `suffix` (`""` for the default run).
    fn record(&self, record: &mut record::Record, suffix: &str) {
        let mut set = |k: &str, v: serde_json::Value| record.set(&format!("{k}{suffix}"), v);
        set("serve_ready_seconds", self.ready_seconds.into());
        set("metrics_series", self.series.into());
        set("metrics_bytes", self.bytes.into());
        set("federate_series", self.federate_series.into());
        set("federate_bytes", self.federate_bytes.into());
        set("metrics_seconds", self.metrics_seconds.into());
        set("federate_seconds", self.federate_seconds.into());
        set("scrape_ratio", (self.metrics_seconds / self.federate_seconds).into());
        set("rss_peak_mb", self.rss_peak_mb.into());
        set("rss_steady_mb", self.rss_steady_mb.into());
        set("rss_file_mb", self.rss_file_mb.into());
    }
}

/// Start `serve` on `port` (job `job` of the scraping Prometheus) with
/// `extra` flags; time its scrape against `/federate` of the same series and
/// read its resident set. `FLEET_BENCH_SERVE_WRAPPER` (e.g. `valgrind
/// --tool=massif --massif-out-file=/tmp/massif.out`) runs it under a tool;
/// the RSS figures are then the tool's.
fn serve_run(prometheus: &Prometheus, rules: &Path, port: u16, job: &str, extra: &[&str]) -> ServeRun {
    let wrapper: Vec<String> = std::env::var("FLEET_BENCH_SERVE_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let bin = env!("CARGO_BIN_EXE_fleet-incentives");
    let mut cmd = match wrapper.split_first() {
        Some((tool, args)) => {
            let mut c = std::process::Command::new(tool);
            c.args(args).arg(bin);
            c
        }
        None => std::process::Command::new(bin),
    };
    let started = Instant::now();
    let mut serve = cmd
        .arg("serve")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--prometheus.url={}", prometheus.url()))
        .arg(format!("--rules.dir={}", rules.display()))
        .args(["--evaluation-interval=5s", "--evaluation.delay=0s", "--clock.start=2026-10-01T23:00:00Z"])
        .args(extra)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_ready("serve", port, 1800, &mut serve, String::new);
    let ready_seconds = started.elapsed().as_secs_f64();
    println!("  serve {extra:?} ready (catch-up of 23 h) in {ready_seconds:.1} s");
    let (_, ours) = common::http(port, "GET", "/metrics");
    let want = series_lines(&ours);
    let federate = format!("/federate?match[]=%7Bjob%3D%22{job}%22%7D");
    let deadline = Instant::now() + StdDuration::from_secs(300);
    let theirs = loop {
        let (_, b) = common::http(prometheus.port, "GET", &federate);
        if series_lines(&b) >= want || Instant::now() > deadline {
            break b;
        }
        std::thread::sleep(StdDuration::from_millis(500));
    };
    println!(
        "  series: /metrics {want} ({} bytes), /federate {} ({} bytes)",
        ours.len(),
        series_lines(&theirs),
        theirs.len()
    );
    let (mut a, mut b) = (vec![], vec![]);
    for _ in 0..15 {
        let t = Instant::now();
        common::http(port, "GET", "/metrics");
        a.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        common::http(prometheus.port, "GET", &federate);
        b.push(t.elapsed().as_secs_f64());
    }
    let (a, b) = (median(a), median(b));
    println!("  GET /metrics median {:.1} ms, GET /federate median {:.1} ms: ratio {:.3}", a * 1e3, b * 1e3, a / b);
    // A few more cycles, then the peak resident set.
    std::thread::sleep(StdDuration::from_secs(12));
    let pid = serve.id();
    let (peak, now) = (proc_kib(pid, "VmHWM:") as f64 / 1024.0, proc_kib(pid, "VmRSS:") as f64 / 1024.0);
    let (anon, file) = (proc_kib(pid, "RssAnon:") as f64 / 1024.0, proc_kib(pid, "RssFile:") as f64 / 1024.0);
    println!(
        "  serve RSS: peak {peak:.1} MB, now {now:.1} MB ({anon:.1} MB anonymous, {file:.1} MB of files: the binary's pages)"
    );
    // SIGTERM, so that a wrapping tool writes its output.
    let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    let _ = serve.wait();
    ServeRun {
        ready_seconds,
        series: want,
        bytes: ours.len(),
        federate_series: series_lines(&theirs),
        federate_bytes: theirs.len(),
        metrics_seconds: a,
        federate_seconds: b,
        rss_peak_mb: peak,
        rss_steady_mb: now,
        rss_file_mb: file,
    }
}

/// Prometheus' defaults: `--query.max-samples` and `--query.timeout`.
const MAX_SAMPLES: u64 = 50_000_000;
const QUERY_TIMEOUT_SECONDS: f64 = 120.0;

/// The requests of a month close's reading of one day with the PromQL plan
/// (`read_facts --source.protocol=promql`, the reading of `evaluate` and
/// `close` on a server without remote read) and what each cost Prometheus, from its
/// query log: samples loaded, samples held at once (`peakSamples`, which
/// `--query.max-samples` bounds) and seconds. Every request of a month is
/// one of these: the plan reads a month day by day (one
/// `count_over_time`/`sum_over_time` pair per day and per maintenance
/// window, raw batches of at most 100,000 samples), so a month only
/// multiplies the requests, none is larger.
fn close_requests(prometheus: &Prometheus, rules: &Rules, record: &mut record::Record) {
    let log = prometheus.query_log();
    let (_, _, offset) = logged_samples(&log, 0);
    let t = Instant::now();
    // The PromQL plan: these limits are PromQL's; remote read (the default
    // where the server has it) streams chunks, with no sample limit.
    let mut config = fleet_incentives::source::ClientConfig::new(prometheus.url());
    config.stats = true;
    config.protocol = fleet_incentives::source::Protocol::Promql;
    let client = fleet_incentives::source::Client::new(config).unwrap();
    let reading = block_on(fleet_incentives::source::read_facts(&client, rules, at(1, 0, 0), at(2, 0, 0)));
    let seconds = t.elapsed().as_secs_f64();
    let sent = reading.map(|r| r.queries.len().to_string()).unwrap_or_else(|e| format!("failed: {e}"));
    let f = std::fs::read_to_string(&log).unwrap();
    let (mut loaded, mut peak, mut slowest) = (0u64, 0u64, 0f64);
    let mut requests = 0;
    for line in f[offset as usize..].lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let samples = &v["stats"]["samples"];
        loaded = loaded.max(samples["totalQueryableSamples"].as_u64().unwrap_or(0));
        peak = peak.max(samples["peakSamples"].as_u64().unwrap_or(0));
        slowest = slowest.max(v["stats"]["timings"]["execTotalTime"].as_f64().unwrap_or(0.0));
        requests += 1;
    }
    println!(
        "  close, one day: {requests} requests in {seconds:.1} s ({sent} sent); largest: {loaded} samples loaded, \
         {peak} held at once (--query.max-samples {MAX_SAMPLES}), {slowest:.1} s (--query.timeout 2m)"
    );
    if peak > MAX_SAMPLES || slowest >= QUERY_TIMEOUT_SECONDS {
        println!("  NOT under Prometheus' default limits");
    }
    record.set("close_day_requests", requests);
    record.set("close_day_seconds", seconds);
    record.set("close_day_largest_loaded_samples", loaded);
    record.set("close_day_largest_peak_samples", peak);
    record.set("close_day_slowest_request_seconds", slowest);
}

fn part2(nodes: usize, record: &mut record::Record) {
    let plan = plan(nodes, at(2, 0, 0));
    println!("part 2: {nodes} nodes, 2026-10-01 at 60 s; serve scraped by Prometheus");
    let (port, aggregate_port) = (common::free_port(), common::free_port());
    // Scraped every 10 s (the harness' global 1 s would time a 100,000-node
    // body out before Prometheus has read it).
    let job = |name: &str, port: u16| {
        format!(
            "{{job_name: {name}, scrape_interval: 10s, scrape_timeout: 10s, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}"
        )
    };
    let scrape = format!("[{}, {}]", job("fleet-incentives", port), job("fleet-incentives-aggregate", aggregate_port));
    let prometheus = Prometheus::start_scraping(&plan.series("fleet-node"), plan.span, &scrape);
    println!("  data ready in {:.1} s (cached: {})", prometheus.backfill_seconds, prometheus.cached);
    record.set("scrape_nodes", nodes);
    record.set("scrape_backfill_seconds", prometheus.backfill_seconds);
    record.set("scrape_backfill_cached", prometheus.cached);
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_for(&plan, dir.path());
    if std::env::var_os("FLEET_BENCH_SKIP_PER_NODE").is_none() {
        serve_run(&prometheus, dir.path(), port, "fleet-incentives", &[]).record(record, "");
    }
    if std::env::var_os("FLEET_BENCH_SKIP_AGGREGATE").is_none() {
        let run = serve_run(
            &prometheus,
            dir.path(),
            aggregate_port,
            "fleet-incentives-aggregate",
            &["--metrics.per-node=false"],
        );
        run.record(record, "_aggregate");
    }
    close_requests(&prometheus, &rules, record);
}

fn main() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let mut record = record::Record::new("serve_cycle");
    if std::env::var_os("FLEET_BENCH_SKIP_PART1").is_none() {
        part1(env("FLEET_BENCH_NODES", 500), &mut record);
    }
    if std::env::var_os("FLEET_BENCH_SKIP_PART2").is_none() {
        part2(env("FLEET_BENCH_BIG_NODES", 10_000), &mut record);
    }
    record.save();
}
