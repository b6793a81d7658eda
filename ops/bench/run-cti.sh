#!/usr/bin/env bash
# Telephone benchmark: `ops/bench/run-cti.sh` — RATE new SIP calls per second for DURATION
# seconds through Kamailio (ops/kamailio/kamailio.cfg) into a release build on a fresh
# database, with OPERATORS operators signed in at their seats and watching their screen-pops;
# on SQLite and PostgreSQL, RUNS times each. Appends the machine, date, command, every run and
# the medians to ops/bench/RESULTS.md.
#
# Knobs (environment): RATE=20 DURATION=60 OPERATORS=50 TALK_MS=1500 RING_MS=200 RUNS=1
#   WRAP_UP_SECS=0 (the server's 话后处理: Kamailio rings only idle seats, so each call holds a
#   seat for ring + talk + wrap-up; 50 seats carry 20 calls/s of 1.7 s only without wrap-up)
#   BACKENDS="sqlite postgres" PG_URL=postgres://postgres@127.0.0.1:5432
#   RESULTS=ops/bench/RESULTS.md (RESULTS=/dev/null to only print) NOTE="free text"
#   BUILD=0: skip `cargo build` (the binaries in the target directory were built from this tree)
#
# Needs kamailio, kamailio-utils-modules and sip-tester (installed when missing). Only
# loopback traffic; every process is bounded in time. Speed is recorded, not judged.
set -euo pipefail
cd "$(dirname "$0")/../.."

RATE=${RATE:-20}
DURATION=${DURATION:-60}
OPERATORS=${OPERATORS:-50}
TALK_MS=${TALK_MS:-1500}
RING_MS=${RING_MS:-200}
RUNS=${RUNS:-1}
WRAP_UP_SECS=${WRAP_UP_SECS:-0}
BACKENDS=${BACKENDS:-sqlite postgres}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}
PROFILE=${PROFILE:-release}   # PROFILE=debug measures the debug build (when a release build is out of reach)

if ! command -v kamailio >/dev/null 2>&1 || ! command -v sipp >/dev/null 2>&1 \
    || ! ls /usr/lib/x86_64-linux-gnu/kamailio/modules/http_client.so >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio kamailio-utils-modules sip-tester
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/cti-$stamp"
mkdir -p "$out/bin"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src migrations Cargo.toml ops/bench/cti.rs ops/kamailio 2>/dev/null | wc -l)
src="$PWD"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== building $PROFILE (hotline + bench_cti)"
if [[ "${BUILD:-1}" == 0 ]]; then
  echo "BUILD=0: the binaries already in $target_dir/$PROFILE, built from this tree"
elif [[ "$PROFILE" == release ]]; then
  cargo build --release --bin hotline --example bench_cti
else
  cargo build --bin hotline --example bench_cti
fi
cp "$target_dir/$PROFILE/hotline" "$target_dir/$PROFILE/examples/bench_cti" "$out/bin/"
server_bin="$out/bin/hotline"
gen_bin="$out/bin/bench_cti"

token="bench-cti-token-$(date +%s)-0123456789"
export HOTLINE_CTI_PBX_TOKENS="bench=$token"
export HOTLINE_CTI_WRAP_UP_SECS="$WRAP_UP_SECS"
DB_PREFIX=bench_cti
# shellcheck source=ops/bench/lib.sh
source ops/bench/lib.sh
trap cleanup EXIT
trap 'exit 130' INT TERM

