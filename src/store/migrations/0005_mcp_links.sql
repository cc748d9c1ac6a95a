-- Per-user MCP server links. The link's token is stored as SHA-256 only;
-- deleting the row revokes the link. providers and tools hold JSON lists,
-- or JSON null for "every one".

CREATE TABLE mcp_links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    identifier TEXT NOT NULL,
    providers TEXT NOT NULL,
    tools TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at BIGINT
);
