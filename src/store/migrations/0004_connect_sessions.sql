-- Hosted connect pages. The link's token and the browser session bound to
-- it on first open are stored as SHA-256 only. A link opens once; the
-- browser that opened it keeps the page through its session cookie.

CREATE TABLE connect_sessions (
    token_hash TEXT PRIMARY KEY,
    identifier TEXT NOT NULL,
    connection_ids TEXT NOT NULL,
    redirect_url TEXT,
    created_at TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    browser_hash TEXT
);
