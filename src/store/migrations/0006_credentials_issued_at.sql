-- When the stored credentials were issued (Unix ms): with their expiry it
-- gives their lifetime, so a refresh skew longer than half of it is capped.
ALTER TABLE connected_accounts ADD COLUMN credentials_issued_at BIGINT;
