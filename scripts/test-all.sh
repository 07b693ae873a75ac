#!/usr/bin/env bash
# Runs every check and test of isac-relay, installing what they need first (idempotently), so
# that it works the same on a fresh machine as on a developer's. CI runs exactly this.
#
#   bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests need beyond the Rust toolchain: Python with venv for the interop test.
need_apt=()
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v curl >/dev/null || need_apt+=(curl)
# The tools that load exports: named-checkzone (RPZ zones), nft (nftables scripts).
command -v named-checkzone >/dev/null || need_apt+=(bind9-utils)
command -v nft >/dev/null || need_apt+=(nftables)
# promtool (Debian's prometheus package) checks the /metrics exposition.
command -v promtool >/dev/null || need_apt+=(prometheus)
# Headless Chromium and ChromeDriver drive the web pages' end-to-end tests.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
# A Japanese font, so that the screenshots the browser tests keep show the Japanese pages.
[ -d /usr/share/fonts/opentype/ipafont-gothic ] || need_apt+=(fonts-ipafont-gothic)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# A clean checkout gains nothing from incremental compilation, which would double the build's
# size on disk; say how much room there is, since a full disk shows up as a linker crash.
export CARGO_INCREMENTAL=0
df -h . | sed 's/^/disk: /'

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Python tools (taxii2-client, stix2, suricata-check) in .venv-interop"
bash tests/interop/run.sh --setup-only

echo "== a throwaway PostgreSQL cluster for the store's PostgreSQL tests"
# The store's conformance suite runs on PostgreSQL too, each test in a database of its own on
# this cluster (DATABASE_URL). initdb refuses to run as root, so as root the cluster belongs to
# the postgres user. It listens on 127.0.0.1 only, on a free port, and goes when this script
# ends, whatever happens.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PGTMP=$(mktemp -d)
stop_postgres() {
  as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap stop_postgres EXIT
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGTMP"
as_postgres "$PGBIN/initdb" -D "$PGTMP/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP" start >/dev/null
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT"

echo "== Rust unit and integration tests"
cargo test --workspace --locked

echo "== interop with the OASIS taxii2-client"
cargo build --locked -p isac-relay
ISAC_RELAY_BIN=target/debug/isac-relay bash tests/interop/run.sh
