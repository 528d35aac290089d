#!/usr/bin/env python3
"""Render README's performance table from the benchmark figures.

Usage: perf-table.py README.md FIGURES_DIR SIZE...

Reads FIGURES_DIR/evaluate-SIZE.json and serve-SIZE.json (written by the
benchmarks under FLEET_BENCH_RECORD, see scripts/perf-record.sh) and replaces
the text between `<!-- perf-record:begin -->` and `<!-- perf-record:end -->`
in README.md. Every figure in the table comes from those files; the targets
are the ones the issues set.
"""

import datetime
import json
import os
import subprocess
import sys

BEGIN, END = "<!-- perf-record:begin -->", "<!-- perf-record:end -->"
MAX_SAMPLES = 50_000_000  # Prometheus' default --query.max-samples
RSS_TARGET_MB = 60  # serve's peak at 10,000 nodes (issue 16)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        sys.exit(f"perf-table: {path} is missing: run scripts/perf-record.sh first")


def millions(n):
    return f"{n / 1e6:.1f} M" if n >= 100_000 else f"{n:,}"


def seconds(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def command_line(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


NOT_RUN = "not run in this record"


def column(e, s):
    """The cells of one fleet size, in row order, and whether each target was
    met (None: not measured at this size). A record may hold part of the
    figures: the serve benchmark's part 1 (`days`) or part 2 (`rss_peak_mb`)
    may have been skipped at a size, and its cells then say so."""
    naive = e.get("naive_samples")
    naive_cell = (
        f"{millions(naive)} samples in {seconds(e['naive_seconds'])}"
        if naive is not None
        else "refused by Prometheus: " + e["naive_error"].split(": ")[-1]
    )
    load, wall = e["remote_read_load_ratio"], e["remote_read_wall_ratio"]
    month_cells = [
        f"{millions(e['remote_read_decoded_samples'])} decoded vs {millions(e['month_samples'])}: **{load:.3f}**"
        f" ({e['remote_read_requests']} remote reads)",
        f"{seconds(e['remote_read_seconds'])} vs {seconds(e['naive_seconds'])}: **{wall:.2f}**",
        naive_cell,
        f"{e['queries']} queries, {millions(e['loaded_samples'])} samples loaded in {seconds(e['read_facts_seconds'])}"
        f" (the same PromQL replayed: {seconds(e['replay_seconds'])})",
    ]
    met = {"load": load <= 1.1, "wall": wall <= 1.0, "cycle": None, "scrape": None, "rss": None}
    days = s.get("days")
    if days:
        first, last = days[0], days[-1]
        ratios = [d["ratio"] for d in days]
        largest = max(e["largest_request_samples"], s["cycle_largest_request_samples"])
        met["cycle"] = max(ratios) <= 1.5
        live_cells = [
            " · ".join(f"{r:.2f}" for r in ratios) + f" ({last['steady_loaded']:,} / {last['steady_ingested']:,})",
            f"{millions(first['catch_up_samples'])} ({seconds(first['catch_up_seconds'])})"
            f" → {millions(last['catch_up_samples'])} ({seconds(last['catch_up_seconds'])})",
            f"{millions(last['input_refresh_samples'])}"
            f" ({s.get('revenue_series', s['cycle_series'] - s['cycle_nodes']):,} revenue series)",
            f"{millions(largest)} (month close {millions(e['largest_request_samples'])},"
            f" serve {millions(s['cycle_largest_request_samples'])})",
        ]
    else:
        largest = e["largest_request_samples"]
        live_cells = [NOT_RUN] * 3 + [f"{millions(largest)} (month close; serve {NOT_RUN})"]
    met["limits"] = largest <= MAX_SAMPLES
    if "rss_peak_mb" in s:
        met["scrape"] = s["scrape_ratio"] <= 0.5
        met["rss"] = s["rss_peak_mb"] <= RSS_TARGET_MB
        scale_cells_ = [
            f"{seconds(s['metrics_seconds'])} vs {seconds(s['federate_seconds'])}: **{s['scrape_ratio']:.3f}**"
            f" ({s['metrics_series']:,} series)",
            rss_cell(s),
        ]
    else:
        scale_cells_ = [NOT_RUN] * 2
    return month_cells + live_cells + scale_cells_, met


def verdict(results):
    """A target's verdict over the sizes that measured it."""
    measured = [r for r in results if r is not None]
    if not measured:
        return "not measured"
    return "met" if all(measured) else "**NOT met**"


ROWS = [
    ("**Month close** (remote read): samples loaded (decoded, counted client-side) vs the samples in the month", "≤ 1.1× the month", "load"),
    ("… its wall time (`read_facts`) vs the naive one-query month `avg_over_time(up[31d])`, same Prometheus, same run", "≤ 1.0× naive avg_over_time", "wall"),
    ("… the naive one-query month (`totalQueryableSamples`, median wall time)", "", None),
    ("… for comparison, the PromQL plan (`--source.protocol=promql`): load and wall time", "", None),
    ("**Live cycle**: samples loaded / ingested per minute, days {days}", "≤ 1.5, flat", "cycle"),
    ("… catch-up when `serve` starts at noon, day 1 → day 31", "", None),
    ("… one input refresh at day 31 (every `--inputs.refresh-interval`)", "", None),
    ("**Query limits**: samples loaded by the largest single request (month close and live)", "≤ 50 M (default `--query.max-samples`, which bounds the samples held at once, a smaller figure)", "limits"),
    ("**Scrape**: `GET /metrics` vs Prometheus `GET /federate` of the same series (medians of 15)", "≤ 0.5", "scrape"),
    ("**`serve` resident memory**, peak / steady", "≤ 60 MB at 10,000 nodes", "rss"),
]


# The live cost with the inputs (serve's incremental input refresh).
LIVE_ROWS = [
    ("**Live cost, inputs included**: (availability + additive input refresh amortized over"
     " `--inputs.refresh-interval`) / ingested per minute, days {days}", "≤ 1.5, flat", "live"),
    ("… a non-additive input (`increase(revenue[$__range])`, re-read over the month at every refresh;"
     " `check` notes it), per minute at day 31", "", None),
    ("… a daily full re-read of the additive input (`--inputs.full-read-interval=24h`), per minute at day 31",
     "", None),
]


def live_column(s):
    """The cells of LIVE_ROWS for one fleet size, and whether the target was met."""
    days = s.get("live_days")
    if not days:
        return [NOT_RUN] * len(LIVE_ROWS), {"live": None}
    last = days[-1]
    ratios = [d["ratio"] for d in days]
    def per(n):
        ratio = n / last["ingested_per_minute"]
        return f"{n:,.0f} samples ({ratio:.0f}× ingested)" if ratio >= 10 else f"{n:,.0f} samples ({ratio:.2f}× ingested)"

    cells = [
        " · ".join(f"{r:.2f}" for r in ratios)
        + f" (({last['availability_per_minute']:,.0f} + {last['additive_inputs_per_minute']:,.0f})"
        f" / {last['ingested_per_minute']:,.0f})",
        per(last["whole_inputs_per_minute"]),
        per(last["daily_full_read_per_minute"]),
    ]
    return cells, {"live": max(ratios) <= 1.5}


def render(figures_dir, sizes):
    records = [(load(f"{figures_dir}/evaluate-{n}.json"), load(f"{figures_dir}/serve-{n}.json")) for n in sizes]
    cols = [column(e, s) for e, s in records]
    cols = [(c + lc, {**m, **lm}) for (c, m), (lc, lm) in zip(cols, (live_column(s) for _, s in records))]
    days = next((" · ".join(str(d["day"]) for d in s["days"]) for _, s in records if s.get("days")), "")
    head = "| | " + " | ".join(f"{int(n):,} nodes" for n in sizes) + " | target |"
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for i, (label, target, key) in enumerate(ROWS + LIVE_ROWS):
        cells = [c[0][i] for c in cols]
        if key is not None:
            target = f"{target}: {verdict([c[1].get(key) for c in cols])}"
        lines.append(f"| {label.format(days=days)} | " + " | ".join(cells) + f" | {target} |")
    version = command_line(["prometheus", "--version"]).split()
    prometheus = f"Prometheus {version[2]}" if len(version) > 2 else "Prometheus (version unknown)"
    machine = f"{os.cpu_count()} cores, {prometheus}, default query limits"
    try:
        with open(f"{figures_dir}/commit") as f:
            commit = f.read().strip()
    except FileNotFoundError:
        commit = "unknown"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    intro = (
        f"Recorded by `scripts/perf-record.sh` on {when} at commit {commit} ({machine}). "
        "Fleets of the given size, October 2026 at 60 s, 10 nodes per operator; "
        "the live figures with one revenue series per operator; the scrape and memory "
        "figures over one day, every operator on the roster."
    )
    return "\n".join([BEGIN, intro, "", *lines, *scale_rows(figures_dir, records), END])


SCALE_NODES = 100_000


def rss_cell(s, suffix=""):
    """Peak / steady resident memory, and the binary's own pages of it when recorded."""
    cell = f"**{s['rss_peak_mb' + suffix]:.1f} MB** / {s['rss_steady_mb' + suffix]:.1f} MB"
    if f"rss_file_mb{suffix}" in s:
        cell += f" ({s['rss_file_mb' + suffix]:.1f} MB of it the binary's pages)"
    return cell


def scale_cells(s):
    """`/metrics` vs `/federate` and RSS of one part-2 record, with and without per-node series."""
    out = []
    for suffix in ("", "_aggregate"):
        if f"rss_peak_mb{suffix}" not in s:
            out.append((NOT_RUN, NOT_RUN))
            continue
        out.append((
            f"{seconds(s['metrics_seconds' + suffix])} vs {seconds(s['federate_seconds' + suffix])}:"
            f" **{s['scrape_ratio' + suffix]:.3f}** ({s['metrics_series' + suffix]:,} series)",
            rss_cell(s, suffix),
        ))
    return out


def scale_rows(figures_dir, records):
    """Issue 16's scale targets: serve without per-node series at each size, and
    the one-off 100,000-node run (FIGURES_DIR/scale-100000.json, part 2 of
    serve_cycle alone) when it was recorded."""
    lines = ["", "Without per-node series (`serve --metrics.per-node=false`), same runs:", "",
             "| | " + " | ".join(f"{e['nodes']:,} nodes" for e, _ in records) + " |",
             "|---" * (len(records) + 1) + "|"]
    cells = [scale_cells(s)[1] for _, s in records]
    lines.append("| **Scrape**: `GET /metrics` vs `GET /federate` | " + " | ".join(c[0] for c in cells) + " |")
    lines.append("| **`serve` resident memory**, peak / steady | " + " | ".join(c[1] for c in cells) + " |")
    path = f"{figures_dir}/scale-{SCALE_NODES}.json"
    if not os.path.exists(path):
        return lines
    s = load(path)
    (scrape, rss), (scrape_agg, rss_agg) = scale_cells(s)
    ratio_ok = all(s.get(k, 1) <= 0.1 for k in ("scrape_ratio", "scrape_ratio_aggregate") if k in s)
    rss_ok = all(s[k] <= 400 for k in ("rss_peak_mb", "rss_peak_mb_aggregate") if k in s)
    met = lambda ok: "met" if ok else "**NOT met**"
    lines += ["", f"{SCALE_NODES:,} nodes, one day (part 2 of `serve_cycle` alone, recorded once):", "",
              "| | with per-node series | without | target |", "|---|---|---|---|",
              f"| **Scrape**: `GET /metrics` vs `GET /federate` | {scrape} | {scrape_agg} | ≤ 0.1: {met(ratio_ok)} |",
              f"| **`serve` resident memory**, peak / steady | {rss} | {rss_agg} | ≤ 400 MB: {met(rss_ok)} |"]
    if "close_day_requests" in s:
        close_ok = s["close_day_largest_peak_samples"] <= MAX_SAMPLES and s["close_day_slowest_request_seconds"] < 120
        lines.append(
            f"| **Month close**, one day of it (a month is 31 such): requests; largest loaded, held at once; slowest |"
            f" {s['close_day_requests']}; {millions(s['close_day_largest_loaded_samples'])},"
            f" {millions(s['close_day_largest_peak_samples'])}; {seconds(s['close_day_slowest_request_seconds'])} | |"
            f" ≤ 50 M held (`--query.max-samples`), < 2 m (`--query.timeout`): {met(close_ok)} |")
    return lines


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    readme, figures_dir, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(readme) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"perf-table: {readme} has no {BEGIN} … {END} markers")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    table = render(figures_dir, sizes)
    with open(readme, "w") as f:
        f.write(before + table + after)
    print(table)


if __name__ == "__main__":
    main()
