#!/usr/bin/env bash
# Intake benchmark: `ops/bench/run-intake.sh` — N concurrent clients creating tickets against a
# release build, on SQLite and PostgreSQL, RUNS times each, on a fresh database every time.
# Appends machine, date, command, every run and the medians to ops/bench/RESULTS.md.
#
# Knobs (environment): CLIENTS=32 DURATION=20 WARMUP=2 RUNS=3 BACKENDS="sqlite postgres"
#   PG_URL=postgres://postgres@127.0.0.1:5432 (a server where we may CREATE/DROP DATABASE)
#   RESULTS=ops/bench/RESULTS.md (RESULTS=/dev/null to only print) NOTE="free text for the heading"
#
# Only loopback traffic; every server and generator is bounded in time. Speed is recorded,
# not judged: the script fails only if a run cannot start or the ticket numbers are wrong.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/$stamp" # git-ignored: logs, snapshots of the binaries, SQLite files
mkdir -p "$out/bin"

# Build once. The binaries are copied out of target/ so that a rebuild by someone editing the
# tree while this runs cannot swap them between runs: every run measures the same code.
echo "== building release (hotline + bench_intake)"
cargo build --release --bin hotline --example bench_intake
cp target/release/hotline target/release/examples/bench_intake "$out/bin/"
server_bin="$out/bin/hotline"
gen_bin="$out/bin/bench_intake"

server_pid=""
pg_db=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
  if [[ -n "$pg_db" ]]; then
    psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  pg_db=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " $BACKENDS " == *" postgres "* ]] && ! pg_isready -q -d "$PG_URL/postgres"; then
  echo "PostgreSQL is not answering at $PG_URL" >&2
  exit 2
fi

# Share of all cores busy over one second: anything else heavy running (a build, a test
# suite) makes a run worthless, so it is recorded beside each run.
busy_pct() {
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# start_server BACKEND RUN: fresh database, `hotline serve --demo` on a port the kernel picks.
start_server() {
  local backend=$1 run=$2 url log=$out/$1-$2.server.log
  case $backend in
    sqlite)
      mkdir -p "$out/db-$run"
      url="sqlite://$out/db-$run/hotline.db"
      ;;
    postgres)
      pg_db="bench_${stamp//-/_}_$run"
      psql "$PG_URL/postgres" -qAt -c "CREATE DATABASE $pg_db" >/dev/null
      url="$PG_URL/$pg_db"
      ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  DATABASE_URL="$url" HOTLINE_DEMO_TICKETS=0 "$server_bin" serve --demo --addr 127.0.0.1:0 >"$log" 2>&1 &
  server_pid=$!
  addr=""
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|^hotline listening on http://||p' "$log" | head -1)
    [[ -n "$addr" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited during start-up:" >&2; cat "$log" >&2; exit 2; }
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start within 60 s" >&2; cat "$log" >&2; exit 2; }
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$addr/readyz" && return 0
    sleep 0.1
  done
  echo "server at $addr never became ready" >&2
  exit 2
}

stop_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "server did not stop within 10 s of SIGTERM; killing it" >&2
    kill -KILL "$server_pid"
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [[ -n "$pg_db" ]]; then
    psql "$PG_URL/postgres" -qAt -c "DROP DATABASE $pg_db WITH (FORCE)" >/dev/null
    pg_db=""
  fi
  rm -rf "$out"/db-*
}

gen_args=(--clients "$CLIENTS" --duration-secs "$DURATION" --warmup-secs "$WARMUP" --fresh-db)
rows=()
failed=0
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    echo "== $backend run $run/$RUNS"
    idle_busy=$(busy_pct)
    start_server "$backend" "$run"
    log="$out/$backend-$run.bench.log"
    status=0
    # Bounded: warm-up + measured phase + time for the last requests and the listing.
    timeout --signal=INT $(( WARMUP + DURATION + 300 )) "$gen_bin" --base-url "http://$addr" "${gen_args[@]}" \
      --server-pid "$server_pid" --label "$backend-$run" | tee "$log" || status=$?
    stop_server
    result=$(grep '^RESULT ' "$log" | tail -1 || true)
    if [[ $status -ne 0 || -z "$result" ]]; then
      echo "run failed (exit $status); see $log" >&2
      failed=1
      [[ -z "$result" ]] && continue
    fi
    rows+=("backend=$backend run=$run before_busy_pct=$idle_busy ${result#RESULT }")
  done
done

# field NAME LINE: the value of NAME=… in a RESULT line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_line=$(free -g | awk '/^Mem:/ {print "total " $2 " GiB, used " $3 ", free " $4 ", available " $7}')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src migrations dispatch_rules Cargo.toml 2>/dev/null | wc -l)
pg_version=$(psql "$PG_URL/postgres" -qAt -c 'SHOW server_version' 2>/dev/null || echo "-")

{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — intake, $CLIENTS clients, ${DURATION} s measured (+${WARMUP} s warm-up), $RUNS runs per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), CPU: $cpu_model; \`free -g\`: $mem_line; $(uname -sr)"
  echo "- Software: $(rustc --version 2>/dev/null || echo rustc ?), PostgreSQL $pg_version, SQLite bundled with sqlx (WAL, synchronous=NORMAL)"
  echo "- Code: commit $commit$( [[ $dirty -gt 0 ]] && echo ", with $dirty uncommitted change(s) under src/, migrations/, dispatch_rules/ or Cargo.toml at build time")"
  echo "- Command: \`CLIENTS=$CLIENTS DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS BACKENDS=\"$BACKENDS\" ops/bench/run-intake.sh\`; per run, on a fresh database:"
  echo "  \`DATABASE_URL=… HOTLINE_DEMO_TICKETS=0 target/release/hotline serve --demo --addr 127.0.0.1:0\` then"
  echo "  \`cargo run --release --example bench_intake -- --base-url http://127.0.0.1:PORT ${gen_args[*]} --server-pid PID\`"
  echo "  (both run from copies of the release binaries built once at the start)"
  echo "- The load generator runs on the same $(nproc) cores as the server (and the database): the CPU columns show the split."
  echo "  \"busy before\" is how busy the machine was in the second before the server started (anything else running)."
  echo
  echo "| backend | run | tickets/s | p50 ms | p90 ms | p99 ms | max ms | errors | numbers | server CPU (cores) | generator CPU (cores) | machine busy | busy before |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    echo "| $(field backend "$r") | $(field run "$r") | $(field tickets_per_s "$r") | $(field p50_ms "$r") | $(field p90_ms "$r") | $(field p99_ms "$r") | $(field max_ms "$r") | $(field errors "$r") | $(field verify "$r") | $(field server_cpu_cores "$r") | $(field gen_cpu_cores "$r") | $(field machine_busy_pct "$r")% | $(field before_busy_pct "$r")% |"
  done
  for backend in $BACKENDS; do
    sel=()
    for r in "${rows[@]}"; do [[ $(field backend "$r") == "$backend" ]] && sel+=("$r"); done
    [[ ${#sel[@]} -eq 0 ]] && continue
    med() { for r in "${sel[@]}"; do field "$1" "$r"; done | median; }
    echo "| **$backend median** | ${#sel[@]} runs | **$(med tickets_per_s)** | **$(med p50_ms)** | $(med p90_ms) | **$(med p99_ms)** | $(med max_ms) | $(med errors) | | $(med server_cpu_cores) | $(med gen_cpu_cores) | $(med machine_busy_pct)% | |"
  done
  echo
  echo "Logs: \`ops/bench/out/$stamp/\` (not committed)."
} | tee -a "$RESULTS"

exit $failed
