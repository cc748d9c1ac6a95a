-- An authorization started from a browser (the connect page) is bound to it:
-- the hash of a nonce kept in that browser's cookie. NULL for links an app
-- mints through the API.
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT;
