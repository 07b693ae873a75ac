#!/usr/bin/env bash
# Validation and observable extraction of BENCH_INDICATORS (1,000,000) indicators on one core,
# against the OASIS Python stix2-validator and stix2-patterns on a sample of the same
# indicators (BENCH_SAMPLE, 2,000: they manage a few hundred a second), in one run; prints
# rates and ratios.
#
#   bash bench/stix_validate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_INDICATORS:-1000000}
SAMPLE=${BENCH_SAMPLE:-2000}
VENV=${VENV:-.venv-bench}
cargo build --release -q -p stixbench
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r bench/stix_validate/requirements.txt
# One core for both, so that the figures are per core.
taskset -c 0 target/release/stixbench --count "$N" --write "$OUT/sample.json" --sample "$SAMPLE" >"$OUT/rust.json"
taskset -c 0 "$VENV/bin/python" bench/stix_validate/peers.py "$OUT/sample.json" >"$OUT/peers.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
r = json.load(open(f"{out}/rust.json"))
peers = [json.loads(l) for l in open(f"{out}/peers.json")]
print(f"{'validator':38} {'objects':>10} {'valid':>10} {'per second':>12} {'ratio':>9}")
print(f"{'isac-relay stix (check + observables)':38} {r['indicators']:>10,} {r['valid']:>10,} {r['rate']:>12,.0f} {'':>9}")
for p in peers:
    print(f"{p['peer']:38} {p['objects']:>10,} {p['valid']:>10,} {p['rate']:>12,.0f} {r['rate']/p['rate']:>8,.0f}x")
print(f"\none core (taskset -c 0); observables extracted by isac-relay: {r['observables']:,}")
PY
