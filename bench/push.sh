#!/usr/bin/env bash
# The feeds benchmark: live push latency and capped polls of Default.
#
#   bash bench/push.sh                         # 1,000 subscribers; 1,000,000 objects
#   BENCH_SUBSCRIBERS=200 BENCH_BIG=200000 bash bench/push.sh   # a quicker look
#
# (a) From the acknowledgement of a POST (one indicator, to C2 through TAXII) to its receipt by
#     each of BENCH_SUBSCRIBERS concurrent Server-Sent Events subscribers of Default, on
#     loopback: p50 / p99 over BENCH_POSTS posts. Target: p99 under 50 ms.
# (b) A capped poll of Default (the member's profile: at most 1,000 objects per poll, the most
#     severe and freshest first) with a random added_after, over BENCH_BIG objects spread over
#     C2 (urgent) and CX (important): p50 / p99 of 1,000 polls. Target: p99 under 20 ms.
# The peer, medallion, has neither push nor caps: its clients poll, and its GET of one page at
# 5,000 objects already takes seconds (bench/run.sh); the figures are set against the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

SUBS=${BENCH_SUBSCRIBERS:-1000}
POSTS=${BENCH_POSTS:-50}
BIG=${BENCH_BIG:-1000000}
# Subscribers and the server each hold one socket per stream.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. bench/common.sh

D=(--data "$OUT/relay")
$RELAY org add BenchMember --sector telecom --country JP "${D[@]}" >/dev/null
$RELAY user add BenchMember bench --role analyst "${D[@]}" >/dev/null
for f in C2 CX; do $RELAY feed grant "$f" --org BenchMember --read --write "${D[@]}" >/dev/null; done
MEMBER=$($RELAY token create bench --name bench "${D[@]}" | tail -1)
# The member's profile caps its polls at 1,000 objects (streams are not capped).
$RELAY profile set --org BenchMember '{"max_per_poll": 1000}' "${D[@]}" >/dev/null
start_relay "$OUT/relay"
R=(--token "$MEMBER")
RCOL="$RURL/taxii2/isac/collections"

echo "(a) $SUBS subscribers, $POSTS posts ..." >&2
$LG sse --url "$RCOL/C2/objects/" "${R[@]}" --events "$RURL/api/v1/feeds/Default/events" \
  --subscribers "$SUBS" --posts "$POSTS" >"$OUT/sse.json"

echo "(b) filling C2 and CX with $BIG objects ..." >&2
FROM=$(now)
$LG ingest --url "$RCOL/C2/objects/" "${R[@]}" --count $((BIG / 2)) >"$OUT/fill_c2.json"
$LG ingest --url "$RCOL/CX/objects/" "${R[@]}" --count $((BIG - BIG / 2)) >"$OUT/fill_cx.json"
TO=$(now)
$LG filtered --url "$RCOL/Default/objects/" "${R[@]}" --requests 1000 --limit 1000 \
  --from "$FROM" --to "$TO" --types indicator >"$OUT/capped.json"
rss_json "$OUT/rss.json"

python3 - "$OUT" "$BIG" <<'PY'
import json, sys, os
out, big = sys.argv[1], int(sys.argv[2])
def j(name):
    d = {}
    with open(os.path.join(out, name)) as f:
        for line in f:
            d.update(json.loads(line))
    return d
s, c, a, b, rss = j("sse.json"), j("capped.json"), j("fill_c2.json"), j("fill_cx.json"), j("rss.json")
fill = (a["objects"] + b["objects"]) / (a["secs"] + b["secs"])
rows = [
    (f"(a) POST ack -> receipt, {s['subscribers']:,} SSE subscribers, p50 / p99",
     f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} ms", "p99 < 50 ms", f"{50 / max(s['p99_ms'], 0.001):.1f}x under"),
    ("    deliveries / missing", f"{s['deliveries']:,} / {s['missing']:,}", "0 missing", ""),
    (f"(b) capped poll of Default (1,000 of {big:,}), p50 / p99",
     f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f} ms", "p99 < 20 ms", f"{20 / max(c['p99_ms'], 0.001):.1f}x under"),
    ("    fill rate, objects/s", f"{fill:,.0f}", "", ""),
    ("    server RSS now / peak", f"{rss['VmRSS']/1024:.0f} / {rss['VmHWM']/1024:.0f} MB", "", ""),
]
head = ("workload", "isac-relay", "target", "margin")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
line = lambda r: "  ".join(x.ljust(w[i]) for i, x in enumerate(r))
print(line(head)); print(line(tuple("-" * x for x in w)))
for r in rows: print(line(r))
PY
