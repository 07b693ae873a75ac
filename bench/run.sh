#!/usr/bin/env bash
# The foundation benchmark: isac-relay against medallion (the OASIS reference TAXII 2.1 server,
# memory backend) on loopback, same workload, same load generator, one run; prints a table of
# figures and ratios.
#
#   bash bench/run.sh                 # the full workload (about 10 minutes, most of it medallion)
#   BENCH_INGEST=20000 BENCH_BIG=200000 bash bench/run.sh   # a quicker look
#
# Workload: (a) ingest BENCH_INGEST indicators in envelopes of 100 from 4 clients; (b) page
# through all of them with limit=100, and, since medallion's paging slows with the square of its
# collection, also through a collection of BENCH_SMALL (5,000) indicators, where medallion can
# finish; (c) 1,000 filtered GETs (match[type], added_after) on a
# collection of BENCH_BIG objects, isac-relay alone (medallion keeps everything in one Python
# dict and scans it per request; it cannot hold that many in useful time). Medallion gets a
# time budget per phase (BENCH_MEDALLION_BUDGET seconds, which also cuts off a request in
# flight): its rate is measured on what it did within it, which flatters it, since it slows
# down as its collection grows. Where it finished no page at all, the table gives the upper
# bound (fewer than one page of 100 in the budget).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_INGEST:-100000}
SMALL=${BENCH_SMALL:-5000}
BIG=${BENCH_BIG:-1000000}
MED_BUDGET=${BENCH_MEDALLION_BUDGET:-240}

. bench/common.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# isac-relay, with three feeds: SMALL and BENCH for (a)/(b), BIG for (c). The load runs as an
# analyst of a member organisation whose trust group is granted the feeds, so that every read
# pays what a member's does: the TLP visibility clause and an audit entry per request.
for f in BENCH BIG SMALL; do $RELAY feed add "$f" --data "$OUT/relay" >/dev/null; done
$RELAY org add BenchMember --sector telecom --country JP --data "$OUT/relay" >/dev/null
$RELAY user add BenchMember bench --role analyst --data "$OUT/relay" >/dev/null
$RELAY group add bench-wg --data "$OUT/relay" >/dev/null
$RELAY group member add bench-wg BenchMember --data "$OUT/relay" >/dev/null
for f in BENCH BIG SMALL; do
  $RELAY feed grant "$f" --group bench-wg --read --write --data "$OUT/relay" >/dev/null
done
MEMBER=$($RELAY token create bench --name bench --data "$OUT/relay" | tail -1)
start_relay "$OUT/relay"
R=(--token "$MEMBER")
RCOL="$RURL/taxii2/isac/collections"

# medallion, from PyPI in its own venv.
MPORT=$(free_port)
bash bench/medallion/start.sh "$MPORT" "$OUT/medallion" >"$OUT/medallion.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 600); do
  curl -sf -u admin:Password0 -H 'Accept: application/taxii+json;version=2.1' "http://127.0.0.1:$MPORT/taxii2/" >/dev/null && break
  sleep 0.5
done
M=(--basic admin:Password0)
MCOL="http://127.0.0.1:$MPORT/api1/collections/9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c01"
MSMALL="http://127.0.0.1:$MPORT/api1/collections/9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c02"

echo "paging a collection of $SMALL indicators ..." >&2
$LG ingest --url "$RCOL/SMALL/objects/" "${R[@]}" --count "$SMALL" >/dev/null
$LG page --url "$RCOL/SMALL/objects/" "${R[@]}" --limit 100 >"$OUT/r_small.json"
$LG ingest --url "$MSMALL/objects/" "${M[@]}" --count "$SMALL" >/dev/null
$LG page --url "$MSMALL/objects/" "${M[@]}" --limit 100 --budget "$MED_BUDGET" >"$OUT/m_small.json"

echo "ingest and paging, $N indicators ..." >&2
$LG ingest --url "$RCOL/BENCH/objects/" "${R[@]}" --count "$N" >"$OUT/r_ingest.json"
$LG page --url "$RCOL/BENCH/objects/" "${R[@]}" --limit 100 >"$OUT/r_page.json"
$LG ingest --url "$MCOL/objects/" "${M[@]}" --count "$N" --budget "$MED_BUDGET" >"$OUT/m_ingest.json"
$LG page --url "$MCOL/objects/" "${M[@]}" --limit 100 --budget "$MED_BUDGET" >"$OUT/m_page.json"

echo "filling a collection with $BIG objects ..." >&2
FROM=$(now)
$LG ingest --url "$RCOL/BIG/objects/" "${R[@]}" --count "$BIG" --mix >"$OUT/r_big.json"
TO=$(now)
$LG filtered --url "$RCOL/BIG/objects/" "${R[@]}" --requests 1000 --from "$FROM" --to "$TO" --types indicator,malware >"$OUT/r_filtered.json"
rss_json "$OUT/r_rss.json"
du -sk "$OUT/relay" | awk '{print "{\"disk_kb\": " $1 "}"}' >"$OUT/r_disk.json"

python3 - "$OUT" "$N" "$BIG" "$SMALL" "$MED_BUDGET" <<'PY'
import json, sys, os
out, n, big, small, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
def j(name):
    with open(os.path.join(out, name)) as f:
        d = {}
        for line in f:
            d.update(json.loads(line))
        return d
ri, rp, mi, mp = j("r_ingest.json"), j("r_page.json"), j("m_ingest.json"), j("m_page.json")
rs, ms = j("r_small.json"), j("m_small.json")
rb, rf, rss, disk = j("r_big.json"), j("r_filtered.json"), j("r_rss.json"), j("r_disk.json")
def note(d): return "" if d.get("complete") else f" (in budget: {d['objects']:,} objects, {d['secs']:.0f} s)"
def peer(r, m):
    """Figure and ratio against the peer; an upper bound when it served nothing in its budget."""
    if m["objects"] == 0:
        bound = 100 / m["secs"]
        return f"< {bound:,.2f}{note(m)}", f"> {r['rate']/bound:,.0f}x"
    return f"{m['rate']:,.0f}{note(m)}", f"{r['rate']/m['rate']:,.1f}x"
rows = [
    ("(a) ingest, objects/s", f"{ri['rate']:,.0f}", *peer(ri, mi)),
    (f"(b) paging limit=100, objects/s", f"{rp['rate']:,.0f}", *peer(rp, mp)),
    (f"    same at {small:,} objects", f"{rs['rate']:,.0f}", *peer(rs, ms)),
    (f"(c) filtered GET p50 / p99 at {big:,} objects", f"{rf['p50_ms']:.2f} / {rf['p99_ms']:.2f} ms", "n/a", ""),
    (f"    fill of {big:,} mixed objects, objects/s", f"{rb['rate']:,.0f}", "", ""),
    ("    server RSS now / peak", f"{rss['VmRSS']/1024:.0f} / {rss['VmHWM']/1024:.0f} MB", "", ""),
    ("    data directory on disk", f"{disk['disk_kb']/1024:.0f} MB", "", ""),
]
w = [max(len(r[i]) for r in rows + [("workload", "isac-relay", "medallion 3.0.0", "ratio")]) for i in range(4)]
line = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r))
print(line(("workload", "isac-relay", "medallion 3.0.0", "ratio")))
print(line(tuple("-" * x for x in w)))
for r in rows: print(line(r))
print(f"\n(a)/(b): {n:,} indicators, envelopes of 100, 4 posting clients; isac-relay commits durably (WAL, synchronous=FULL).")
print(f"medallion's budget per phase: {budget:.0f} s; its paging ran over what it had ingested within its budget.")
PY
