//! `scripts/perf-table.py`, the last step of `scripts/perf-record.sh`:
//! README's performance table is rendered from the figures the benchmarks
//! write, and a missed target says so. (The benchmarks themselves run with
//! the script, not in `cargo test`.)

use crate::common;

use serde_json::json;
use std::path::Path;
use std::process::Command;

/// A month-close record: remote read in `ours` s against the naive query's
/// `theirs`, decoding `load` × the month's samples.
fn evaluate(nodes: u64, ours: f64, theirs: f64, largest: u64, load: f64) -> serde_json::Value {
    let month = nodes * 44_640;
    json!({
        "bench": "evaluate_vs_promql", "nodes": nodes, "backfilled_samples": month,
        "queries": 108, "read_facts_seconds": 2.5, "replay_seconds": 2.4, "ratio": 2.5 / 2.4,
        "loaded_samples": 47_700_000, "replayed_samples": 47_700_000, "largest_request_samples": largest,
        "month_samples": month, "remote_read_requests": 4, "remote_read_seconds": ours,
        "remote_read_decoded_samples": (month as f64 * load) as u64, "remote_read_load_ratio": load,
        "remote_read_wall_ratio": ours / theirs,
        "naive_query": "avg_over_time(up{job=\"fleet\"}[31d])", "naive_seconds": theirs,
        "naive_error": "Prometheus rejected query `x` (HTTP 422, execution): query processing would load too many samples into memory in query execution",
    })
}

fn serve(nodes: u64, ratio_day31: f64, rss_peak: f64) -> serde_json::Value {
    let day = |d: u64, r: f64| {
        json!({
            "day": d, "catch_up_samples": d * 1_600_000, "catch_up_seconds": d as f64 * 0.15,
            "steady_loaded": 500, "steady_ingested": 550, "ratio": r, "input_refresh_samples": d * 70_000,
        })
    };
    json!({
        "bench": "serve_cycle", "cycle_nodes": nodes, "cycle_series": nodes + nodes / 10,
        "days": [day(1, 0.91), day(15, 0.91), day(31, ratio_day31)], "cycle_largest_request_samples": 14_400_000,
        "scrape_nodes": nodes, "serve_ready_seconds": 3.0, "metrics_series": 55_063, "metrics_bytes": 5_600_000,
        "federate_series": 55_068, "federate_bytes": 9_000_000, "metrics_seconds": 0.0041,
        "federate_seconds": 0.3795, "scrape_ratio": 0.0041 / 0.3795, "rss_peak_mb": rss_peak, "rss_steady_mb": 46.9,
    })
}

fn render(figures: &[(&str, serde_json::Value)]) -> (bool, String, String) {
    common::require_binary("python3");
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in figures {
        std::fs::write(dir.path().join(name), value.to_string()).unwrap();
    }
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# x\n\nbefore\n<!-- perf-record:begin -->\nold table\n<!-- perf-record:end -->\nafter\n")
        .unwrap();
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/perf-table.py"))
        .arg(&readme)
        .arg(dir.path())
        .args(["500", "10000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), std::fs::read_to_string(&readme).unwrap(), stderr)
}

fn row<'a>(readme: &'a str, starts: &str) -> &'a str {
    readme
        .lines()
        .find(|l| l.starts_with(&format!("| {starts}")))
        .unwrap_or_else(|| panic!("no row {starts}:\n{readme}"))
}

#[test]
fn the_table_holds_every_figure_and_its_ratio_and_keeps_the_rest_of_readme() {
    let (ok, readme, stderr) = render(&[
        ("evaluate-500.json", evaluate(500, 2.17, 2.21, 1_500_000, 1.0)),
        ("serve-500.json", serve(500, 0.91, 40.0)),
        ("evaluate-10000.json", evaluate(10_000, 40.0, 44.0, 14_400_000, 1.002)),
        ("serve-10000.json", {
            let mut s = serve(10_000, 0.92, 93.9);
            s["rss_file_mb"] = json!(16.3);
            s
        }),
    ]);
    assert!(ok, "{stderr}");
    assert!(readme.starts_with("# x\n\nbefore\n<!-- perf-record:begin -->\nRecorded by `scripts/perf-record.sh`"));
    assert!(readme.ends_with("<!-- perf-record:end -->\nafter\n"), "{readme}");
    assert!(!readme.contains("old table"));
    assert!(readme.contains("| | 500 nodes | 10,000 nodes | target |"), "{readme}");
    let load = row(&readme, "**Month close**");
    assert!(
        load.contains("22.3 M decoded vs 22.3 M: **1.000**") && load.contains("**1.002** (4 remote reads)"),
        "{load}"
    );
    assert!(load.ends_with("≤ 1.1× the month: met |"), "{load}");
    let wall = row(&readme, "… its wall time");
    assert!(wall.contains("2.17 s vs 2.21 s: **0.98**") && wall.contains("40.00 s vs 44.00 s: **0.91**"), "{wall}");
    assert!(wall.ends_with("≤ 1.0× naive avg_over_time: met |"), "{wall}");
    assert!(row(&readme, "… for comparison, the PromQL plan").contains("108 queries, 47.7 M samples loaded in 2.50 s"));
    let cycle = row(&readme, "**Live cycle**");
    assert!(cycle.contains("0.91 · 0.91 · 0.92 (500 / 550)"), "{cycle}");
    let naive = row(&readme, "… the naive one-query month");
    assert!(naive.contains("refused by Prometheus: query processing would load too many samples"), "{naive}");
    let scrape = row(&readme, "**Scrape**");
    assert!(scrape.contains("4.1 ms vs 379.5 ms: **0.011** (55,063 series)"), "{scrape}");
    assert!(row(&readme, "**Query limits**").contains("14.4 M (month close 14.4 M, serve 14.4 M)"));
    let memory = row(&readme, "**`serve` resident memory**");
    assert!(memory.contains("**93.9 MB** / 46.9 MB (16.3 MB of it the binary's pages)"), "{memory}");
    assert!(memory.contains("**40.0 MB** / 46.9 MB |"), "a record without the split shows none: {memory}");
}

