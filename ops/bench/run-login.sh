#!/usr/bin/env bash
# Login storm benchmark: `ops/bench/run-login.sh` — LOGINS logins at once (unknown usernames,
# and a KNOWN_SHARE for a real account with a wrong password), each from its own address,
# against a fresh server per backend; the server's resident memory before, at its peak, just
# after and 5 s after. Appends the machine, date, command and every run to
# ops/bench/RESULTS.md (RESULTS=/dev/null to only print).
#
# Knobs: LOGINS=500 KNOWN_SHARE=0.1 RUNS=3 BACKENDS="sqlite postgres" PROFILE=debug|release
#   PG_URL=postgres://postgres@127.0.0.1:5432 NOTE="free text for the heading"
# The debug build is the default: memory, not speed, is measured, and argon2 is built
# optimised in the debug profile too (Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."

LOGINS=${LOGINS:-500}
KNOWN_SHARE=${KNOWN_SHARE:-0.1}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite postgres}
PROFILE=${PROFILE:-debug}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$PWD/ops/bench/out/login-$stamp"
mkdir -p "$out/bin"
flag=""; [[ "$PROFILE" == release ]] && flag="--release"
cargo build $flag --bin hotline --example bench_login
target_dir=${CARGO_TARGET_DIR:-target}
cp "$target_dir/$PROFILE/hotline" "$out/bin/hotline"
cp "$target_dir/$PROFILE/examples/bench_login" "$out/bin/bench_login"
server_bin="$out/bin/hotline"
src="$PWD"
DB_PREFIX=bench_login
# Lockout limits above the storm, the client's address from x-forwarded-for: every login is
# checked (or waits its turn), none is refused for a lockout.
export HOTLINE_CLIENT_IP_HEADER=x-forwarded-for HOTLINE_LOGIN_MAX_FAILURES=100000 \
  HOTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS=100000 RUST_LOG=warn
source ops/bench/lib.sh
trap cleanup EXIT

rows=()
for backend in $BACKENDS; do
  for run in $(seq 1 "$RUNS"); do
    start_server "$backend" "$run"
    line=$("$out/bin/bench_login" --base-url "http://$addr" --server-pid "$server_pid" --logins "$LOGINS" \
      --known-share "$KNOWN_SHARE" | tee "$out/$backend-$run.log" | grep '^RESULT')
    cat "$out/$backend-$run.log"
    rows+=("$backend $run ${line#RESULT }")
    stop_server
  done
done

# Before the results file is opened for appending (which makes the tree differ).
code="$(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted changes')"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M') UTC — login storm, $LOGINS logins at once, $RUNS runs per backend${NOTE:+ — $NOTE}"
  echo
  echo "- Machine: \`nproc\` = $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(free -g | awk '/Mem:/ {print "total " $2 " GiB, available " $7 " GiB"}'); Linux $(uname -r)"
  echo "- Code: commit $code, $PROFILE build"
  echo "- Command: \`LOGINS=$LOGINS KNOWN_SHARE=$KNOWN_SHARE RUNS=$RUNS BACKENDS=\"$BACKENDS\" PROFILE=$PROFILE ops/bench/run-login.sh\`; per run, on a fresh database:"
  echo "  \`HOTLINE_CLIENT_IP_HEADER=x-forwarded-for HOTLINE_LOGIN_MAX_FAILURES=100000 HOTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS=100000 hotline serve --demo\` then"
  echo "  \`bench_login --base-url … --server-pid PID --logins $LOGINS --known-share $KNOWN_SHARE\`"
  echo "- Target from issue 15: peak RSS < 200 MB (before the fix: 128 parallel logins took the server from 91 MB to 1.77 GB, kept afterwards)."
  echo
  echo "| backend | run | RSS before MiB | peak MiB | just after MiB | 5 s later MiB | storm s | answers |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
  for row in "${rows[@]}"; do
    set -- $row
    backend=$1 run=$2; shift 2
    kv="$*"
    f() { tr ' ' '\n' <<<"$kv" | sed -n "s/^$1=//p" | head -1; }
    answers=$(tr ' ' '\n' <<<"$kv" | grep '^s[0-9]' | sed 's/^s//' | paste -sd ' ' -)
    echo "| $backend | $run | $(f rss_before_mib) | $(f rss_peak_mib) | $(f rss_after_mib) | $(f rss_later_mib) | $(f storm_s) | $answers |"
  done
} >>"$RESULTS"
echo "appended to $RESULTS"
