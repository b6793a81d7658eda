#!/usr/bin/env bash
# Schema-driven fuzzing: `ops/fuzz.sh` (run by ops/test.sh after the cargo tests).
#
# Starts the real server (`hotline serve --demo`, the debug build the test run made) on a
# fresh database — SQLite, then PostgreSQL — and lets schemathesis (PyPI; installed here when
# missing) send it requests generated from its own OpenAPI document, as an admin. The run
# fails on any 5xx, any status, content type or body the document does not describe, and any
# request that breaks the document's rules yet is accepted. Bounded in time: FUZZ_SECONDS per
# backend (default 60), and the whole script is killed after FUZZ_SECONDS + 120 s per backend.
#
# Knobs (environment): FUZZ_SECONDS=60 FUZZ_BACKENDS="sqlite postgres" FUZZ_SEED=<number>
#   PG_URL=postgres://postgres@127.0.0.1:5432 (a database of its own is created and dropped)
# Reports (JUnit, and a pytest file reproducing each failure): target/fuzz/BACKEND/.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BACKENDS=${FUZZ_BACKENDS:-sqlite postgres}
FUZZ_SEED=${FUZZ_SEED:-$RANDOM}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
SCHEMATHESIS_VERSION=4.32.5
target_dir=${CARGO_TARGET_DIR:-target}
server_bin="$target_dir/debug/hotline"

if ! python3 -m schemathesis.cli --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "Installing schemathesis $SCHEMATHESIS_VERSION (PyPI) for the fuzz run"
  python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
[[ -x "$server_bin" ]] || cargo build --bin hotline

work=$(mktemp -d)
server_pid=""
pg_db=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
  if [[ -n "$pg_db" ]]; then
    psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  pg_db=""
}
trap 'cleanup; rm -rf "$work"' EXIT

fuzz() {
  local backend=$1 url log="$work/$1.server.log" report="$target_dir/fuzz/$1"
  case $backend in
    sqlite) url="sqlite://$work/hotline.db" ;;
    postgres)
      pg_db="fuzz_$$_$(date +%s)"
      psql "$PG_URL/postgres" -qAt -c "CREATE DATABASE $pg_db" >/dev/null
      url="$PG_URL/$pg_db"
      ;;
    *) echo "unknown backend $backend" >&2; return 2 ;;
  esac
  DATABASE_URL="$url" HOTLINE_DEMO_TICKETS=50 RUST_LOG=warn "$server_bin" serve --demo --addr 127.0.0.1:0 >"$log" 2>&1 &
  server_pid=$!
  local addr=""
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|^hotline listening on http://||p' "$log" | head -1)
    [[ -n "$addr" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited during start-up:" >&2; cat "$log" >&2; return 2; }
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start within 60 s" >&2; cat "$log" >&2; return 2; }
  local token
  token=$(curl -fsS -H 'content-type: application/json' -d '{"username":"admin","password":"hotline-demo"}' \
    "http://$addr/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  mkdir -p "$report"
  echo "== fuzzing the API on $backend for ${FUZZ_SECONDS}s (seed $FUZZ_SEED) =="
  local status=0
  # Left out: logging out (it would end the fuzzer's own session) and the websocket. One
  # worker: hypothesis on Python 3.11 can fail in its own code with two threads ("AST
  # constructor recursion depth mismatch"), which is not a finding about the server.
  timeout $((FUZZ_SECONDS + 120)) python3 -m schemathesis.cli run "http://$addr/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
    --exclude-path /api/v1/auth/logout --exclude-path /api/v1/live \
    --phases examples,coverage,fuzzing --max-time "$FUZZ_SECONDS" --max-examples 50 --seed "$FUZZ_SEED" \
    --workers 1 --request-timeout 30 --suppress-health-check all --warnings off \
    --report junit,pytest --report-dir "$report" || status=$?
  if grep -q 'panicked' "$log"; then
    echo "the server panicked while fuzzed on $backend:" >&2
    grep -A5 'panicked' "$log" >&2
    status=1
  fi
  cleanup
  return $status
}

failed=0
for backend in $FUZZ_BACKENDS; do
  fuzz "$backend" || failed=1
done
exit $failed
