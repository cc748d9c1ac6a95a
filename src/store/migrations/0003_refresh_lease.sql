-- A short lease on refreshing an account's tokens: one gateway replica
-- refreshes while the others wait for its result (Unix milliseconds).
ALTER TABLE connected_accounts ADD COLUMN refresh_lease_until BIGINT;
