#!/usr/bin/env bash
# Load and faults: LOAD_CLIENTS (500) concurrent clients on loopback for LOAD_SECS (60) s,
# mixing polls (half of them: GET objects after their cursor, 50 at a time), posts (a fifth:
# envelopes of 10 indicators) and live streams (the rest: Server-Sent Events), each client
# pausing about a second between requests as a member's client does. Two runs:
#
#   1. steady: every error is counted, with latency percentiles (target: no error, p99 under
#      100 ms);
#   2. faults: the same load while the relay is killed with SIGKILL every LOAD_KILL_EVERY (10) s
#      and restarted on the same port and data; then every object whose POST was acknowledged
#      is looked for (target: none missing).
#
#   bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${LOAD_CLIENTS:-500}
SECS=${LOAD_SECS:-60}
EVERY=${LOAD_KILL_EVERY:-10}

. bench/common.sh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA="$OUT/relay"
$RELAY org add LoadMember --sector telecom --country JP --data "$DATA" >/dev/null
$RELAY user add LoadMember load --role analyst --data "$DATA" >/dev/null
$RELAY feed grant TEST --org LoadMember --read --write --data "$DATA" >/dev/null
TOKEN=$($RELAY token create load --name load --data "$DATA" | tail -1)

serve() {
  $RELAY serve --data "$DATA" --listen "127.0.0.1:$PORT" >"$OUT/relay.out" 2>>"$OUT/relay.err" &
  RPID=$!; PIDS+=("$RPID")
  for _ in $(seq 200); do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/taxii2/" && return
    sleep 0.05
  done
  echo "isac-relay did not start"; cat "$OUT/relay.err"; exit 1
}

URL="http://127.0.0.1:$PORT/taxii2/isac/collections/TEST/objects/"
EVENTS="http://127.0.0.1:$PORT/api/v1/feeds/TEST/events"
ARGS=(--url "$URL" --token "$TOKEN" --events "$EVENTS" --clients "$CLIENTS" --secs "$SECS")

serve
echo "steady: $CLIENTS clients for $SECS s ..." >&2
$LG soak "${ARGS[@]}" | tee "$OUT/steady.json"

echo "faults: the same, with kill -9 every $EVERY s ..." >&2
$LG soak "${ARGS[@]}" --faults --acked "$OUT/acked.txt" >"$OUT/faults.json" &
LGPID=$!
kills=0
for _ in $(seq $((SECS / EVERY - 1))); do
  sleep "$EVERY"
  kill -9 "$RPID"; wait "$RPID" 2>/dev/null || true
  kills=$((kills + 1))
  serve
done
wait "$LGPID"
cat "$OUT/faults.json"
echo "{\"phase\": \"kills\", \"kill_9\": $kills}"
$LG verify --url "$URL" --token "$TOKEN" --acked "$OUT/acked.txt"