#[test]
fn a_missed_target_is_written_as_not_met() {
    let (ok, readme, stderr) = render(&[
        ("evaluate-500.json", evaluate(500, 2.0, 1.0, 60_000_000, 1.2)),
        ("serve-500.json", serve(500, 1.6, 40.0)),
        ("evaluate-10000.json", evaluate(10_000, 1.0, 1.0, 1, 1.0)),
        ("serve-10000.json", serve(10_000, 0.9, 120.0)),
    ]);
    assert!(ok, "{stderr}");
    for r in ["**Month close**", "… its wall time", "**Live cycle**", "**Query limits**", "**`serve` resident memory**"]
    {
        assert!(row(&readme, r).ends_with(": **NOT met** |"), "{}", row(&readme, r));
    }
    assert!(row(&readme, "**Scrape**").ends_with(": met |"));
}

#[test]
fn missing_figures_are_named() {
    let (ok, readme, stderr) = render(&[("evaluate-500.json", evaluate(500, 2.0, 1.0, 1, 1.0))]);
    assert!(!ok);
    assert!(stderr.contains("serve-500.json is missing: run scripts/perf-record.sh first"), "{stderr}");
    assert!(readme.contains("old table"), "README is left as it was");
}

#[test]
fn readme_has_the_table_markers() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let begin = readme.find("<!-- perf-record:begin -->").expect("begin marker");
    let end = readme.find("<!-- perf-record:end -->").expect("end marker");
    assert!(begin < end);
    assert!(readme[begin..end].contains("| | 500 nodes | 10,000 nodes | target |"), "the table of both sizes");
}

#[test]
fn a_size_whose_serve_part_did_not_run_says_so_and_the_targets_are_judged_on_the_sizes_that_ran() {
    // 10,000 nodes: the month close and serve's part 2 ran, part 1 (the live
    // month, a long backfill) did not.
    let mut partial = serve(10_000, 0.92, 58.0);
    for key in ["days", "cycle_largest_request_samples", "cycle_nodes", "cycle_series"] {
        partial.as_object_mut().unwrap().remove(key);
    }
    let (ok, readme, stderr) = render(&[
        ("evaluate-500.json", evaluate(500, 2.17, 2.21, 1_500_000, 1.0)),
        ("serve-500.json", serve(500, 0.91, 40.0)),
        ("evaluate-10000.json", evaluate(10_000, 40.0, 44.0, 14_400_000, 1.002)),
        ("serve-10000.json", partial),
    ]);
    assert!(ok, "{stderr}");
    let live = row(&readme, "**Live cycle**");
    assert!(live.contains("| 0.91 · 0.91 · 0.91 (500 / 550) | not run in this record |"), "{live}");
    assert!(live.ends_with("≤ 1.5, flat: met |"), "judged on 500 nodes: {live}");
    let rss = row(&readme, "**`serve` resident memory**");
    assert!(rss.contains("**58.0 MB**"), "{rss}");
    // A target nobody measured is not called met.
    let (ok, readme, stderr) = render(&[
        ("evaluate-500.json", evaluate(500, 2.17, 2.21, 1_500_000, 1.0)),
        ("serve-500.json", {
            let mut s = serve(500, 0.91, 40.0);
            s.as_object_mut().unwrap().remove("days");
            s
        }),
        ("evaluate-10000.json", evaluate(10_000, 40.0, 44.0, 14_400_000, 1.002)),
        ("serve-10000.json", serve(10_000, 0.92, 58.0)),
    ]);
    assert!(ok, "{stderr}");
    assert!(row(&readme, "**Live cycle**").ends_with("≤ 1.5, flat: met |"));
    let (ok, readme, stderr) = render(&[
        ("evaluate-500.json", evaluate(500, 2.17, 2.21, 1_500_000, 1.0)),
        ("serve-500.json", json!({"bench": "serve_cycle"})),
        ("evaluate-10000.json", evaluate(10_000, 40.0, 44.0, 14_400_000, 1.002)),
        ("serve-10000.json", json!({"bench": "serve_cycle"})),
    ]);
    assert!(ok, "{stderr}");
    assert!(row(&readme, "**Live cycle**").ends_with("≤ 1.5, flat: not measured |"), "{readme}");
}
