#!/usr/bin/env bash
# Checks docs/openapi.json against a running gateway with schemathesis.
#
# Run from the repository root with SWITCHBOARD_BIN set to a gateway binary;
# `pip install schemathesis` must have been done (tested with 4.32). It starts
# the demo notes provider (a small stand-in, below) and the gateway with the
# demo spec on free ports, seeds one connection and one active account, and
# runs schemathesis over the JSON routes: no server errors, and every answer's
# status, content type, headers and body as the document says. Schemathesis
# reads the document from the gateway's GET /openapi.json when that route
# answers, else from docs/openapi.json. Routes left out: /mcp* (JSON-RPC),
# /connect/* and /v1/oauth/callback (HTML), /metrics (text), /v1/proxy/*
# (the provider's own answers, passed through; new) and /openapi.json while
# the gateway does not serve it.
#
# Environment: SWITCHBOARD_BIN (required); SCHEMATHESIS_MAX_EXAMPLES
# (default 25) and SCHEMATHESIS_SEED (default 20261126). Arguments are passed
# on to `schemathesis run` (for example `--report har --report-dir DIR`).
set -euo pipefail

: "${SWITCHBOARD_BIN:?set SWITCHBOARD_BIN to the gateway binary}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
SEED="${SCHEMATHESIS_SEED:-20261126}"
ROOT="$(pwd)"
DOC="$ROOT/docs/openapi.json"
DEMO_SPEC="$ROOT/examples/demo/notes.yaml"
[[ -x "$SWITCHBOARD_BIN" ]] || { echo "SWITCHBOARD_BIN is not an executable: $SWITCHBOARD_BIN" >&2; exit 2; }
[[ -f "$DOC" && -f "$DEMO_SPEC" ]] || { echo "run this from the repository root" >&2; exit 2; }
command -v schemathesis >/dev/null || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 2; }

WORK="$(mktemp -d)"
GATEWAY_PID=""
MOCK_PID=""
cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  for pid in $GATEWAY_PID $MOCK_PID; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $status -ne 0 && -f "$WORK/gateway.log" ]]; then
    echo "--- last lines of the gateway's log ---" >&2
    tail -n 40 "$WORK/gateway.log" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The demo notes API (what examples/mock_provider.rs serves), so that tool
# executions succeed instead of failing with upstream_unavailable.
cat > "$WORK/notes_provider.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOTES = {}

class Notes(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.headers.get("X-Api-Key") == "demo-key":
            return True
        self.reply(401, {"error": {"code": "unauthorized", "message": "missing or wrong X-Api-Key"}})
        return False

    def do_GET(self):
        if not self.authorized():
            return
        path = self.path.split("?")[0]
        if path == "/v1/notes":
            return self.reply(200, {"notes": list(NOTES.values())})
        note = NOTES.get(path.removeprefix("/v1/notes/"))
        if path.startswith("/v1/notes/") and note:
            return self.reply(200, note)
        self.reply(404, {"error": {"code": "not_found", "message": "no such note"}})

    def do_POST(self):
        if not self.authorized():
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except ValueError:
            body = None
        if self.path.split("?")[0] != "/v1/notes" or not isinstance(body, dict) or not isinstance(body.get("title"), str):
            return self.reply(400, {"error": {"code": "invalid", "message": "title is required"}})
        note = {"id": len(NOTES) + 1, "title": body["title"], "body": body.get("body")}
        NOTES[str(note["id"])] = note
        self.reply(201, note)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Notes).serve_forever()
PY

MOCK_PORT="$(free_port)"
python3 "$WORK/notes_provider.py" "$MOCK_PORT" &
MOCK_PID=$!

# The demo spec, pointed at that provider.
mkdir -p "$WORK/specs"
# The gateway refuses a data directory others can read.
mkdir -m 700 "$WORK/data"
sed "s#^base_url: .*#base_url: http://127.0.0.1:$MOCK_PORT/v1#" "$DEMO_SPEC" > "$WORK/specs/notes.yaml"

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
API_KEY="sb-openapi-$RANDOM$RANDOM"
SWITCHBOARD_LISTEN="127.0.0.1:$PORT" \
SWITCHBOARD_PUBLIC_URL="$BASE" \
SWITCHBOARD_DATA_DIR="$WORK/data" \
SWITCHBOARD_DATABASE_URL="sqlite://$WORK/data/sb.db" \
SWITCHBOARD_API_KEYS="$API_KEY" \
SWITCHBOARD_SPECS_DIR="$WORK/specs" \
  "$SWITCHBOARD_BIN" serve > "$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!

ready=""
for _ in $(seq 1 300); do
  if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$GATEWAY_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$ready" ]] || { echo "the gateway did not become ready" >&2; exit 1; }

# Seed data, so that generated requests also reach existing resources: a
# connection to the demo provider and an active account on it.
api() {
  curl -fsS -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" "$@"
}
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
CONNECTION_ID="$(api "$BASE/v1/connections" -d '{"provider": "notes"}' | json_field id)"
ACCOUNT_ID="$(api "$BASE/v1/connected-accounts" \
  -d "{\"connection_id\": \"$CONNECTION_ID\", \"identifier\": \"sb-openapi-user\"}" | json_field id)"
