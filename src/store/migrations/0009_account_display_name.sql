-- Who a connected account is at its provider (a display name or email),
-- found after it connects where the provider's spec says how.
ALTER TABLE connected_accounts ADD COLUMN display_name TEXT;
