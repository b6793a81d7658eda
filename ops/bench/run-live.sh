#!/usr/bin/env bash
# Live fan-out benchmark: `ops/bench/run-live.sh` — CLIENTS websocket clients (supervisors and
# departments) on GET /api/v1/live while EPS ticket events per second are written, against a
# release build on a fresh database, on SQLite and PostgreSQL, RUNS times each. Appends the
# machine, date, command, every run and the medians to ops/bench/RESULTS.md (with >>).
#
# Knobs (environment): CLIENTS=1000 SUPERVISOR_SHARE=0.2 DEPARTMENTS=20 EPS=200 DURATION=30
#   WARMUP=5 RUNS=3 BACKENDS="sqlite postgres" PG_URL=postgres://postgres@127.0.0.1:5432
#   RESULTS=ops/bench/RESULTS.md (RESULTS=/dev/null to only print) NOTE="free text for the heading"
#   QUIET_WAIT=180: seconds to wait before each run for the machine to be < 25 % busy
#   REV=HEAD: measure a committed revision instead of the working tree: exported with
#     `git archive` (the repository is not touched) into ops/bench/out/src-COMMIT and built with
#     ops/bench/out/target, as run-intake.sh does; the load generator is the working tree's.
#   EXTRA_ARGS="…": more arguments for the generator (see `bench_live --help`).
#   CARGO_TARGET_DIR: where the working tree's release build is (default ./target); BUILD=0 uses
#     the binaries already there.
#
# Server memory per client: VmRSS of the server before the sockets open and once all are
# subscribed (the generator reads /proc/PID/status), difference / clients. Server CPU:
# utime+stime from /proc/PID/stat over the measured phase. Only loopback traffic; every server
# and generator is bounded in time. Speed is recorded, not judged.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLIENTS=${CLIENTS:-1000}
SUPERVISOR_SHARE=${SUPERVISOR_SHARE:-0.2}
DEPARTMENTS=${DEPARTMENTS:-20}
EPS=${EPS:-200}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}
REV=${REV:-}
QUIET_WAIT=${QUIET_WAIT:-180}
EXTRA_ARGS=${EXTRA_ARGS:-}

# 1,000 sockets on each side, plus the database pool and files: both the server and the
# generator inherit this.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/live-$stamp" # git-ignored: logs, snapshots of the binaries, SQLite files
mkdir -p "$out/bin"

# Build once; the binaries are copied out of target/ so that someone rebuilding the tree while
# this runs cannot swap them between runs.
if [[ -n "$REV" ]]; then
  commit=$(git rev-parse --short "$REV^{commit}")
  src="$PWD/ops/bench/out/src-$commit"
  if [[ ! -f "$src/Cargo.toml" ]]; then
    mkdir -p "$src"
    git archive "$commit" | tar -x -C "$src"
  fi
  mkdir -p "$src/ops/bench" && cp ops/bench/live.rs "$src/ops/bench/live.rs"
  grep -q 'name = "bench_live"' "$src/Cargo.toml" ||
    printf '\n[[example]]\nname = "bench_live"\npath = "ops/bench/live.rs"\n' >>"$src/Cargo.toml"
  target_dir="$PWD/ops/bench/out/target"
  dirty=0
else
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  src="$PWD"
  target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
  dirty=$(git status --porcelain -- src migrations dispatch_rules Cargo.toml ops/bench/live.rs 2>/dev/null | wc -l)
fi
echo "== building release (hotline + bench_live) from ${REV:-the working tree} ($src)"
# BUILD=0: the binaries already built in $target_dir/release (e.g. a second run with other
# EXTRA_ARGS against the same build).
[[ "${BUILD:-1}" == 0 ]] || (cd "$src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --bin hotline --example bench_live)
cp "$target_dir/release/hotline" "$target_dir/release/examples/bench_live" "$out/bin/"
server_bin="$out/bin/hotline"
gen_bin="$out/bin/bench_live"

DB_PREFIX=bench_live
# shellcheck source=ops/bench/lib.sh
source ops/bench/lib.sh # the script runs from the project folder (cd above)
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " $BACKENDS " == *" postgres "* ]] && ! pg_isready -q -d "$PG_URL/postgres"; then
  echo "PostgreSQL is not answering at $PG_URL" >&2
  exit 2
fi


# Another benchmark running at the same time spoils both: recorded beside each run.
other_bench() {
  pgrep -f 'bench_(intake|clocks|routing)|run-intake\.sh|profile-intake\.sh' >/dev/null && echo yes || echo no
}



gen_args=(--clients "$CLIENTS" --supervisor-share "$SUPERVISOR_SHARE" --departments "$DEPARTMENTS"
  --events-per-sec "$EPS" --duration-secs "$DURATION" --warmup-secs "$WARMUP")
# shellcheck disable=SC2206
[[ -n "$EXTRA_ARGS" ]] && gen_args+=($EXTRA_ARGS)
rows=()
failed=0
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    echo "== $backend run $run/$RUNS"
    idle_busy=$(busy_pct)
    for _ in $(seq 1 "$QUIET_WAIT"); do
      (( idle_busy < 25 )) && break
      idle_busy=$(busy_pct)
    done
    concurrent=$(other_bench)
    start_server "$backend" "$run"
    rss_start=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    log="$out/$backend-$run.bench.log"
    status=0
    # Bounded: connect phase (≤ 120 s) + warm-up + measured phase + drain + the tally.
    timeout --signal=INT $(( WARMUP + DURATION + 300 )) "$gen_bin" --base-url "http://$addr" "${gen_args[@]}" \
      --server-pid "$server_pid" --label "$backend-$run" | tee "$log" || status=$?
    stop_server
    result=$(grep '^RESULT ' "$log" | tail -1 || true)
    if [[ $status -ne 0 || -z "$result" ]]; then
      echo "run failed (exit $status); see $log" >&2
      failed=1
      [[ -z "$result" ]] && continue
    fi
    rows+=("backend=$backend run=$run before_busy_pct=$idle_busy other_bench=$concurrent rss_start_mib=$(( rss_start / 1024 )) ${result#RESULT }")
  done
