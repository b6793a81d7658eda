#!/usr/bin/env bash
# Attachment benchmark: `ops/bench/run-attachments.sh` — UPLOADS concurrent uploads of a
# MEGABYTES photo to a fresh server per backend (attachments on the local disk), then every
# photo downloaded at once; the server's resident memory before, at its peak, just after and
# 5 s after. Appends the machine, date, command and every run to ops/bench/RESULTS.md
# (RESULTS=/dev/null to only print).
#
# Knobs: UPLOADS=50 MEGABYTES=5 RUNS=3 BACKENDS="sqlite postgres" PROFILE=release|debug
#   PG_URL=postgres://postgres@127.0.0.1:5432 NOTE="free text for the heading"
set -euo pipefail
cd "$(dirname "$0")/../.."

UPLOADS=${UPLOADS:-50}
MEGABYTES=${MEGABYTES:-5}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
PROFILE=${PROFILE:-release}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/attachments-$stamp"
mkdir -p "$out/bin"
flag=""; [[ "$PROFILE" == release ]] && flag="--release"
cargo build $flag --bin hotline --example bench_attachments
target_dir=${CARGO_TARGET_DIR:-target}
cp "$target_dir/$PROFILE/hotline" "$out/bin/hotline"
cp "$target_dir/$PROFILE/examples/bench_attachments" "$out/bin/bench_attachments"
server_bin="$out/bin/hotline"
src="$PWD"
DB_PREFIX=bench_attachments
export RUST_LOG=warn HOTLINE_ATTACHMENTS_DIR="$out/files" HOTLINE_REQUEST_TIMEOUT_SECS=300
source ops/bench/lib.sh
trap cleanup EXIT

rows=()
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    rm -rf "$out/files" "$out/files.spool"
    start_server "$backend" "$run"
    busy=$(busy_pct)
    line=$("$out/bin/bench_attachments" --base-url "http://$addr" --server-pid "$server_pid" --uploads "$UPLOADS" \
      --megabytes "$MEGABYTES" | tee "$out/$backend-$run.log" | grep '^RESULT')
    cat "$out/$backend-$run.log"
    rows+=("$backend $run busy=$busy ${line#RESULT }")
    stop_server
  done
done

code="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes')"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M') UTC — attachments, $UPLOADS concurrent uploads of a $MEGABYTES MB photo, $RUNS runs per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(free -g | awk '/Mem:/ {print "total " $2 " GiB, available " $7 " GiB"}'); Linux $(uname -r)"
  echo "- Code: commit $code, $PROFILE build; attachments on the local disk (\`HOTLINE_ATTACHMENTS_DIR\`)"
  echo "- Command: \`UPLOADS=$UPLOADS MEGABYTES=$MEGABYTES RUNS=$RUNS BACKENDS=\"$BACKENDS\" PROFILE=$PROFILE ops/bench/run-attachments.sh\`"
  echo "- Target from issue 20: server RSS growth < 50 MB (a file is never held whole in memory; images are decoded one at a time)."
  echo
  echo "| backend | run | busy % | ok | upload MB/s | p50 ms | p99 ms | RSS before MiB | peak MiB | growth MiB | 5 s later MiB | download MB/s |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for row in "${rows[@]}"; do
    set -- $row
    backend=$1 run=$2; shift 2
    kv="$*"
    echo "| $backend | $run | $(field busy "$kv") | $(field ok "$kv")/$(field uploads "$kv") | $(field upload_mb_s "$kv") | $(field p50_ms "$kv") | $(field p99_ms "$kv") | $(field rss_before_mib "$kv") | $(field rss_peak_mib "$kv") | $(field growth_mib "$kv") | $(field rss_later_mib "$kv") | $(field download_mb_s "$kv") |"
  done
} >>"$RESULTS"
echo "appended to $RESULTS"
