#!/usr/bin/env bash
# The owner-routing benchmark: BENCH_FINDINGS scan results (CSV) routed end to end by
# `isac-relay campaign upload` against BENCH_PREFIXES registered networks of 34 members.
#
#   bash bench/notice.sh                            # 10,000,000 findings, 20,000 prefixes
#   BENCH_FINDINGS=1000000 bash bench/notice.sh     # a quicker look
#
# Measures the upload's wall time and peak memory (targets: under 10 s and 500 MB), and the
# router's lookups per second beside a linear scan of the same prefixes (a sanity ratio).
# One result in ten lies in no member's network; the rest are spread over all prefixes.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_FINDINGS:-10000000}
P=${BENCH_PREFIXES:-20000}

cargo build --release -q -p isac-relay -p noticebench
R=target/release/isac-relay
NB=target/release/noticebench
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
D=(--data "$OUT/relay")

echo "generating $P prefixes and $N findings ..." >&2
$NB gen --dir "$OUT" --prefixes "$P" --findings "$N"
SIZE=$(stat -c %s "$OUT/results.csv")
for org in $(cut -f1 "$OUT/ranges.tsv" | sort -u); do
  $R org add "$org" --sector telecom --country JP "${D[@]}" >/dev/null
  awk -F'\t' -v o="$org" '$1 == o { print $2 }' "$OUT/ranges.tsv" \
    | xargs -n 2000 "$R" ranges add "$org" "${D[@]}" >/dev/null
done
$R campaign create bench "${D[@]}" >&2

echo "uploading ..." >&2
START=$(date +%s.%N)
$R campaign upload bench "$OUT/results.csv" "${D[@]}" >"$OUT/upload.txt" 2>"$OUT/upload.err" &
PID=$!
PEAK=0
while kill -0 "$PID" 2>/dev/null; do
  V=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status" 2>/dev/null || true)
  if [ -n "$V" ] && [ "$V" -gt "$PEAK" ]; then PEAK=$V; fi
  sleep 0.1
done
wait "$PID" || { cat "$OUT/upload.err"; exit 1; }
END=$(date +%s.%N)
$NB lookup --dir "$OUT" >"$OUT/lookup.json"

python3 - "$OUT" "$N" "$P" "$START" "$END" "$PEAK" "$SIZE" <<'PY'
import json, sys
out, n, p, start, end, peak, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
secs = end - start
said = open(f"{out}/upload.txt").read().strip()
look = json.load(open(f"{out}/lookup.json"))
rows = [
    (f"route {n:,} findings ({size/1e6:.0f} MB CSV) against {p:,} prefixes, end to end", f"{secs:.1f} s ({n/secs:,.0f}/s)", "< 10 s", f"{10/secs:.2f}x"),
    ("peak memory of the upload", f"{peak/1024:.0f} MB", "< 500 MB", f"{500/(peak/1024):.1f}x"),
    (f"longest-prefix lookups/s, router vs linear scan ({look['prefixes']:,} prefixes)", f"{look['trie_per_sec']:,} vs {look['naive_per_sec']:,}", "", f"{look['trie_per_sec']/look['naive_per_sec']:,.0f}x"),
    ("router agrees with the linear scan", f"{look['agree']:,} of {look['checked']:,}", "all", ""),
]
head = ("workload", "isac-relay", "target", "ratio")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
line = lambda r: "  ".join(x.ljust(w[i]) for i, x in enumerate(r))
print(line(head)); print(line(tuple("-" * x for x in w)))
for r in rows: print(line(r))
print(said)
PY
