-- Every authorization is bound to the browser that starts it: the hash of a
-- nonce kept in that browser's cookie, set when the flow starts from the
-- connect page or when a browser claims the gateway's start link.
-- browser_required is 0 for states created before this migration.
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT;
ALTER TABLE oauth_states ADD COLUMN browser_required INTEGER NOT NULL DEFAULT 0;
