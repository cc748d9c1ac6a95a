#!/usr/bin/env bash
# Load harness: the gateway's overhead over calling a provider directly.
#
# Starts the demo notes provider (examples/mock_provider.rs) and a gateway in
# front of it, both on loopback, then runs wrk against the provider directly
# (GET /v1/notes/1) and through the gateway (POST /v1/tools/execute with
# notes.get_note), in one run, and prints both. Needs wrk (apt-get install wrk).
# DATABASE_URL=postgres://… runs the gateway on PostgreSQL (an empty database).
# Bounded: each wrk run lasts DURATION seconds (default 10) on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
MOCK_PORT="${MOCK_PORT:-19090}"
GW_PORT="${GW_PORT:-18080}"
KEY="sb_load_test_key"

cargo build --release --quiet --bin switchboard --example mock_provider
TARGET="${CARGO_TARGET_DIR:-target}/release"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

mkdir -p "$WORK/specs"
cp examples/demo/notes.yaml "$WORK/specs/"
cat > "$WORK/switchboard.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
specs_dir: $WORK/specs
data_dir: $WORK/data
database_url: ${DATABASE_URL:-sqlite://$WORK/data/switchboard.db}
api_keys: [$KEY]
provider_overrides:
  notes: {base_url: "http://127.0.0.1:$MOCK_PORT/v1"}
YAML

PORT=$MOCK_PORT "$TARGET/examples/mock_provider" >/dev/null &
RUST_LOG="${RUST_LOG:-info}" "$TARGET/switchboard" serve --config "$WORK/switchboard.yaml" >/dev/null 2>"$WORK/gateway.log" &
for _ in $(seq 1 50); do curl -sf "127.0.0.1:$GW_PORT/readyz" >/dev/null && break; sleep 0.2; done

api() { curl -sf "127.0.0.1:$GW_PORT$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
CONN=$(api /v1/connections '{"provider": "notes"}' | id_of)
ACC=$(api /v1/connected-accounts "{\"connection_id\": \"$CONN\", \"identifier\": \"load\"}" | id_of)
api "/v1/connected-accounts/$ACC/credentials" '{"api_key": "demo-key"}' >/dev/null
api /v1/tools/execute "{\"connected_account_id\": \"$ACC\", \"tool\": \"create_note\", \"parameters\": {\"title\": \"load\"}}" >/dev/null

cat > "$WORK/execute.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"connected_account_id": "$ACC", "tool": "get_note", "parameters": {"id": 1}}'
LUA

echo "== direct: GET /v1/notes/1 on the provider"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "X-Api-Key: demo-key" "http://127.0.0.1:$MOCK_PORT/v1/notes/1" | grep -E "Latency|50%|99%|Requests/sec|Non-2xx"
echo "== through the gateway: POST /v1/tools/execute notes.get_note"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/execute.lua" "http://127.0.0.1:$GW_PORT/v1/tools/execute" | grep -E "Latency|50%|99%|Requests/sec|Non-2xx"
