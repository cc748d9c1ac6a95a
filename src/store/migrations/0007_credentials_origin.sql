-- The API origin an account's credentials were issued for: they are never
-- injected into a request to another origin (a connection setting changed
-- to point the provider elsewhere cannot carry them off).
ALTER TABLE connected_accounts ADD COLUMN credentials_origin TEXT;
