#!/usr/bin/env bash
# The foundation benchmark's workload (ingest indicators in envelopes of 100 from 4 clients,
# then page through all of them with limit=100) on three set-ups in one run, with ratios to
# the first: isac-relay on its embedded SQLite; on PostgreSQL with one node; on PostgreSQL with
# two nodes sharing the database (two posting clients on each node; paging on the node that
# did not receive half of the posts, then on both nodes at once). PostgreSQL is a throwaway
# cluster on 127.0.0.1 with its default durability (fsync, synchronous_commit on), as SQLite
# runs with synchronous=FULL. Everything shares the machine's cores.
#
#   bash bench/pg.sh                    # 100,000 indicators
#   BENCH_INGEST=20000 bash bench/pg.sh # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_INGEST:-100000}
TOKEN=bench-admin-token-0123456789abcdef0123
export ISAC_RELAY_ADMIN_TOKEN=$TOKEN

. bench/common.sh

# A throwaway PostgreSQL cluster (initdb refuses root: as root it belongs to postgres).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGTMP=$(mktemp -d)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGTMP"
as_postgres "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c max_connections=200" start >/dev/null
stop_pg() { as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$PGTMP"; cleanup; }
trap stop_pg EXIT
psql -q "host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres" -c 'create database relay1' -c 'create database relay2'
PG1="postgres://postgres@127.0.0.1:$PGPORT/relay1"
PG2="postgres://postgres@127.0.0.1:$PGPORT/relay2"

# node NAME STORE_ARGS...: starts a relay; sets URL_<NAME>.
node() {
  local name=$1; shift
  $RELAY serve "$@" --listen 127.0.0.1:0 >"$OUT/$name.out" 2>"$OUT/$name.err" &
  PIDS+=("$!")
  for _ in $(seq 200); do grep -q '^listening on' "$OUT/$name.out" 2>/dev/null && break; sleep 0.1; done
  local url; url=$(sed -n 's/^listening on //p' "$OUT/$name.out")
  [ -n "$url" ] || { echo "isac-relay $name did not start"; cat "$OUT/$name.err"; exit 1; }
  printf -v "URL_$name" '%s' "$url"
}
col() { echo "$1/taxii2/isac/collections/BENCH/objects/"; }
T=(--token "$TOKEN")

echo "SQLite, one node ..." >&2
$RELAY feed add BENCH --data "$OUT/sqlite" >/dev/null
node lite --data "$OUT/sqlite"
$LG ingest --url "$(col "$URL_lite")" "${T[@]}" --count "$N" --concurrency 4 >"$OUT/lite_ingest.json"
$LG page --url "$(col "$URL_lite")" "${T[@]}" --limit 100 >"$OUT/lite_page.json"

echo "PostgreSQL, one node ..." >&2
$RELAY feed add BENCH --store "$PG1" >/dev/null
node pg1 --store "$PG1"
$LG ingest --url "$(col "$URL_pg1")" "${T[@]}" --count "$N" --concurrency 4 >"$OUT/pg1_ingest.json"
$LG page --url "$(col "$URL_pg1")" "${T[@]}" --limit 100 >"$OUT/pg1_page.json"

echo "PostgreSQL, two nodes ..." >&2
$RELAY feed add BENCH --store "$PG2" >/dev/null
node a --store "$PG2"
node b --store "$PG2"
$LG ingest --url "$(col "$URL_a")" "${T[@]}" --count $((N / 2)) --concurrency 2 >"$OUT/pg2a_ingest.json" &
IA=$!
$LG ingest --url "$(col "$URL_b")" "${T[@]}" --count $((N - N / 2)) --concurrency 2 >"$OUT/pg2b_ingest.json"
wait "$IA"
$LG page --url "$(col "$URL_b")" "${T[@]}" --limit 100 >"$OUT/pg2_page.json"
$LG page --url "$(col "$URL_a")" "${T[@]}" --limit 100 >"$OUT/pg2_pagea.json" &
PA=$!
$LG page --url "$(col "$URL_b")" "${T[@]}" --limit 100 >"$OUT/pg2_pageb.json"
wait "$PA"

python3 - "$OUT" "$N" <<'PY'
import json, sys, os
out, n = sys.argv[1], int(sys.argv[2])
def j(name):
    d = {}
    for line in open(os.path.join(out, name)):
        d.update(json.loads(line))
    return d
lite_i, lite_p = j("lite_ingest.json"), j("lite_page.json")
pg1_i, pg1_p = j("pg1_ingest.json"), j("pg1_page.json")
a, b = j("pg2a_ingest.json"), j("pg2b_ingest.json")
two_ingest = (a["objects"] + b["objects"]) / max(a["secs"], b["secs"])
two_page = j("pg2_page.json")
pa, pb = j("pg2_pagea.json"), j("pg2_pageb.json")
both_page = (pa["objects"] + pb["objects"]) / max(pa["secs"], pb["secs"])
for d in (lite_p, pg1_p, two_page, pa, pb):
    assert d["objects"] == n, f"paged {d['objects']} of {n}"
rows = [
    ("ingest, objects/s", lite_i["rate"], pg1_i["rate"], two_ingest),
    ("paging limit=100, one client, objects/s", lite_p["rate"], pg1_p["rate"], two_page["rate"]),
    ("paging, one client per node, objects/s", lite_p["rate"], pg1_p["rate"], both_page),
]
head = ("workload", "SQLite", "PostgreSQL 1 node", "ratio", "PostgreSQL 2 nodes", "ratio")
cells = [head] + [(w, f"{l:,.0f}", f"{p1:,.0f}", f"{p1/l:.2f}x", f"{p2:,.0f}", f"{p2/l:.2f}x") for w, l, p1, p2 in rows]
w = [max(len(r[i]) for r in cells) for i in range(len(head))]
for k, r in enumerate(cells):
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    if k == 0:
        print("  ".join("-" * x for x in w))
print(f"\n{n:,} indicators, envelopes of 100, 4 posting clients in all (2 per node with two nodes); every")
print("set-up pages through all of them (checked); ratios are to SQLite in this run.")
PY
