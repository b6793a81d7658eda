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

# The search boxes are also walked in Firefox (tests/e2e.rs, search_boxes_choose_by_keyboard_in_firefox):
# Debian's Firefox ESR, driven by geckodriver, which Debian does not package: it comes from
# crates.io (`cargo install`, into ~/.cargo/bin, where the tests look for it), built in a
# directory of its own so the project's build cache is not touched.
if ! command -v firefox-esr >/dev/null 2>&1; then
  echo "Installing firefox-esr for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr
fi
if ! command -v geckodriver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver" ]; then
  echo "Installing geckodriver from crates.io for the Firefox browser test"
  gecko_build="$(mktemp -d)"
  env -u CARGO_BUILD_BUILD_DIR CARGO_TARGET_DIR="$gecko_build" cargo install geckodriver --locked --quiet
  rm -rf "$gecko_build"
fi

# The telephony tests (tests/telephony.rs) start a real SIP server (Kamailio, with the
# http_client module from kamailio-utils-modules) and real SIP phones (SIPp) on loopback.
if ! command -v kamailio >/dev/null 2>&1 || ! command -v sipp >/dev/null 2>&1 \
    || ! ls /usr/lib/x86_64-linux-gnu/kamailio/modules/http_client.so >/dev/null 2>&1; then
  echo "Installing kamailio, kamailio-utils-modules and sip-tester for the telephony tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio kamailio-utils-modules sip-tester
fi

# The SMS tests (tests/sms.rs) start a real gateway: Kannel's bearerbox and smsbox, with the
# fake SMSC (fakesmsc, in kannel-extras) standing for the operator's network, on loopback.
if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ] || [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
  echo "Installing kannel and kannel-extras for the SMS tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras
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

# Outside servers the tests talk to (Meilisearch, moto) run on a free loopback port and stop
# when this script exits. start_on_free_port LOG HEALTH_PATH CMD…: starts CMD in the background,
# `{port}` in its arguments replaced by a port nothing answers on, and waits for
# http://127.0.0.1:PORT/HEALTH_PATH; five ports are tried. Sets started_pid and started_port;
# on failure prints LOG and exits.
started_pids=()
cleanup_dirs=()
stop_started() {
  for pid in "${started_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for dir in "${cleanup_dirs[@]}"; do rm -rf "$dir"; done
}
trap stop_started EXIT
start_on_free_port() {
  local log=$1 health=$2 port pid arg; shift 2
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    # A port something already answers on is taken; try another.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    local args=()
    for arg in "$@"; do args+=("${arg//\{port\}/$port}"); done
    "${args[@]}" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$port/$health" >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if curl -fsS "http://127.0.0.1:$port/$health" >/dev/null 2>&1; then
      started_pids+=("$pid"); started_pid=$pid; started_port=$port
      return 0
    fi
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  echo "$1 did not start:" >&2; cat "$log" >&2; exit 1
}

# ---- Meilisearch (issue 17) ---------------------------------------------------------------
# The search, duplicate, knowledge-base and reindex tests run on Meilisearch as well as on the
# embedded index. The server binary is kept beside the repository (../shared/bin/meilisearch,
# see its README); it runs here on a free loopback port with a master key, in a directory of
# its own, and stops when this script exits. Without the binary the Meilisearch variants
# print SKIPPED. The tests read HOTLINE_TEST_MEILI_URL / _KEY (not MEILI_URL: that is the
# server's own setting, which no test's child process should inherit) and each test uses an
# index of its own; tests that stop and restart Meilisearch start their own from
# HOTLINE_TEST_MEILI_BIN.
meili_bin="$(pwd)/../shared/bin/meilisearch"
if [ -x "$meili_bin" ]; then
  meili_dir="$(mktemp -d)"
  meili_key="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  cleanup_dirs+=("$meili_dir")
  start_on_free_port "$meili_dir/meilisearch.log" health \
    "$meili_bin" --db-path "$meili_dir/data.ms" --dump-dir "$meili_dir/dumps" --snapshot-dir "$meili_dir/snapshots" \
    --http-addr "127.0.0.1:{port}" --master-key "$meili_key" --no-analytics --log-level WARN
  meili_port=$started_port
  echo "Meilisearch $("$meili_bin" --version | cut -d' ' -f2) on http://127.0.0.1:$meili_port for the search tests"
  export HOTLINE_TEST_MEILI_URL="http://127.0.0.1:$meili_port" HOTLINE_TEST_MEILI_KEY="$meili_key" \
    HOTLINE_TEST_MEILI_BIN="$meili_bin"
else
  echo "Meilisearch: $meili_bin not found; the Meilisearch test variants print SKIPPED"
fi
# ---- end Meilisearch ------------------------------------------------------------------------

# ---- S3-protocol object store (issue 20) --------------------------------------------------
# The attachment tests run against a real S3-protocol server as well as the local disk: moto
# in server mode (PyPI `moto[server]`, installed when missing) on a free loopback port, in
# memory, stopped when this script exits. The tests read HOTLINE_TEST_S3_URL (each makes a
# bucket of its own); the outage test starts and stops its own moto (HOTLINE_TEST_MOTO_BIN).
if ! command -v moto_server >/dev/null 2>&1; then
  echo "Installing moto[server] from PyPI for the S3 attachment tests"
  python3 -m pip install -q 'moto[server]' || pip install -q 'moto[server]'
fi
if command -v moto_server >/dev/null 2>&1; then
  moto_log="$(mktemp)"
  cleanup_dirs+=("$moto_log")
  start_on_free_port "$moto_log" "" moto_server -H 127.0.0.1 -p "{port}"
  moto_port=$started_port
  echo "moto S3 server on http://127.0.0.1:$moto_port for the attachment tests"
  export HOTLINE_TEST_S3_URL="http://127.0.0.1:$moto_port" HOTLINE_TEST_MOTO_BIN="$(command -v moto_server)"
else
  echo "moto_server not available; the S3 attachment tests print SKIPPED"
fi
# ---- end S3 ---------------------------------------------------------------------------------
# ---- Open311 client (issue 22) --------------------------------------------------------------
# tests/open311.rs reads the façade with `georeport` (PyPI), an Open311 client others wrote. It
# pins an older xmltodict than the system may have, so it lives in a venv of its own; without it
# that test prints SKIPPED.
georeport_venv="$(pwd)/target/georeport-venv"
if ! "$georeport_venv/bin/python" -c "import georeport" >/dev/null 2>&1; then
  echo "Installing georeport (PyPI) in $georeport_venv for the Open311 client test"
  python3 -m venv "$georeport_venv" && "$georeport_venv/bin/pip" install -q georeport \
    || echo "georeport could not be installed; the Open311 client test prints SKIPPED"
fi
export HOTLINE_TEST_GEOREPORT_PYTHON="$georeport_venv/bin/python"

cargo test --workspace --no-fail-fast -- --test-threads 2

# --- Schema-driven fuzzing (issue 15) ------------------------------------------------------
# The real server on SQLite and on PostgreSQL, fuzzed from its own OpenAPI document by
# schemathesis (installed from PyPI when missing), a bounded time per backend: any 5xx or any
# answer the document does not describe fails the suite. See ops/fuzz.sh.
ops/fuzz.sh
