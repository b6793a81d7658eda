#!/usr/bin/env bash
# SMS drain benchmark: `ops/bench/run-sms.sh` — N requests logged at once (each from its own
# mobile) on a fresh server per backend, their N receipts drained through a real Kannel
# (bearerbox + smsbox + fakesmsc on loopback); none may be lost or arrive twice. Appends the
# machine, date, command and each run to ops/bench/RESULTS.md (RESULTS=/dev/null to only print).
#
# Knobs: N=10000 BACKENDS="sqlite postgres" PROFILE=release|debug NOTE="free text"
# Needs kannel and kannel-extras (installed when missing). Speed is recorded, not judged.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-10000}
BACKENDS=${BACKENDS:-sqlite postgres}
PROFILE=${PROFILE:-release}
RESULTS=${RESULTS:-ops/bench/RESULTS.md}
NOTE=${NOTE:-}
if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
flag=""; [[ "$PROFILE" == release ]] && flag="--release"
cargo test $flag --test bench_sms --no-run
rows=()
for backend in $BACKENDS; do
  echo "== $backend: $N receipts"
  row=$(RUST_LOG=warn cargo test $flag --test bench_sms -- "$backend" "$N" | grep '^| ')
  echo "$row"
  rows+=("$row")
done
{
  echo
  echo "## SMS: $N receipts queued at once, drained through Kannel (issue 21)${NOTE:+ — $NOTE}"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), shared with other work;"
  echo "\`N=$N PROFILE=$PROFILE ops/bench/run-sms.sh\`, commit $(git rev-parse --short HEAD). Intake over HTTP, 64 at a time;"
  echo "\"left the server\" = Kannel's sendsms answered 202 (sent_at − created_at of each outbox row)."
  echo
  echo "| backend | receipts | intake | last receipt at the fake SMSC | drain rate | intake → left the server p50 / p95 / max | checked |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
} >> "$RESULTS"