api "$BASE/v1/connected-accounts/$ACCOUNT_ID/credentials" -d '{"api_key": "demo-key"}' >/dev/null
# And a few to delete.
DOOMED_CONNECTIONS=()
DOOMED_ACCOUNTS=()
for n in 1 2 3; do
  doomed="$(api "$BASE/v1/connections" -d '{"provider": "notes"}' | json_field id)"
  DOOMED_CONNECTIONS+=("\"$doomed\"")
  account="$(api "$BASE/v1/connected-accounts" \
    -d "{\"connection_id\": \"$doomed\", \"identifier\": \"sb-openapi-doomed-$n\"}" | json_field id)"
  DOOMED_ACCOUNTS+=("\"$account\"")
done

# Where the document comes from.
SCHEMA="$DOC"
EXCLUDE='^/(mcp|connect/|metrics|v1/oauth/callback|v1/proxy/)'
if curl -fsS "$BASE/openapi.json" -o "$WORK/served.json" 2>/dev/null \
  && python3 -c 'import json, sys; assert json.load(open(sys.argv[1])).get("openapi")' "$WORK/served.json" 2>/dev/null; then
  SCHEMA="$BASE/openapi.json"
  echo "document: $SCHEMA (served by the gateway)"
else
  EXCLUDE='^/(mcp|connect/|metrics|openapi\.json|v1/oauth/callback|v1/proxy/)'
  echo "document: docs/openapi.json (the gateway does not serve /openapi.json)"
fi

# Realistic values, mixed with generated ones. Tools that answer a provider
# error for generated input (get_note of a missing note: provider_error 502)
# are left out, so that a 5xx means a gateway fault.
cat > "$WORK/schemathesis.toml" <<TOML
# No .schemathesis/ state left in the working tree.
[cache]
enabled = false

[dictionaries.connection_ids]
values = ["$CONNECTION_ID"]
[dictionaries.account_ids]
values = ["$ACCOUNT_ID"]
[dictionaries.doomed_connection_ids]
values = [$(IFS=,; echo "${DOOMED_CONNECTIONS[*]}")]
[dictionaries.doomed_account_ids]
values = [$(IFS=,; echo "${DOOMED_ACCOUNTS[*]}")]
[dictionaries.api_keys]
values = ["demo-key"]
[dictionaries.identifiers]
values = ["sb-openapi-user"]
[dictionaries.providers]
values = ["notes"]
[dictionaries.tools]
values = ["list_notes", "notes.list_notes", "notes__list_notes", "create_note"]
[dictionaries.tool_ids]
values = ["notes.list_notes", "notes__create_note"]

# Deleting takes no ids seen in other answers, so the seed stays in place
# (links of the stateful phase still delete what that phase created).
[[operations]]
include-operation-id = ["deleteConnection", "deleteConnectedAccount", "deleteMcpLink"]
phases.examples.extra-data-sources.responses = false
phases.coverage.extra-data-sources.responses = false
phases.fuzzing.extra-data-sources.responses = false

[[operations]]
include-operation-id = "deleteConnection"
parameters = { "path.id" = { dictionary = "doomed_connection_ids", probability = 0.5 } }

[[operations]]
include-operation-id = "deleteConnectedAccount"
parameters = { "path.id" = { dictionary = "doomed_account_ids", probability = 0.5 } }

[[operations]]
include-operation-id = ["createConnection", "listConnections", "listConnectedAccounts", "listTools"]
parameters = { "provider" = { dictionary = "providers", probability = 0.5 } }

[[operations]]
include-operation-id = ["getConnection", "updateConnection"]
parameters = { "path.id" = { dictionary = "connection_ids", probability = 0.5 } }

[[operations]]
include-operation-id = ["getConnectedAccount", "updateConnectedAccount", "createAuthUrl"]
parameters = { "path.id" = { dictionary = "account_ids", probability = 0.5 } }

[[operations]]
include-operation-id = "setConnectedAccountCredentials"
parameters = { "path.id" = { dictionary = "account_ids", probability = 0.5 }, "body.api_key" = { dictionary = "api_keys", probability = 0.8 } }

[[operations]]
include-operation-id = "getProvider"
parameters = { "path.provider" = { dictionary = "providers", probability = 0.5 } }

[[operations]]
include-operation-id = "createConnectedAccount"
parameters = { "body.connection_id" = { dictionary = "connection_ids", probability = 0.7 } }

[[operations]]
include-operation-id = "createConnectSession"
parameters = { "body.connection_ids[*]" = { dictionary = "connection_ids", probability = 0.5 } }

[[operations]]
include-operation-id = "executeTool"
parameters = { "body.connected_account_id" = { dictionary = "account_ids", probability = 0.6 }, "body.identifier" = { dictionary = "identifiers", probability = 0.6 }, "body.provider" = { dictionary = "providers", probability = 0.6 }, "body.tool" = { dictionary = "tools", probability = 0.8 } }

[[operations]]
include-operation-id = "createMcpLink"
parameters = { "body.providers[*]" = { dictionary = "providers", probability = 0.7 }, "body.tools[*]" = { dictionary = "tool_ids", probability = 0.7 } }
TOML

echo "+ schemathesis run $SCHEMA --url $BASE (max $MAX_EXAMPLES examples per operation, seed $SEED)"
timeout 150 schemathesis --config-file "$WORK/schemathesis.toml" run "$SCHEMA" \
  --url "$BASE" \
  --header "Authorization: Bearer $API_KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --exclude-path-regex "$EXCLUDE" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --generation-database none \
  --workers 1 \
  --request-timeout 10 \
  --no-color \
  "$@"