rows=()
failed=0
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    echo "== $backend run $run/$RUNS"
    idle_busy=$(busy_pct)
    start_server "$backend" "$run"
    log="$out/$backend-$run.bench.log"
    status=0
    timeout --signal=INT $(( DURATION + 400 )) "$gen_bin" --base-url "http://$addr" --token "$token" \
      --operators "$OPERATORS" --rate "$RATE" --duration-secs "$DURATION" --talk-ms "$TALK_MS" --ring-ms "$RING_MS" \
      --server-pid "$server_pid" --work-dir "$out/$backend-$run" | tee "$log" || status=$?
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

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_line=$(free -g | awk '/^Mem:/ {print "total " $2 " GiB, available " $7}')
pg_version=$(psql "$PG_URL/postgres" -qAt -c 'SHOW server_version' 2>/dev/null || echo "-")
{
  echo
  echo "## Telephone: SIP calls through Kamailio, screen-pops"
  echo
  echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — $RATE calls/s for $DURATION s, $OPERATORS operators signed in, $RUNS run(s) per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), CPU: $cpu_model; \`free -g\`: $mem_line; $(uname -sr)"
  echo "- Software: $(rustc --version 2>/dev/null || echo rustc ?), PostgreSQL $pg_version, $(kamailio -v 2>/dev/null | head -1), SIPp $(sipp -v 2>/dev/null | sed -n 's/.*SIPp \(v[^ -]*\).*/\1/p' | head -1)"
  echo "- Code: commit $commit$( [[ $dirty -gt 0 ]] && echo ", with $dirty uncommitted change(s) at build time"), **$PROFILE build**"
  echo "- Command: \`PROFILE=$PROFILE RATE=$RATE DURATION=$DURATION OPERATORS=$OPERATORS TALK_MS=$TALK_MS RING_MS=$RING_MS WRAP_UP_SECS=$WRAP_UP_SECS RUNS=$RUNS BACKENDS=\"$BACKENDS\" ops/bench/run-cti.sh\`"
  echo "- What is measured (ops/bench/cti.rs): SIPp callers → Kamailio (asks the server for the seat idle longest, posts queued / ringing /"
  echo "  answered / hangup with http_client) → the server; one SIPp phone answers every extension after ${RING_MS} ms; calls"
  echo "  talk ${TALK_MS} ms. ring→pop = operator's socket reads \`screen_pop\` − the ringing event's time (Kamailio's clock, same"
  echo "  machine). events lost (lower bound) = 2 × records missing + events short (answered: 4, others: 2). CPU per call: the server's"
  echo "  (and Kamailio's, workers included) utime+stime over the calling phase + 10 s, ÷ calls. Server, PostgreSQL,"
  echo "  Kamailio, SIPp and 50 sockets share the $(nproc) cores."
  echo
  echo "| backend | run | calls SIPp completed | SIPp failed | records | answered | events lost | pops | calls rang, no pop | ring→pop p50 ms | p99 ms | max ms | server CPU ms/call | Kamailio CPU ms/call | busy before |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    echo "| $(field backend "$r") | $(field run "$r") | $(field calls "$r") | $(field refused "$r") | $(field records "$r") | $(field answered "$r") | $(field events_lost "$r") | $(field pops "$r") | $(field unpopped "$r") | $(field pop_p50_ms "$r") | $(field pop_p99_ms "$r") | $(field pop_max_ms "$r") | $(field server_cpu_ms_per_call "$r") | $(field kamailio_cpu_ms_per_call "$r") | $(field before_busy_pct "$r")% |"
  done
  for backend in $BACKENDS; do
    sel=()
    for r in "${rows[@]}"; do [[ $(field backend "$r") == "$backend" ]] && sel+=("$r"); done
    [[ ${#sel[@]} -eq 0 ]] && continue
    med() { for r in "${sel[@]}"; do field "$1" "$r"; done | median; }
    echo "| **$backend median** | ${#sel[@]} runs | $(med calls) | $(med refused) | | | $(med events_lost) | | $(med unpopped) | **$(med pop_p50_ms)** | **$(med pop_p99_ms)** | $(med pop_max_ms) | **$(med server_cpu_ms_per_call)** | $(med kamailio_cpu_ms_per_call) | |"
  done
  echo
  echo "Logs: \`ops/bench/out/cti-$stamp/\` (not committed)."
} | tee -a "$RESULTS"

exit $failed
