#!/usr/bin/env bash
# The performance record: runs both benchmarks against a real Prometheus at
# 500 and 10,000 nodes and rewrites README's performance table (between the
# `perf-record` markers) from what they measured.
#
#   scripts/perf-record.sh                  # 500 and 10,000 nodes, then README
#   FLEET_PERF_SIZES="500" scripts/perf-record.sh    # other sizes
#   FLEET_PERF_RENDER_ONLY=1 scripts/perf-record.sh  # README from the last figures
#   FLEET_PERF_LIVE_SIZES="500" scripts/perf-record.sh  # serve's live month (part 1) only at
#                                   these sizes: its month at 10,000 nodes is a long backfill
#
# Needs `prometheus` and `promtool` (Debian: apt-get install prometheus).
# Backfilled months are cached under target/tmp/prometheus-blocks; a first
# run at 10,000 nodes backfills 446 M + 448 M samples (about 20 minutes on
# 2 cores, 1 GB of blocks each), a later one copies them. Figures go to
# target/perf-record/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a sizes <<< "${FLEET_PERF_SIZES:-500 10000}"
out=target/perf-record

for tool in prometheus promtool python3; do
    command -v "$tool" > /dev/null || { echo "perf-record: $tool is not installed" >&2; exit 2; }
done

if [[ -z "${FLEET_PERF_RENDER_ONLY:-}" ]]; then
    rm -rf "$out"
    mkdir -p "$out"
    # The code measured: the commit, and whether the work tree differed from it.
    { git rev-parse --short HEAD; git diff --quiet HEAD -- src benches Cargo.lock || echo "(modified)"; } \
        | paste -sd' ' > "$out/commit"
    for n in "${sizes[@]}"; do
        echo "== $n nodes: month close vs raw PromQL" >&2
        FLEET_BENCH_NODES=$n FLEET_BENCH_RECORD="$out/evaluate-$n.json" \
            cargo bench --locked --bench evaluate_vs_promql
        echo "== $n nodes: live cycles, scrape and memory" >&2
        skip_live=1
        for m in ${FLEET_PERF_LIVE_SIZES:-${sizes[*]}}; do [[ $m == "$n" ]] && skip_live=; done
        env ${skip_live:+FLEET_BENCH_SKIP_PART1=1} \
            FLEET_BENCH_NODES=$n FLEET_BENCH_BIG_NODES=$n FLEET_BENCH_RECORD="$out/serve-$n.json" \
            cargo bench --locked --bench serve_cycle
    done
fi

python3 scripts/perf-table.py README.md "$out" "${sizes[@]}"
