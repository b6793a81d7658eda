#!/usr/bin/env bash
# Intake benchmark: `ops/bench/run-intake.sh` — N concurrent clients creating tickets against a
# release build, on SQLite and PostgreSQL, RUNS times each, on a fresh database every time.
# Appends machine, date, command, every run and the medians to ops/bench/RESULTS.md.
#
# Knobs (environment): CLIENTS=32 DURATION=20 WARMUP=2 RUNS=3 BACKENDS="sqlite postgres"
#   PG_URL=postgres://postgres@127.0.0.1:5432 (a server where we may CREATE/DROP DATABASE)
#   RESULTS=ops/bench/RESULTS.md (RESULTS=/dev/null to only print) NOTE="free text for the heading"
#   QUIET_WAIT=180: seconds to wait before each run for the machine to be < 25 % busy
#   REV=HEAD: measure a committed revision instead of the working tree. It is exported with
#     `git archive` (the repository is not touched) and built in ops/bench/out/ with its own
#     target dir, so a tree that is being edited (or does not compile) can still be measured.
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
REV=${REV:-}
QUIET_WAIT=${QUIET_WAIT:-180}

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/$stamp" # git-ignored: logs, snapshots of the binaries, SQLite files
mkdir -p "$out/bin"

# Build once. The binaries are copied out of target/ so that a rebuild by someone editing the
# tree while this runs cannot swap them between runs: every run measures the same code.
if [[ -n "$REV" ]]; then
  commit=$(git rev-parse --short "$REV^{commit}")
  src="$PWD/ops/bench/out/src-$commit"
  if [[ ! -f "$src/Cargo.toml" ]]; then
    mkdir -p "$src"
    git archive "$commit" | tar -x -C "$src"
  fi
  # The server is what is measured; the load generator is always the working tree's.
  mkdir -p "$src/ops/bench" && cp ops/bench/intake.rs "$src/ops/bench/intake.rs"
  grep -q 'name = "bench_intake"' "$src/Cargo.toml" ||
    printf '\n[[example]]\nname = "bench_intake"\npath = "ops/bench/intake.rs"\n' >>"$src/Cargo.toml"
  target_dir="$PWD/ops/bench/out/target" # kept between runs: only the hotline crate rebuilds
  dirty=0
else
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  src="$PWD"
  target_dir="$PWD/target"
  dirty=$(git status --porcelain -- src migrations dispatch_rules Cargo.toml ops/bench/intake.rs 2>/dev/null | wc -l)
fi
echo "== building release (hotline + bench_intake) from ${REV:-the working tree} ($src)"
(cd "$src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --bin hotline --example bench_intake)
cp "$target_dir/release/hotline" "$target_dir/release/examples/bench_intake" "$out/bin/"
echo "$src" >"$out/bin/SRC" # for profile-intake.sh: the tree these binaries were built from
server_bin="$out/bin/hotline"
gen_bin="$out/bin/bench_intake"

DB_PREFIX=bench
# shellcheck source=ops/bench/lib.sh
source ops/bench/lib.sh # the script runs from the project folder (cd above)
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ " $BACKENDS " == *" postgres "* ]] && ! pg_isready -q -d "$PG_URL/postgres"; then
  echo "PostgreSQL is not answering at $PG_URL" >&2
  exit 2
fi




gen_args=(--clients "$CLIENTS" --duration-secs "$DURATION" --warmup-secs "$WARMUP" --fresh-db)
rows=()
failed=0
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    echo "== $backend run $run/$RUNS"
    # Wait (bounded) for anything else heavy to finish; what remains is recorded.
    idle_busy=$(busy_pct)
    for _ in $(seq 1 "$QUIET_WAIT"); do
      (( idle_busy < 25 )) && break
      idle_busy=$(busy_pct)
    done
    start_server "$backend" "$run"
    log="$out/$backend-$run.bench.log"
    status=0
    # Bounded: warm-up + measured phase + time for the last requests and the listing.
    timeout --signal=INT $(( WARMUP + DURATION + 300 )) "$gen_bin" --base-url "http://$addr" "${gen_args[@]}" \
      --server-pid "$server_pid" --label "$backend-$run" 2>&1 | tee "$log" || status=$?
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

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_line=$(free -g | awk '/^Mem:/ {print "total " $2 " GiB, used " $3 ", free " $4 ", available " $7}')
pg_version=$(psql "$PG_URL/postgres" -qAt -c 'SHOW server_version' 2>/dev/null || echo "-")

{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — intake, $CLIENTS clients, ${DURATION} s measured (+${WARMUP} s warm-up), $RUNS runs per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), CPU: $cpu_model; \`free -g\`: $mem_line; $(uname -sr)"
  echo "- Software: $(rustc --version 2>/dev/null || echo rustc ?), PostgreSQL $pg_version, SQLite bundled with sqlx (WAL, synchronous=NORMAL)"
  echo "- Code: commit $commit$( [[ -n "$REV" ]] && echo " (REV=$REV, exported with git archive)")$( [[ $dirty -gt 0 ]] && echo ", with $dirty uncommitted change(s) in the working tree at build time")"
  echo "- Command: \`CLIENTS=$CLIENTS DURATION=$DURATION WARMUP=$WARMUP RUNS=$RUNS BACKENDS=\"$BACKENDS\"${REV:+ REV=$REV} ops/bench/run-intake.sh\`; per run, on a fresh database:"
  echo "  \`DATABASE_URL=… HOTLINE_DEMO_TICKETS=0 target/release/hotline serve --demo --addr 127.0.0.1:0\` then"
  echo "  \`cargo run --release --example bench_intake -- --base-url http://127.0.0.1:PORT ${gen_args[*]} --server-pid PID\`"
  echo "  (both run from copies of the release binaries built once at the start)"
  echo "- The load generator runs on the same $(nproc) cores as the server and PostgreSQL: the CPU columns (cores used, averaged"
  echo "  over the measured phase) show the split. \"other\" is everything else on the machine; a run with a large \"other\""
  echo "  shared the cores with something (a build, a test suite) and understates the server. \"busy before\": the machine in"
  echo "  the second before the server started."
  echo
  echo "| backend | run | tickets/s | p50 ms | p90 ms | p99 ms | max ms | errors | numbers | CPU cores: server | generator | PostgreSQL | other | busy before |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    echo "| $(field backend "$r") | $(field run "$r") | $(field tickets_per_s "$r") | $(field p50_ms "$r") | $(field p90_ms "$r") | $(field p99_ms "$r") | $(field max_ms "$r") | $(field errors "$r") | $(field verify "$r") | $(field server_cpu_cores "$r") | $(field gen_cpu_cores "$r") | $(field pg_cpu_cores "$r") | $(field other_cpu_cores "$r") | $(field before_busy_pct "$r")% |"
  done
  for backend in $BACKENDS; do
    sel=()
    for r in "${rows[@]}"; do [[ $(field backend "$r") == "$backend" ]] && sel+=("$r"); done
    [[ ${#sel[@]} -eq 0 ]] && continue
    med() { for r in "${sel[@]}"; do field "$1" "$r"; done | median; }
    echo "| **$backend median** | ${#sel[@]} runs | **$(med tickets_per_s)** | **$(med p50_ms)** | $(med p90_ms) | **$(med p99_ms)** | $(med max_ms) | $(med errors) | | $(med server_cpu_cores) | $(med gen_cpu_cores) | $(med pg_cpu_cores) | $(med other_cpu_cores) | |"
  done
  echo
  echo "Logs: \`ops/bench/out/$stamp/\` (not committed)."
} | tee -a "$RESULTS"

exit $failed
