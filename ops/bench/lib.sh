# Shared by the run-*.sh benchmarks (sourced, not run): a server on a fresh database,
# stopping it, how busy the machine is, and the small text helpers for RESULT lines.
# Expects: out, src, server_bin, stamp, PG_URL and DB_PREFIX (the databases' name prefix).

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
      pg_db="${DB_PREFIX}_${stamp//-/_}_$run"
      psql "$PG_URL/postgres" -qAt -c "CREATE DATABASE $pg_db" >/dev/null
      url="$PG_URL/$pg_db"
      ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  # From the tree it was built from: the server reads dispatch_rules/ relative to its directory.
  (cd "$src" && DATABASE_URL="$url" HOTLINE_DEMO_TICKETS=0 exec "$server_bin" serve --demo --addr 127.0.0.1:0) >"$log" 2>&1 &
  server_pid=$!
  await_server "$log" "$server_pid" 60
}

# await_server LOG PID SECONDS: sets addr once the server at PID says where it listens (in LOG,
# within SECONDS) and answers /readyz; exits the script with the log otherwise.
await_server() {
  local log=$1 pid=$2 seconds=$3
  addr=""
  for _ in $(seq 1 $((seconds * 10))); do
    addr=$(sed -n 's|^hotline listening on http://||p' "$log" | head -1)
    [[ -n "$addr" ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "server exited during start-up:" >&2; cat "$log" >&2; exit 2; }
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start within $seconds s" >&2; cat "$log" >&2; exit 2; }
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

field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }
