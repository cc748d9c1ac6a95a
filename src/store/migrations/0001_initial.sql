-- Portable SQL: the same statements run on SQLite and PostgreSQL.
-- Timestamps are RFC 3339 text in UTC; JSON values are text; secrets are
-- sealed by the vault before they reach this schema (`v1.<key id>.<data>`).

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    auth_type TEXT NOT NULL,
    scopes TEXT NOT NULL,
    config TEXT NOT NULL,
    managed BIGINT NOT NULL DEFAULT 0,
    secret TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX connections_by_provider ON connections (provider, id);

CREATE TABLE connected_accounts (
    id TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id),
    provider TEXT NOT NULL,
    identifier TEXT NOT NULL,
    identifier_type TEXT NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    status_changed_at TEXT NOT NULL,
    scopes TEXT NOT NULL,
    metadata TEXT NOT NULL,
    config TEXT NOT NULL,
    credentials TEXT,
    credentials_expires_at BIGINT,
    last_used_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (connection_id, identifier, label)
);

CREATE INDEX connected_accounts_by_identifier ON connected_accounts (identifier, provider, id);
CREATE INDEX connected_accounts_by_connection ON connected_accounts (connection_id, id);
