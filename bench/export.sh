#!/usr/bin/env bash
# The exports benchmark: every format over BENCH_ENTRIES entries, and incremental `since`.
#
#   bash bench/export.sh                          # 1,000,000 entries per format
#   BENCH_ENTRIES=100000 bash bench/export.sh     # a quicker look
#
# Fills C2 with BENCH_ENTRIES indicators, each naming an address, a domain, a URL and a SHA-256
# (so every kind holds BENCH_ENTRIES entries, 4 x BENCH_ENTRIES in all), then times one full
# export per format, each narrowed to BENCH_ENTRIES entries (by kind where a format carries
# several), measured by curl from the request to the last byte. Target: under 2 s each.
# Then posts 100 indicators and times `since` answers from the export before them (p50 / p99
# of 50 requests; target under 20 ms), and If-None-Match polls of an unchanged list (304).
# No peer has exports (medallion serves TAXII only), so figures are set against the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_ENTRIES:-1000000}

. bench/common.sh

D=(--data "$OUT/relay")
$RELAY org add BenchMember --sector telecom --country JP "${D[@]}" >/dev/null
$RELAY user add BenchMember bench --role analyst "${D[@]}" >/dev/null
$RELAY feed grant C2 --org BenchMember --read --write "${D[@]}" >/dev/null
MEMBER=$($RELAY token create bench --name bench "${D[@]}" | tail -1)
start_relay "$OUT/relay"
RCOL="$RURL/taxii2/isac/collections"

echo "filling C2 with $N indicators (4 observables each) ..." >&2
$LG ingest --url "$RCOL/C2/objects/" --token "$MEMBER" --count "$N" --rich >"$OUT/fill.json"

get() { # get QUERY OUTFILE -> prints seconds to the last byte
  curl -sS -o "$2" -w '%{time_total}' -H "Authorization: Bearer $MEMBER" "$RURL/api/v1/exports/$1"
}

: >"$OUT/formats.tsv"
for q in "ip?kind=ipv4" "domain" "url" "hash" "rpz?kind=domain" "suricata?kind=domain" \
         "nftables?kind=ipv4" "ipset?kind=ipv4" "csv?kind=ipv4" "stix?kind=ipv4"; do
  secs=$(get "$q" "$OUT/body")
  bytes=$(stat -c %s "$OUT/body")
  printf '%s\t%s\t%s\n' "$q" "$secs" "$bytes" >>"$OUT/formats.tsv"
  echo "  $q: ${secs}s, $bytes bytes" >&2
done

# The token of a domain export, then 100 new indicators, then `since` from it.
TOKEN=$(curl -sS -D - -o /dev/null -H "Authorization: Bearer $MEMBER" \
  "$RURL/api/v1/exports/domain" | tr -d '\r' | sed -n 's/^x-export-token: //p')
python3 - "$RCOL/C2/objects/" "$MEMBER" <<'PY'
import json, sys, uuid, urllib.request
url, token = sys.argv[1], sys.argv[2]
objs = [{"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
         "created": "2026-02-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z",
         "name": "C2: new", "pattern": f"[domain-name:value = 'new{i}.bench-c2.xyz']",
         "pattern_type": "stix", "valid_from": "2026-02-01T00:00:00Z"} for i in range(100)]
req = urllib.request.Request(url, data=json.dumps({"objects": objs}).encode(), method="POST",
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/taxii+json;version=2.1",
             "Accept": "application/taxii+json;version=2.1"})
assert urllib.request.urlopen(req).status == 202
PY
: >"$OUT/since.txt"
for _ in $(seq 50); do get "domain?since=$TOKEN" "$OUT/diff" >>"$OUT/since.txt"; echo >>"$OUT/since.txt"; done
DIFF_LINES=$(wc -l <"$OUT/diff")
ETAG=$(curl -sS -D - -o /dev/null -H "Authorization: Bearer $MEMBER" \
  "$RURL/api/v1/exports/domain" | tr -d '\r' | sed -n 's/^etag: //p')
: >"$OUT/inm.txt"
for _ in $(seq 50); do
  curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $MEMBER" \
    -H "If-None-Match: $ETAG" "$RURL/api/v1/exports/domain" >>"$OUT/inm.txt"
done
rss_json "$OUT/rss.json"

python3 - "$OUT" "$N" "$DIFF_LINES" <<'PY'
import json, sys, os, statistics
out, n, diff_lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
fill = json.loads(open(os.path.join(out, "fill.json")).read().splitlines()[-1])
rss = {}
for line in open(os.path.join(out, "rss.json")):
    rss.update(json.loads(line))
rows = []
for line in open(os.path.join(out, "formats.tsv")):
    q, secs, size = line.split("\t")
    secs = float(secs)
    rows.append((f"full export {q} ({n:,} entries)", f"{secs:.2f} s, {int(size)/1e6:.0f} MB", "< 2 s", f"{2 / max(secs, 1e-6):.1f}x under"))
since = [float(x) * 1000 for x in open(os.path.join(out, "since.txt")).read().split()]
inm = [float(x) * 1000 for x in open(os.path.join(out, "inm.txt")).read().split()]
rows.append((f"since (100 added; {diff_lines} lines), p50 / p99", f"{pct(since, 50):.1f} / {pct(since, 99):.1f} ms", "< 20 ms", f"{20 / max(pct(since, 99), 1e-6):.1f}x under"))
rows.append(("If-None-Match, unchanged -> 304, p50 / p99", f"{pct(inm, 50):.1f} / {pct(inm, 99):.1f} ms", "", ""))
rows.append(("fill rate, indicators/s", f"{fill['objects'] / fill['secs']:,.0f}", "", ""))
rows.append(("server RSS now / peak", f"{rss['VmRSS']/1024:.0f} / {rss['VmHWM']/1024:.0f} MB", "", ""))
head = ("workload", "isac-relay", "target", "margin")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
line = lambda r: "  ".join(x.ljust(w[i]) for i, x in enumerate(r))
print(line(head)); print(line(tuple("-" * x for x in w)))
for r in rows: print(line(r))
PY