done


cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_line=$(free -g | awk '/^Mem:/ {print "total " $2 " GiB, used " $3 ", free " $4 ", available " $7}')
pg_version=$(psql "$PG_URL/postgres" -qAt -c 'SHOW server_version' 2>/dev/null || echo "-")
supervisors=$(awk -v n="$CLIENTS" -v s="$SUPERVISOR_SHARE" 'BEGIN {printf "%d", n * s + 0.5}')

{
  echo
  echo "## Live websocket fan-out"
  echo
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — $CLIENTS clients ($supervisors supervisors, the rest over $DEPARTMENTS departments), $EPS events/s, ${DURATION} s measured (+${WARMUP} s warm-up), $RUNS run(s) per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), CPU: $cpu_model; \`free -g\`: $mem_line; $(uname -sr)"
  echo "- Software: $(rustc --version 2>/dev/null || echo rustc ?), PostgreSQL $pg_version, SQLite bundled with sqlx"
  echo "- Code: commit $commit$( [[ -n "$REV" ]] && echo " (REV=$REV, exported with git archive)")$( [[ $dirty -gt 0 ]] && echo ", with $dirty uncommitted change(s) in the working tree at build time")"
  echo "- Command: \`CLIENTS=$CLIENTS SUPERVISOR_SHARE=$SUPERVISOR_SHARE DEPARTMENTS=$DEPARTMENTS EPS=$EPS DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS BACKENDS=\"$BACKENDS\"${REV:+ REV=$REV}${EXTRA_ARGS:+ EXTRA_ARGS=\"$EXTRA_ARGS\"} ops/bench/run-live.sh\`; per run, on a fresh database:"
  echo "  \`DATABASE_URL=… HOTLINE_DEMO_TICKETS=0 target/release/hotline serve --demo --addr 127.0.0.1:0\` then"
  echo "  \`bench_live --base-url http://127.0.0.1:PORT ${gen_args[*]} --server-pid PID\` (\`cargo run --release --example bench_live -- …\`), \`ulimit -n 65536\`"
  echo "- What is measured: each client logs in once per user, opens \`/api/v1/live?token=…\`, sends \`{\"type\":\"subscribe\"}\`;"
  echo "  one writer paces \`POST /tickets/{id}/urge\` (1 event) and every 20th write a create dispatched to a department"
  echo "  (3 events), ≤ 64 in flight. Latency = client receipt of the \`event\` frame − the event's \`at\` (commit time, same"
  echo "  clock), over every delivery of every event committed in the measured phase. \"expected\" is exact (each measured"
  echo "  event × the clients allowed to see it, from the tickets' histories read back after the run); \"missing\" ="
  echo "  expected − delivered, mostly backlog dropped by a resync. Memory per client = (server VmRSS once all sockets are"
  echo "  subscribed − before they opened) / clients. CPU in cores averaged over the measured phase; the generator (1,000"
  echo "  sockets parsing every frame) shares the same $(nproc) cores with the server and PostgreSQL."
  echo
  echo "| backend | run | events/s | p50 ms | p90 ms | p99 ms | max ms | ≥100 ms | delivered / expected | missing | resyncs (clients) | RSS before → connected → peak MiB | KiB/client | KiB/client/min (boards) | CPU: server | generator | PostgreSQL | other | busy before | other bench |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
  for r in "${rows[@]}"; do
    echo "| $(field backend "$r") | $(field run "$r") | $(field achieved_eps "$r") | $(field p50_ms "$r") | $(field p90_ms "$r") | $(field p99_ms "$r") | $(field max_ms "$r") | $(field over100_pct "$r")% | $(field delivered "$r") / $(field expected "$r") | $(field missing "$r") | $(field resyncs "$r") ($(field clients_resynced "$r")) | $(field rss_before_mib "$r") → $(field rss_connected_mib "$r") → $(field rss_peak_mib "$r") | $(field per_client_kib "$r") | $(field kib_per_client_min "$r") ($(field board_kib_per_client_min "$r")) | $(field server_cpu_cores "$r") | $(field gen_cpu_cores "$r") | $(field pg_cpu_cores "$r") | $(field other_cpu_cores "$r") | $(field before_busy_pct "$r")% | $(field other_bench "$r") |"
  done
  for backend in $BACKENDS; do
    sel=()
    for r in "${rows[@]}"; do [[ $(field backend "$r") == "$backend" ]] && sel+=("$r"); done
    [[ ${#sel[@]} -eq 0 ]] && continue
    med() { for r in "${sel[@]}"; do field "$1" "$r"; done | median; }
    echo "| **$backend median** | ${#sel[@]} runs | $(med achieved_eps) | **$(med p50_ms)** | $(med p90_ms) | **$(med p99_ms)** | $(med max_ms) | $(med over100_pct)% | | $(med missing) | $(med resyncs) | | **$(med per_client_kib)** | **$(med kib_per_client_min)** ($(med board_kib_per_client_min)) | $(med server_cpu_cores) | $(med gen_cpu_cores) | $(med pg_cpu_cores) | $(med other_cpu_cores) | | |"
  done
  echo
  echo "Logs (with latency per 5 s of the measured phase): \`ops/bench/out/live-$stamp/\` (not committed)."
} | tee -a "$RESULTS"

exit $failed
