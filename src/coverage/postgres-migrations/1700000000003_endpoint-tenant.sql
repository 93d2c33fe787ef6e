-- Up Migration
-- The tenant (municipality) an endpoint belongs to; rows from before tenants existed are the
-- implicit tenant's. Every page and count of a tenant filters on it.
ALTER TABLE inventory_endpoints ADD COLUMN tenant text NOT NULL DEFAULT 'default';
CREATE INDEX inventory_endpoints_tenant_last_seen ON inventory_endpoints (tenant, last_seen DESC, key);

-- Down Migration
DROP INDEX inventory_endpoints_tenant_last_seen;
ALTER TABLE inventory_endpoints DROP COLUMN tenant;
