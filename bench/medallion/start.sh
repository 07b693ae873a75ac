#!/usr/bin/env bash
# Start medallion 3.0.0 (the OASIS reference TAXII 2.1 server) as the benchmarks' peer.
#
#   bench/medallion/start.sh PORT DATADIR
#
# How the bench uses it: start it in the background, wait until GET /taxii2/ answers, point
# bench/loadgen at the collection, and stop it (SIGTERM to the PID) when done:
#
#   bench/medallion/start.sh 5100 /tmp/med &            # execs medallion: $! is its PID
#   loadgen ingest --url http://127.0.0.1:5100/api1/collections/9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c01/objects/ \
#                  --basic admin:Password0 ...
#
# What it serves (plain HTTP on 127.0.0.1:PORT, memory backend, nothing persisted):
#   discovery   /taxii2/        api_roots ["http://127.0.0.1:PORT/api1/"], default api1
#   API root    /api1/          max_content_length 10485760
#   collections 9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c01 "bench" and ...c02 "small", empty, read/write
#   user        admin / Password0 (HTTP Basic)
#   page size   medallion's max_page_size, 100 unless MEDALLION_MAX_PAGE_SIZE says otherwise
#
# DATADIR gets medallion.json (config) and data.json (memory backend data); it is created if
# missing and both files are rewritten on every start. The venv ${VENV:-.venv-bench} (relative
# paths are taken from the repo root) is created if missing; requirements.txt is installed only
# when it changed since the last install. Medallion logs to stderr.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PORT DATADIR" >&2
    exit 2
fi
port="$1"
datadir="$2"
case "$port" in
    '' | *[!0-9]*) echo "$0: PORT must be a number, got '$port'" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mkdir -p "$datadir"
datadir="$(cd "$datadir" && pwd)"

venv="${VENV:-.venv-bench}"
case "$venv" in /*) ;; *) venv="$repo/$venv" ;; esac
req="$here/requirements.txt"
stamp="$venv/.bench-requirements.sha256"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
fi

collection_id="9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c01"
base="http://127.0.0.1:$port"

cat > "$datadir/data.json" <<JSON
{
  "/discovery": {
    "title": "medallion (isac-relay bench peer)",
    "description": "medallion 3.0.0 with the memory backend",
    "default": "$base/api1/",
    "api_roots": ["$base/api1/"]
  },
  "api1": {
    "information": {
      "title": "api1",
      "description": "bench API root",
      "versions": ["application/taxii+json;version=2.1"],
      "max_content_length": 10485760
    },
    "status": [],
    "collections": [
      {
        "id": "$collection_id",
        "title": "bench",
        "description": "empty read/write collection for the benchmarks",
        "can_read": true,
        "can_write": true,
        "media_types": ["application/stix+json;version=2.1"],
        "objects": [],
        "manifest": []
      },
      {
        "id": "9a7b5b16-1c6a-4e8c-9a4e-4e2a0d6f1c02",
        "title": "small",
        "description": "empty read/write collection for the small paging benchmark",
        "can_read": true,
        "can_write": true,
        "media_types": ["application/stix+json;version=2.1"],
        "objects": [],
        "manifest": []
      }
    ]
  }
}
JSON

cat > "$datadir/medallion.json" <<JSON
{
  "backend": {
    "module": "medallion.backends.memory_backend",
    "module_class": "MemoryBackend",
    "filename": "$datadir/data.json"
  },
  "users": {"admin": "Password0"},
  "taxii": {"max_page_size": ${MEDALLION_MAX_PAGE_SIZE:-100}}
}
JSON

exec "$venv/bin/medallion" --host 127.0.0.1 --port "$port" --log-level "${MEDALLION_LOG_LEVEL:-WARN}" "$datadir/medallion.json"
