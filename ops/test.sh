#!/usr/bin/env bash
# The whole test suite, on SQLite and PostgreSQL: `ops/test.sh` (what README and .ci/run call).
#
# Builds once, then runs. Every integration test runs once per backend; PostgreSQL tests
# use a schema of their own in the `test` database on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser end-to-end tests (tests/e2e.rs) drive Debian's headless Chromium; the CJK fonts
# make the screenshots (target/e2e-screenshots/) readable.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
    || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  echo "Installing chromium, chromium-driver and fonts-noto-cjk for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk
fi

# The telephony tests (tests/telephony.rs) start a real SIP server (Kamailio, with the
# http_client module from kamailio-utils-modules) and real SIP phones (SIPp) on loopback.
if ! command -v kamailio >/dev/null 2>&1 || ! command -v sipp >/dev/null 2>&1 \
    || ! ls /usr/lib/x86_64-linux-gnu/kamailio/modules/http_client.so >/dev/null 2>&1; then
  echo "Installing kamailio, kamailio-utils-modules and sip-tester for the telephony tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio kamailio-utils-modules sip-tester
fi

pg_url="${HOTLINE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is not running; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# Schemas left by earlier runs (one per test) are dropped before this one.
psql "$pg_url" -qAt -c "SELECT 'DROP SCHEMA \"' || nspname || '\" CASCADE;' FROM pg_namespace WHERE nspname LIKE 't\_%'" \
  | psql "$pg_url" -q >/dev/null 2>&1 || true

cargo test --workspace --no-run
cargo test --workspace --no-fail-fast -- --test-threads 2

# --- Schema-driven fuzzing (issue 15) ------------------------------------------------------
# The real server on SQLite and on PostgreSQL, fuzzed from its own OpenAPI document by
# schemathesis (installed from PyPI when missing), a bounded time per backend: any 5xx or any
# answer the document does not describe fails the suite. See ops/fuzz.sh.
ops/fuzz.sh
