# Sourced by the benchmark scripts: release binaries, a scratch directory removed on exit, and
# starting isac-relay on a free port.

cargo build --release -q -p isac-relay -p loadgen
RELAY=target/release/isac-relay
LG=target/release/loadgen
OUT=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# start_relay DATA_DIR: serves it on 127.0.0.1:0; sets RPID and RURL (http://HOST:PORT).
start_relay() {
  $RELAY serve --data "$1" --listen 127.0.0.1:0 >"$OUT/relay.out" 2>"$OUT/relay.err" &
  RPID=$!; PIDS+=("$RPID")
  for _ in $(seq 100); do grep -q '^listening on' "$OUT/relay.out" 2>/dev/null && break; sleep 0.1; done
  RURL=$(sed -n 's/^listening on //p' "$OUT/relay.out")
  [ -n "$RURL" ] || { echo "isac-relay did not start"; cat "$OUT/relay.err"; exit 1; }
}

# rss_json FILE: the relay's resident memory now and at peak, as JSON lines.
rss_json() {
  grep -E 'VmRSS|VmHWM' /proc/"$RPID"/status | sed -E 's/^(Vm[A-Z]+):[[:space:]]+([0-9]+) kB$/{"\1": \2}/' >"$1"
}
