-- Pending OAuth 2.0 authorizations: one row per authorization URL handed
-- out. The state itself is never stored, only its SHA-256; the PKCE verifier
-- is sealed by the vault. A row is used once (`used_at`) and expires.

CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    redirect_url TEXT,
    code_verifier TEXT,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at TEXT
);

CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
