#!/usr/bin/env bash
# Where does intake time go? `ops/bench/profile-intake.sh BACKEND [CLIENTS...]`
#
# For each client count: a fresh database, `hotline serve --demo`, the intake generator for
# DURATION seconds, and the server's CPU split by thread (tokio workers vs the SQLite worker
# threads vs the rest). With PERF=1 (and `perf` installed) the last client count is also
# recorded with `perf record -g` and the top of `perf report` is printed.
#
# Uses the binaries the last `run-intake.sh` built (ops/bench/out/*/bin), or BIN_DIR=…; the
# server runs from the tree they were built from (recorded in BIN_DIR/SRC), or SRC=….
# Only loopback traffic; bounded in time. Example: PERF=1 ops/bench/profile-intake.sh sqlite 1 8 32
set -euo pipefail
cd "$(dirname "$0")/../.."

backend=${1:?usage: profile-intake.sh sqlite|postgres [CLIENTS...]}
shift
counts=("${@:-32}")
DURATION=${DURATION:-10}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
BIN_DIR=${BIN_DIR:-$(ls -d ops/bench/out/2*/bin 2>/dev/null | sort | while read -r d; do [[ -x $d/bench_intake ]] && echo "$d"; done | tail -1)}
SRC=${SRC:-$(cat "$BIN_DIR/SRC" 2>/dev/null || echo "$PWD")}
[[ -x "$BIN_DIR/hotline" && -x "$BIN_DIR/bench_intake" ]] || {
  echo "no binaries in '$BIN_DIR': run ops/bench/run-intake.sh first or set BIN_DIR" >&2
  exit 2
}
BIN_DIR=$(cd "$BIN_DIR" && pwd)
SRC=$(cd "$SRC" && pwd)
out="$PWD/ops/bench/out/profile-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out"

pid=""
db=""
cleanup() {
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [[ -n "$db" ]] && psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  pid="" db=""
  rm -rf "$out/db"
}
trap cleanup EXIT

# CPU ticks of each thread of a process: "name/tid ticks" lines.
threads() {
  local t stat rest name f
  for t in /proc/"$1"/task/*; do
    stat=$(cat "$t/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    read -ra f <<<"$rest"
    name=${stat#*(}
    name=${name%)*}
    echo "${name// /_}/${t##*/} $((f[11] + f[12]))"
  done
}

last=${counts[-1]}
for clients in "${counts[@]}"; do
  case $backend in
    sqlite) mkdir -p "$out/db"; url="sqlite://$out/db/hotline.db" ;;
    postgres)
      db="bench_profile_$$_$clients"
      psql "$PG_URL/postgres" -qAt -c "CREATE DATABASE $db" >/dev/null
      url="$PG_URL/$db"
      ;;
    *) echo "backend is sqlite or postgres" >&2; exit 2 ;;
  esac
  log="$out/server-$clients.log"
  (cd "$SRC" && DATABASE_URL="$url" HOTLINE_DEMO_TICKETS=0 exec "$BIN_DIR/hotline" serve --demo --addr 127.0.0.1:0) >"$log" 2>&1 &
  pid=$!
  addr=""
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|^hotline listening on http://||p' "$log" | head -1)
    [[ -n "$addr" ]] && break
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start" >&2; cat "$log" >&2; exit 2; }
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://$addr/readyz" && break; sleep 0.1; done

  echo "== $backend, $clients clients"
  # Thread CPU is sampled over the measured phase only: after the 2 s warm-up.
  timeout $(( DURATION + 120 )) "$BIN_DIR/bench_intake" --base-url "http://$addr" --clients "$clients" \
    --duration-secs "$DURATION" --warmup-secs 2 --fresh-db --server-pid "$pid" --label "$backend-$clients" \
    >"$out/bench-$clients.log" 2>&1 &
  gen=$!
  sleep 2
  threads "$pid" >"$out/threads-$clients.before"
  perf_pid=""
  if [[ "${PERF:-0}" == 1 && $clients == "$last" ]] && command -v perf >/dev/null; then
    perf record -F 499 -g -p "$pid" -o "$out/perf-$clients.data" -- sleep "$(( DURATION - 1 ))" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  sleep "$DURATION"
  threads "$pid" >"$out/threads-$clients.after"
  wait "$gen" || true
  [[ -n "$perf_pid" ]] && wait "$perf_pid" || true
  grep -E '^(rate|latency|cpu|verify)' "$out/bench-$clients.log"
  echo "server threads (name/tid, cores over the measured phase; threads born during it count from 0):"
  join -a 2 -e 0 -o 0,1.2,2.2 <(sort "$out/threads-$clients.before") <(sort "$out/threads-$clients.after") |
    awk -v d="$DURATION" '{c=($3-$2)/100/d; if (c >= 0.005) printf "  %-28s %.2f\n", $1, c}' | sort -k2 -nr | head -12
  cleanup
done

if [[ "${PERF:-0}" == 1 && -f "$out/perf-$last.data" ]]; then
  echo "== perf: top symbols (self), $last clients"
  perf report -i "$out/perf-$last.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -40 | tee "$out/perf-top.txt"
  echo "== perf: by thread"
  perf report -i "$out/perf-$last.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head
fi
echo "logs: $out"
