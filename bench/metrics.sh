#!/usr/bin/env bash
# The metrics benchmark: BENCH_REPORTS first reports from BENCH_ORGS organisations in a fresh
# store, then a full recomputation (target: under 30 s at 10,000,000 reports) and the
# incremental update of posted envelopes beside the same envelopes without metrics (target:
# under 5 ms an envelope). See bench/metricsbench/src/main.rs.
#
#   bash bench/metrics.sh                          # 10,000,000 reports, 50 organisations
#   BENCH_REPORTS=1000000 bash bench/metrics.sh    # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p metricsbench
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
target/release/metricsbench --dir "$OUT" --reports "${BENCH_REPORTS:-10000000}" --orgs "${BENCH_ORGS:-50}"
