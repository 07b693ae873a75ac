#!/usr/bin/env bash
# Interop test of isac-relay with the OASIS TAXII 2.1 client (taxii2-client) and stix2.
#
#   tests/interop/run.sh [PYTEST ARGS...]
#
# Environment:
#   ISAC_RELAY_BIN  server binary (default: target/release/isac-relay, else target/debug/isac-relay)
#   VENV            virtualenv to use/create (default: .venv-interop at the repo root)
#   PYTHON          interpreter that creates the venv (default: python3)
#
# Idempotent: the venv is created only if missing, and requirements.txt is installed only when
# it changed since the last successful install (hash kept in $VENV/.interop-requirements.sha256).
# The exit code is pytest's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

venv="${VENV:-.venv-interop}"
req="$here/requirements.txt"
stamp="$venv/.interop-requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
fi

# --setup-only: install the tools and stop (the Rust tests use suricata-check from here).
if [ "${1:-}" = "--setup-only" ]; then
    exit 0
fi

if [ -n "${ISAC_RELAY_BIN:-}" ]; then
    export ISAC_RELAY_BIN
fi

set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/test_taxii2_client.py" "$@"
exit $?
