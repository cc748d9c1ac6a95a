#!/usr/bin/env bash
# Load harness: what a tool call costs next to a reverse proxy, in one run.
#
# Starts the demo notes provider (examples/mock_provider.rs), nginx from
# Debian's packages as the reference reverse proxy in front of it, and a
# gateway in front of it too, all on loopback. Then, for each store (SQLite,
# and PostgreSQL when it answers) and each connection count, wrk measures:
#   direct   GET /v1/notes/1 on the provider
#   nginx    the same through nginx's proxy_pass (keep-alive upstream)
#   execute  POST /v1/tools/execute notes.get_note (one GET, mapped output)
#   proxy    GET /v1/proxy/{account}/notes/1 (the raw proxy)
# and prints req/s, p50 and p99 latency, each against nginx, the CPU time the
# run's own hop spent per request (the provider for direct, nginx's processes,
# the gateway: the figure other load on the machine disturbs least) and its
# system calls per request (with perf, where it may read tracepoints), and the
# latency the gateway adds over calling the provider directly. The gateway runs with
# its default configuration (access log at `info`).
#
# Needs wrk and nginx (apt-get install wrk nginx-light). Bounded: each wrk run
# lasts DURATION seconds (default 10) on loopback only.
#   DURATION=10 CONNECTIONS="16 64" STORES="sqlite postgres" benches/load.sh
#   POSTGRES_URL=postgres://postgres@127.0.0.1:5432  (a server; the harness
#   creates and drops its own database there)
#   GATEWAY_CONFIG='account_cache_ttl_ms: 0'  (more lines of the gateway's
#   config, to compare settings)
#   GATEWAY_BIN=/path/to/switchboard  (another build of the gateway, to compare
#   two builds with the same harness; default: this checkout's release build)
#   INSTRUCTIONS=2000  (instead of wrk: the gateway runs under valgrind's
#   callgrind and the harness counts the instructions it executes for that
#   many execute calls and as many proxied requests, one keep-alive client:
#   a count that other load on the machine does not change, to compare two
#   builds or settings exactly)
#   PROFILE=/tmp/profile  (perf samples the gateway during the execute run at
#   the last connection count: /tmp/profile.sqlite.txt, … by symbol)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16 64}"
STORES="${STORES:-sqlite postgres}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
MOCK_PORT="${MOCK_PORT:-19090}"
NGINX_PORT="${NGINX_PORT:-19091}"
GW_PORT="${GW_PORT:-18080}"
KEY="sb_load_test_key"
ACCOUNTS="${ACCOUNTS:-10000}"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin"
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install wrk nginx-light)" >&2; exit 1; }
done
cargo build --release --quiet --bin switchboard --example mock_provider
TARGET="${CARGO_TARGET_DIR:-target}/release"
GATEWAY_BIN="${GATEWAY_BIN:-$TARGET/switchboard}"
WORK="$(mktemp -d)"
GW_PID=""
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the provider and nginx in front of it ---------------------------------
PORT=$MOCK_PORT "$TARGET/examples/mock_provider" >/dev/null &
MOCK_PID=$!
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx/access.log;
  upstream notes { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://notes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/error.log"

# --- wrk, summarised by its own Lua hook: req/s p50_us p99_us non2xx ----------
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.0f %.0f %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA
# CPU time (clock ticks, user + system, all threads) of the processes given.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
# The hop each run measures: its processes' CPU time per request is the
# figure least disturbed by whatever else the machine runs.
hop_pids() { # run
  case "$1" in
    direct) echo "$MOCK_PID" ;;
    nginx) echo "$(cat "$WORK/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')" ;;
    *) echo "$GW_PID" ;;
  esac
}
measure() { # name conns url [lua-with-request]
  local script="$WORK/report.lua" pids before
  if [ -n "${4:-}" ]; then cat "$4" "$WORK/report.lua" > "$WORK/run.lua"; script="$WORK/run.lua"; fi
  pids=$(hop_pids "$1")
  # shellcheck disable=SC2086
  before=$(cpu_ticks $pids)
  # System calls the hop makes meanwhile (perf's syscall tracepoint; none
  # counted where perf may not read it).
  rm -f "$WORK/syscalls.csv"
  perf stat -x, -e raw_syscalls:sys_enter -o "$WORK/syscalls.csv" -p "$(echo $pids | tr ' ' ',')" \
    -- sleep "$DURATION" >/dev/null 2>&1 &
  local perf_pid=$!
  wrk -t1 -c"$2" -d"${DURATION}s" -s "$script" -H "X-Api-Key: demo-key" "$3" > "$WORK/wrk.out"
  wait "$perf_pid" 2>/dev/null || true
  local syscalls
  syscalls=$(awk -F, '/raw_syscalls/ {print $1 + 0}' "$WORK/syscalls.csv" 2>/dev/null)
  # shellcheck disable=SC2086
  awk -v n="$1" -v c="$2" -v cpu="$(( ($(cpu_ticks $pids) - before) * TICK_US ))" -v d="$DURATION" -v sc="${syscalls:-0}" \
    '/^RESULT/ {print n, c, $2, $3, $4, $5, ($2 > 0 ? cpu / ($2 * d) : 0), ($2 > 0 ? sc / ($2 * d) : 0)}' "$WORK/wrk.out"
}

