#!/usr/bin/env bash
# Capacity on one PostgreSQL: `ops/bench/run-capacity.sh` — 1, 2 and 4 `hotline serve`
# instances (release build) on one PostgreSQL, each count measured twice on a fresh database
# of its own: intake (bench_intake, CLIENTS clients spread round-robin over the instances,
# ticket numbers checked gap-free over all of them) and live fan-out (bench_live, LIVE_CLIENTS
# websocket clients spread round-robin, the writer on the first instance, so that every client
# on another instance hears of each event through PostgreSQL NOTIFY). Then, optionally, the
# storage one ticket takes (STORAGE_TICKETS demo tickets with their whole histories, sizes from
# pg_total_relation_size). Appends machine, date, command and the tables to
# ops/bench/RESULTS.md (with >>).
#
# Knobs (environment):
#   INSTANCES="1 2 4"  RUNS=1 (runs per instance count)
#   CLIENTS=32 DURATION=20 WARMUP=2: the intake benchmark
#   LIVE_CLIENTS=1000 EPS=200 LIVE_DURATION=30 LIVE_WARMUP=5: the live benchmark
#   STORAGE_TICKETS=2000: demo tickets (with lifecycles) for bytes per ticket; 0 skips it
#   PG_URL=postgres://postgres@127.0.0.1:5432 (a server where we may CREATE/DROP DATABASE)
#   RESULTS=ops/bench/RESULTS.md (RESULTS=/dev/null to only print) NOTE="free text for the heading"
#   CARGO_TARGET_DIR (default ./target): where the release binaries are built
#   BUILD=0: do not build, use the binaries already in $CARGO_TARGET_DIR/release
#   REV=HEAD: measure a committed revision instead of the working tree: exported with
#     `git archive` (the repository is not touched) into ops/bench/out/src-COMMIT and built
#     there with the same CARGO_TARGET_DIR; the load generators are the working tree's.
#   LOCK=/tmp/bench.lock: if set, every measured step (start the instances, measure, stop them)
#     holds this file's flock, so that benchmarks run by others wait rather than overlap
#   QUIET_WAIT=180: seconds to wait before each step for the machine to be < 25 % busy
#
# Everything shares the machine's cores: the instances, PostgreSQL and the load generators.
# The CPU columns show the split. Only loopback traffic; every server and generator is bounded
# in time. Speed is recorded, not judged: the script fails only if a step cannot run or the
# ticket numbers are wrong.
set -euo pipefail
cd "$(dirname "$0")/../.."

