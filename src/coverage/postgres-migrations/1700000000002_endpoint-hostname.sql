-- Up Migration
-- The host name an agent reports, shown on the pages beside its id (null for endpoints known
-- only by address or by freshclam's UUID).
ALTER TABLE inventory_endpoints ADD COLUMN hostname text;

-- Down Migration
ALTER TABLE inventory_endpoints DROP COLUMN hostname;