# --- one gateway per store --------------------------------------------------
start_gateway() { # database-url
  mkdir -p -m 700 "$WORK/data"
  mkdir -p "$WORK/specs"
  # Every shipped provider is loaded too, as in a real deployment.
  cp examples/demo/notes.yaml provider-specs/*.yaml provider-specs/*.svg "$WORK/specs/"
  cat > "$WORK/switchboard.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
specs_dir: $WORK/specs
data_dir: $WORK/data
database_url: $1
api_keys: [$KEY]
provider_overrides:
  notes: {base_url: "http://127.0.0.1:$MOCK_PORT/v1"}
${GATEWAY_CONFIG:-}
YAML
  local wrap=()
  [ -n "${INSTRUCTIONS:-}" ] && wrap=(valgrind -q --tool=callgrind "--callgrind-out-file=$WORK/callgrind.out")
  "${wrap[@]}" "$GATEWAY_BIN" serve --config "$WORK/switchboard.yaml" >/dev/null 2>"$WORK/gateway.log" &
  GW_PID=$!
  for _ in $(seq 1 600); do curl -sf "127.0.0.1:$GW_PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "the gateway did not start:" >&2; cat "$WORK/gateway.log" >&2; exit 1
}
api() { curl -sf "127.0.0.1:$GW_PORT$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# Many accounts in the store (a realistic index), one of them used.
fill_accounts() { # connection-id
  python3 - "$1" "$ACCOUNTS" <<'PY' > "$WORK/accounts.sql"
import sys
conn, n = sys.argv[1], int(sys.argv[2])
print("INSERT INTO connected_accounts (id, connection_id, provider, identifier, identifier_type, label, status, status_changed_at, scopes, metadata, config, created_at, updated_at) VALUES")
print(",\n".join(f"('ca_fill{i:06d}', '{conn}', 'notes', 'user-{i}', 'user_id', 'default', 'pending', '2026-01-01T00:00:00Z', '[]', '{{}}', '{{}}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')" for i in range(n)) + ";")
PY
}

# Instructions the gateway executes per request: after a warm-up, the
# counters are zeroed, INSTRUCTIONS requests are made on one keep-alive
# connection, and callgrind's totals are read back.
count_instructions() { # name method path body
  cat > "$WORK/client.py" <<'PY'
import http.client, sys
port, key, method, path, body, n = sys.argv[1:6] + [int(sys.argv[6])]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
for _ in range(n):
    c.request(method, path, body=body or None, headers=headers)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  python3 "$WORK/client.py" "$GW_PORT" "$KEY" "$2" "$3" "$4" 50
  callgrind_control -z "$GW_PID" >/dev/null 2>&1
  python3 "$WORK/client.py" "$GW_PORT" "$KEY" "$2" "$3" "$4" "$INSTRUCTIONS"
  # Background work a call causes (its audit event, its log line) is
  # done within 100 ms: wait for it before the count is read.
  sleep 1
  callgrind_control -d "$GW_PID" >/dev/null 2>&1
  awk -v s="$store" -v n="$1" -v r="$INSTRUCTIONS" '/^(summary|totals):/ {print s, "instructions", n, $2 / r; exit}' \
    "$(ls -t "$WORK"/callgrind.out* | head -n 1)"
  # With PROFILE set, the counts by function are kept (callgrind_annotate).
  if [ -n "${PROFILE:-}" ]; then cp "$(ls -t "$WORK"/callgrind.out* | head -n 1)" "$PROFILE.$store.$1.callgrind"; fi
  rm -f "$WORK"/callgrind.out.*
}

run_store() { # store database-url
  local store="$1" url="$2"
  start_gateway "$url"
  local conn acc
  conn=$(api /v1/connections '{"provider": "notes"}' | id_of)
  fill_accounts "$conn"
  if [ "$store" = sqlite ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.commit()" \
      "$WORK/data/switchboard.db" "$WORK/accounts.sql"
  else
    psql -q "$url" -f "$WORK/accounts.sql"
  fi
  acc=$(api /v1/connected-accounts "{\"connection_id\": \"$conn\", \"identifier\": \"load\"}" | id_of)
  api "/v1/connected-accounts/$acc/credentials" '{"api_key": "demo-key"}' >/dev/null
  api /v1/tools/execute "{\"connected_account_id\": \"$acc\", \"tool\": \"create_note\", \"parameters\": {\"title\": \"load\"}}" >/dev/null
  cat > "$WORK/execute.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"connected_account_id": "$acc", "tool": "get_note", "parameters": {"id": 1}}'
LUA
  cat > "$WORK/proxy.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
  if [ -n "${INSTRUCTIONS:-}" ]; then
    count_instructions execute POST /v1/tools/execute \
      "{\"connected_account_id\": \"$acc\", \"tool\": \"get_note\", \"parameters\": {\"id\": 1}}"
    count_instructions proxy GET "/v1/proxy/$acc/notes/1" ""
    kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
    rm -rf "$WORK/data"
    return
  fi
  for c in $CONNECTIONS; do
    measure direct "$c" "http://127.0.0.1:$MOCK_PORT/v1/notes/1"
    measure nginx "$c" "http://127.0.0.1:$NGINX_PORT/v1/notes/1"
    if [ -n "${PROFILE:-}" ] && [ "$c" = "${CONNECTIONS##* }" ]; then
      # Where the gateway's time goes during this run (perf's cpu-clock).
      perf record -q -e cpu-clock -F 999 -g -o "$WORK/perf.data" -p "$GW_PID" -- sleep "$DURATION" 2>/dev/null &
      PERF_PID=$!
    fi
    measure execute "$c" "http://127.0.0.1:$GW_PORT/v1/tools/execute" "$WORK/execute.lua"
    if [ -n "${PERF_PID:-}" ]; then
      wait "$PERF_PID" || true; PERF_PID=""
      perf report -i "$WORK/perf.data" --no-children -g none --sort dso,symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' | head -n 80 > "$PROFILE.$store.txt" || true
      perf report -i "$WORK/perf.data" --no-children -g none --sort dso --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' > "$PROFILE.$store.dso.txt" || true
      # Inclusive time of the gateway's own functions (needs frame pointers:
      # RUSTFLAGS="-C force-frame-pointers=yes").
      perf report -i "$WORK/perf.data" --children -g none --sort symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9].*switchboard::' | sed -E 's/[[:space:]]+$//' | head -n 60 > "$PROFILE.$store.inclusive.txt" || true
      perf report -i "$WORK/perf.data" --children -g none --sort symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' | head -n 150 > "$PROFILE.$store.children.txt" || true
    fi
    measure proxy "$c" "http://127.0.0.1:$GW_PORT/v1/proxy/$acc/notes/1" "$WORK/proxy.lua"
  done | sed "s/^/$store /"
  # The audit trail kept up (or not) with every call.
  curl -sf "127.0.0.1:$GW_PORT/metrics" | awk -v s="$store" '/^switchboard_audit_events_total/ {print s, "audit", $1, $2}' >&2 || true
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$GW_PID/status")
  echo "$store rss_peak_kib $rss"
  kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
  rm -rf "$WORK/data"
}

results="$WORK/results.txt"
for store in $STORES; do
  case "$store" in
    sqlite) run_store sqlite "sqlite://$WORK/data/switchboard.db" ;;
    postgres)
      if ! psql -q "$POSTGRES_URL/postgres" -c 'select 1' >/dev/null 2>&1; then
        echo "postgres: $POSTGRES_URL does not answer; skipped" >&2; continue
      fi
      psql -q "$POSTGRES_URL/postgres" -c 'DROP DATABASE IF EXISTS switchboard_load' -c 'CREATE DATABASE switchboard_load' >/dev/null
      run_store postgres "$POSTGRES_URL/switchboard_load"
      psql -q "$POSTGRES_URL/postgres" -c 'DROP DATABASE IF EXISTS switchboard_load' >/dev/null ;;
  esac
done > "$results"

# --- the table --------------------------------------------------------------
python3 - "$results" "$ACCOUNTS" <<'PY'
import sys
rows, rss = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[1] == "rss_peak_kib":
        rss[f[0]] = int(f[2]); continue
    if f[1] == "instructions":
        print(f"{f[0]}: {f[2]} costs the gateway {float(f[3]):,.0f} instructions per request"); continue
    store, name, conns, rps, p50, p99, errors, cpu, sc = f[0], f[1], int(f[2]), float(f[3]), float(f[4]), float(f[5]), int(f[6]), float(f[7]), float(f[8])
    rows[(store, conns, name)] = (rps, p50, p99, errors, cpu, sc)
# cpu µs/req and syscalls/req: CPU time and system calls of the run's own
# hop (the provider for direct, nginx's processes, the gateway) per request
# answered.
print(f"{'store':9} {'conns':>5} {'run':8} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'× nginx':>8} {'cpu µs/req':>10} {'syscalls/req':>12} {'errors':>6}")
for (store, conns, name), (rps, p50, p99, errors, cpu, sc) in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], ["direct","nginx","execute","proxy"].index(kv[0][2]))):
    ref = rows.get((store, conns, "nginx"))
    ratio = f"{rps / ref[0]:.2f}" if ref else "-"
    calls = f"{sc:.1f}" if sc else "-"
    print(f"{store:9} {conns:5} {name:8} {rps:9.0f} {p50/1000:7.2f} {p99/1000:7.2f} {ratio:>8} {cpu:10.1f} {calls:>12} {errors:6}")
print()
for store in sorted({k[0] for k in rows}):
    for conns in sorted({k[1] for k in rows if k[0] == store}):
        d = rows.get((store, conns, "direct"))
        for name in ("execute", "proxy"):
            g = rows.get((store, conns, name))
            if d and g:
                print(f"{store} {conns} conns: {name} adds p50 {(g[1]-d[1])/1000:.2f} ms, p99 {(g[2]-d[2])/1000:.2f} ms over direct")
    if store in rss:
        print(f"{store}: gateway peak RSS {rss[store]/1024:.1f} MiB with {sys.argv[2]} accounts in the store")
PY