INSTANCES=${INSTANCES:-1 2 4}
RUNS=${RUNS:-1}
CLIENTS=${CLIENTS:-32}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-2}
LIVE_CLIENTS=${LIVE_CLIENTS:-1000}
EPS=${EPS:-200}
LIVE_DURATION=${LIVE_DURATION:-30}
LIVE_WARMUP=${LIVE_WARMUP:-5}
STORAGE_TICKETS=${STORAGE_TICKETS:-2000}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}
REV=${REV:-}
LOCK=${LOCK:-}
QUIET_WAIT=${QUIET_WAIT:-180}
target_dir=${CARGO_TARGET_DIR:-target}
[[ "$target_dir" == /* ]] || target_dir="$PWD/$target_dir"

# 1,000 sockets on each side, plus the database pools: instances and generator inherit this.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/capacity-$stamp" # git-ignored: logs and snapshots of the binaries
mkdir -p "$out/bin"
if [[ -n "$REV" ]]; then
  commit=$(git rev-parse --short "$REV^{commit}")
  src="$PWD/ops/bench/out/src-$commit"
  if [[ ! -f "$src/Cargo.toml" ]]; then
    mkdir -p "$src"
    git archive "$commit" | tar -x -C "$src"
  fi
  # The servers are what is measured; the load generators are always the working tree's.
  mkdir -p "$src/ops/bench"
  cp ops/bench/intake.rs ops/bench/live.rs ops/bench/cpu.rs ops/bench/stats.rs "$src/ops/bench/"
  dirty=0
else
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  src="$PWD"
  dirty=$(git status --porcelain -- src migrations dispatch_rules Cargo.toml 2>/dev/null | wc -l)
fi

echo "== release build (hotline, bench_intake, bench_live) from ${REV:-the working tree} in $target_dir"
[[ "${BUILD:-1}" == 0 ]] ||
  (cd "$src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --bin hotline --example bench_intake --example bench_live)
# Copied out, so that a rebuild of the tree while this runs cannot swap them between steps.
cp "$target_dir/release/hotline" "$target_dir/release/examples/bench_intake" \
  "$target_dir/release/examples/bench_live" "$out/bin/"
server_bin="$out/bin/hotline"

DB_PREFIX=capacity
# shellcheck source=ops/bench/lib.sh
source ops/bench/lib.sh # busy_pct, await_server, field, median; the instances are started here, not by start_server

pids=()
addrs=()
# Stops every instance this script started, by pid, and drops its database.
stop_instances() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "instance $p did not stop within 10 s of SIGTERM; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
  pids=()
  addrs=()
  if [[ -n "$pg_db" ]]; then
    psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    pg_db=""
  fi
}
trap stop_instances EXIT
trap 'exit 130' INT TERM

# start_instances N NAME [DEMO_TICKETS]: a fresh database, then N `hotline serve --demo` on
# ports the kernel picks. The first creates the schema and the demo accounts; the others start
# once it is ready (they would wait on the migration lock anyway).
start_instances() {
  local n=$1 name=$2 demo_tickets=${3:-0} k log p
  pg_db="${DB_PREFIX}_${stamp//-/_}_$name"
  psql "$PG_URL/postgres" -qAt -c "CREATE DATABASE $pg_db" >/dev/null
  for k in $(seq 1 "$n"); do
    log="$out/$name.server$k.log"
    (cd "$src" && DATABASE_URL="$PG_URL/$pg_db" HOTLINE_DEMO_TICKETS=$demo_tickets HOTLINE_ATTACHMENTS_DIR="$out/attachments-$name" \
      exec "$server_bin" serve --demo --addr 127.0.0.1:0) >"$log" 2>&1 &
    p=$!
    pids+=("$p")
    # Up to 10 minutes: the storage step generates its demo tickets before listening.
    await_server "$log" "$p" 600
    addrs+=("$addr")
  done
}

# Waits (bounded) for the machine to be quiet; prints how busy it was.
quiet() {
  local b
  b=$(busy_pct)
  for _ in $(seq 1 "$QUIET_WAIT"); do
    ((b < 25)) && break
    b=$(busy_pct)
  done
  echo "$b"
}

other_bench() {
  pgrep -f 'examples/bench_|/bin/bench_|run-(intake|live|search|login|cti|attachments|sms)\.sh' >/dev/null && echo yes || echo no
}

# lock CMD…: runs CMD holding $LOCK's flock when LOCK is set (fd 9, released when CMD ends).
lock() {
  if [[ -n "$LOCK" ]]; then
    exec 9>>"$LOCK"
    echo "   (waiting for $LOCK)"
    flock 9
    "$@"
    flock -u 9
    exec 9>&-
  else
    "$@"
  fi
}

q() { psql "$PG_URL/$pg_db" -qAt -F ' ' -c "$1"; }

intake_rows=()
live_rows=()
failed=0
intake_args=(--clients "$CLIENTS" --duration-secs "$DURATION" --warmup-secs "$WARMUP" --fresh-db)
live_args=(--clients "$LIVE_CLIENTS" --events-per-sec "$EPS" --duration-secs "$LIVE_DURATION" --warmup-secs "$LIVE_WARMUP")

intake_step() {
  local n=$1 run=$2 busy other log status=0 result base_before sizes
  busy=$(quiet)
  other=$(other_bench)
  start_instances "$n" "intake_${n}_$run"
  base_before=$(q "SELECT pg_database_size(current_database())")
  log="$out/intake-$n-$run.bench.log"
  # Bounded: warm-up + measured phase + time for the last requests and the listing.
  timeout --signal=INT $((WARMUP + DURATION + 300)) "$out/bin/bench_intake" \
    --base-url "$(printf 'http://%s,' "${addrs[@]}" | sed 's/,$//')" \
    --server-pid "$(IFS=,; echo "${pids[*]}")" "${intake_args[@]}" --label "intake-$n-$run" 2>&1 |
    tee "$log" || status=$?
  # What the run's tickets take in the database (before the instances stop).
  sizes=$(q "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM events),
    pg_database_size(current_database()) - $base_before, pg_total_relation_size('tickets'),
    pg_total_relation_size('events'), pg_total_relation_size('search_docs')")
  stop_instances
  result=$(grep '^RESULT ' "$log" | tail -1 || true)
  if [[ $status -ne 0 || -z "$result" ]]; then
    echo "intake with $n instance(s) failed (exit $status); see $log" >&2
    failed=1
    [[ -z "$result" ]] && return 0
  fi
  read -r tickets events db_growth tickets_b events_b search_b <<<"$sizes"
  intake_rows+=("n=$n run=$run before_busy_pct=$busy other_bench=$other db_tickets=$tickets db_events=$events db_growth=$db_growth tickets_bytes=$tickets_b events_bytes=$events_b search_bytes=$search_b ${result#RESULT }")
}

live_step() {
  local n=$1 run=$2 busy other log status=0 result
  busy=$(quiet)
  other=$(other_bench)
  start_instances "$n" "live_${n}_$run"
  log="$out/live-$n-$run.bench.log"
  # Bounded: connect phase (≤ 120 s) + warm-up + measured phase + drain + the tally.
  timeout --signal=INT $((LIVE_WARMUP + LIVE_DURATION + 300)) "$out/bin/bench_live" \
    --base-url "$(printf 'http://%s,' "${addrs[@]}" | sed 's/,$//')" \
    --server-pid "$(IFS=,; echo "${pids[*]}")" "${live_args[@]}" --label "live-$n-$run" 2>&1 |
    tee "$log" || status=$?
  stop_instances
  result=$(grep '^RESULT ' "$log" | tail -1 || true)
  if [[ $status -ne 0 || -z "$result" ]]; then
    echo "live with $n instance(s) failed (exit $status); see $log" >&2
    failed=1
    [[ -z "$result" ]] && return 0
  fi
  live_rows+=("n=$n run=$run before_busy_pct=$busy other_bench=$other ${result#RESULT }")
}

storage=""
storage_step() {
  local t0 t1
  t0=$(date +%s)
  start_instances 1 storage "$STORAGE_TICKETS"
  t1=$(date +%s)
  # One VACUUM so that the sizes are of live rows, as a long-running database's would be.
  q "VACUUM ANALYZE" >/dev/null
  storage=$(q "SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM events),
    pg_total_relation_size('tickets'), pg_total_relation_size('events'),
    pg_total_relation_size('search_docs'), pg_total_relation_size('ticket_units'),
    pg_total_relation_size('timers'), pg_total_relation_size('attachments'),
    pg_database_size(current_database()), $((t1 - t0))")
  stop_instances
}

for n in $INSTANCES; do
  for run in $(seq 1 "$RUNS"); do
    echo "== intake, $n instance(s), run $run/$RUNS"
    lock intake_step "$n" "$run"
    echo "== live, $n instance(s), run $run/$RUNS"
    lock live_step "$n" "$run"
  done
done
if ((STORAGE_TICKETS > 0)); then
  echo "== storage: $STORAGE_TICKETS demo tickets with their histories on one instance"
  lock storage_step # it loads the machine too
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_line=$(free -g | awk '/^Mem:/ {print "total " $2 " GiB, used " $3 ", free " $4 ", available " $7}')
pg_version=$(psql "$PG_URL/postgres" -qAt -c 'SHOW server_version' 2>/dev/null || echo "-")
pg_settings=$(psql "$PG_URL/postgres" -qAt -F '=' -c "SELECT name, setting FROM pg_settings WHERE name IN
  ('shared_buffers','synchronous_commit','max_connections','wal_level') ORDER BY name" 2>/dev/null | tr '\n' ' ')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.0f", a / b; else print "-"}'; }

{
  echo
  echo "## Capacity: 1, 2 and 4 instances on one PostgreSQL"
  echo
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — instances $INSTANCES; intake $CLIENTS clients ${DURATION} s; live $LIVE_CLIENTS clients at $EPS events/s ${LIVE_DURATION} s; $RUNS run(s) each${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), CPU: $cpu_model; \`free -g\`: $mem_line; $(uname -sr)"
  echo "- Software: $(rustc --version 2>/dev/null || echo rustc ?), PostgreSQL $pg_version ($pg_settings)"
  echo "- Code: commit $commit$([[ -n "$REV" ]] && echo " (REV=$REV, exported with git archive; the load generators from the working tree)")$( ((dirty > 0)) && echo ", with $dirty uncommitted change(s) to the server's sources in the working tree at build time")"
  echo "- Command: \`INSTANCES=\"$INSTANCES\" RUNS=$RUNS CLIENTS=$CLIENTS DURATION=$DURATION WARMUP=$WARMUP LIVE_CLIENTS=$LIVE_CLIENTS EPS=$EPS LIVE_DURATION=$LIVE_DURATION LIVE_WARMUP=$LIVE_WARMUP STORAGE_TICKETS=$STORAGE_TICKETS${REV:+ REV=$REV}${LOCK:+ LOCK=$LOCK} ops/bench/run-capacity.sh\`;"
  echo "  per step, on a fresh database: N × \`DATABASE_URL=… HOTLINE_DEMO_TICKETS=0 hotline serve --demo --addr 127.0.0.1:0\`"
  echo "  (release, \`db_max_connections\` 10 each), then \`bench_intake --base-url URL1,URL2,… ${intake_args[*]} --server-pid PID1,PID2,…\`"
  echo "  or \`bench_live --base-url URL1,… ${live_args[*]} --server-pid PID1,…\`; \`ulimit -n 65536\`"
  echo "- **All of it shares the same $(nproc) cores**: the N instances, PostgreSQL and the load generator (intake: $CLIENTS"
  echo "  HTTP clients; live: $LIVE_CLIENTS sockets parsing every frame). More instances on one machine add no cores: they"
  echo "  show what running several processes costs here, not what several machines would give. CPU columns: cores used,"
  echo "  averaged over the measured phase (server = the sum of all instances)."
  echo "- Intake: client k talks to instance k mod N; numbers checked over all instances (one listing of the shared"
  echo "  database: each acknowledged ticket exactly once, numbers per day 1..n without a gap)."
  echo "- Live: sockets round-robin over the instances, the writer (urges, and every 20th write a create: 3 events) on"
  echo "  instance 1, so a client on instance 2..N hears of each event through PostgreSQL \`NOTIFY\`. Latency = receipt −"
  echo "  the event's commit time; \"missing\" = expected − delivered, over all clients of all instances."
  echo
  echo "#### Intake (tickets created, \`POST /api/v1/tickets\`)"
  echo
  echo "| instances | run | tickets/s | p50 ms | p99 ms | max ms | errors | numbers | per instance | CPU: servers | generator | PostgreSQL | other | busy before | other bench |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---|"
  for r in "${intake_rows[@]}"; do
    echo "| $(field n "$r") | $(field run "$r") | **$(field tickets_per_s "$r")** | $(field p50_ms "$r") | $(field p99_ms "$r") | $(field max_ms "$r") | $(field errors "$r") | $(field verify "$r") | $(field ok_by_instance "$r") | $(field server_cpu_cores "$r") | $(field gen_cpu_cores "$r") | $(field pg_cpu_cores "$r") | $(field other_cpu_cores "$r") | $(field before_busy_pct "$r")% | $(field other_bench "$r") |"
  done
  echo
  echo "#### Live fan-out (websocket clients on \`/api/v1/live\`)"
  echo
  echo "| instances | run | clients subscribed | events/s | p50 ms | p99 ms | max ms | p99 per instance ms | delivered / expected | missing | resyncs | RSS per instance, connected MiB | peak MiB | CPU: servers | generator | PostgreSQL | other | busy before | other bench |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|"
  for r in "${live_rows[@]}"; do
    local_p99=$(field p99_by_instance_ms "$r"); each_rss=$(field rss_connected_each_mib "$r"); each_peak=$(field rss_peak_each_mib "$r")
    echo "| $(field n "$r") | $(field run "$r") | $(field connected "$r") | $(field achieved_eps "$r") | **$(field p50_ms "$r")** | **$(field p99_ms "$r")** | $(field max_ms "$r") | ${local_p99:-$(field p99_ms "$r")} | $(field delivered "$r") / $(field expected "$r") | $(field missing "$r") | $(field resyncs "$r") | ${each_rss:-$(field rss_connected_mib "$r")} | ${each_peak:-$(field rss_peak_mib "$r")} | $(field server_cpu_cores "$r") | $(field gen_cpu_cores "$r") | $(field pg_cpu_cores "$r") | $(field other_cpu_cores "$r") | $(field before_busy_pct "$r")% | $(field other_bench "$r") |"
  done
  echo
  echo "#### Storage"
  echo
  for r in "${intake_rows[@]}"; do
    echo "- After intake with $(field n "$r") instance(s): $(field db_tickets "$r") tickets, $(field db_events "$r") events; the database grew"
    echo "  $(mib "$(field db_growth "$r")") MiB = $(per "$(field db_growth "$r")" "$(field db_tickets "$r")") bytes per ticket (tickets $(mib "$(field tickets_bytes "$r")") MiB, events $(mib "$(field events_bytes "$r")") MiB, search_docs $(mib "$(field search_bytes "$r")") MiB, indexes and TOAST included; not vacuumed)."
  done
  if [[ -n "$storage" ]]; then
    read -r s_t s_e s_tb s_eb s_sb s_ub s_timb s_ab s_db s_secs <<<"$storage"
    echo "- $STORAGE_TICKETS demo tickets with their whole histories (\`HOTLINE_DEMO_TICKETS=$STORAGE_TICKETS hotline serve --demo\`, loaded in ${s_secs} s),"
    echo "  after \`VACUUM ANALYZE\`: $s_t tickets, $s_e events ($(awk -v a="$s_e" -v b="$s_t" 'BEGIN {printf "%.1f", a / b}') per ticket); tickets $(mib "$s_tb") MiB ($(per "$s_tb" "$s_t") B/ticket), events $(mib "$s_eb") MiB"
    echo "  ($(per "$s_eb" "$s_e") B/event, $(per "$s_eb" "$s_t") B/ticket), search_docs $(mib "$s_sb") MiB ($(per "$s_sb" "$s_t") B/ticket), ticket_units $(mib "$s_ub") MiB, timers $(mib "$s_timb") MiB,"
    echo "  attachments (metadata; the files are outside the database) $(mib "$s_ab") MiB; whole database $(mib "$s_db") MiB."
  fi
  echo
  echo "Logs: \`ops/bench/out/capacity-$stamp/\` (not committed)."
} | tee -a "$RESULTS"

exit $failed
