-- The audit trail: append-only events, newest found by id. Ids begin with
-- their time (a ULID), so retention and time ranges use the primary key;
-- the other indexes serve the filters that pick few rows (an account, an
-- end user); a provider or an action filter walks the ids newest first.
-- Each index is paid on every tool call.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    request_id TEXT,
    connected_account_id TEXT,
    connection_id TEXT,
    identifier TEXT,
    provider TEXT,
    tool TEXT,
    outcome TEXT,
    upstream_status BIGINT,
    duration_ms BIGINT,
    reason TEXT
);
CREATE INDEX audit_events_account ON audit_events (connected_account_id, id);
CREATE INDEX audit_events_identifier ON audit_events (identifier, id);

-- Webhook endpoints. `events` is a JSON list; `event_match` the same names
-- as `,a,b,` so SQL can match one with LIKE. The signing secret is sealed.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    event_match TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The outbox: one row per event and endpoint, written in the same
-- transaction as the change it tells of. A replica claims a due row with a
-- lease (so exactly one delivers it), then records the attempt's result.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_attempt_at TEXT,
    last_response_status BIGINT,
    last_error TEXT,
    delivered_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
