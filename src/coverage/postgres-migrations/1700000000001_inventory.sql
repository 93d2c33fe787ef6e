-- Up Migration
-- The endpoint inventory: one row per endpoint identity, one per (endpoint, product key) with
-- the version it last reported, and the first time each recent version was seen there.
-- Times are timestamptz; keys are the same strings the lowdb store uses ("agent:<uuid>").
CREATE TABLE inventory_endpoints (
  key text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('agent', 'freshclam-uuid', 'address')),
  id text NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL
);
-- The endpoints page lists most recently seen first; coverage filters on staleness.
CREATE INDEX inventory_endpoints_last_seen ON inventory_endpoints (last_seen DESC, key);

CREATE TABLE inventory_products (
  endpoint_key text NOT NULL REFERENCES inventory_endpoints (key) ON DELETE CASCADE,
  product_key text NOT NULL,
  product text NOT NULL,
  version text NOT NULL,
  platform text,
  locale text,
  channel text,
  source text NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (endpoint_key, product_key)
);
-- Coverage reads one product at a time, with the version it ranks.
CREATE INDEX inventory_products_product_version ON inventory_products (product, version);

CREATE TABLE inventory_versions (
  endpoint_key text NOT NULL,
  product_key text NOT NULL,
  product text NOT NULL,
  version text NOT NULL,
  first_seen timestamptz NOT NULL,
  PRIMARY KEY (endpoint_key, product_key, version),
  FOREIGN KEY (endpoint_key, product_key) REFERENCES inventory_products (endpoint_key, product_key) ON DELETE CASCADE
);
-- Coverage ranks every version a product's history mentions.
CREATE INDEX inventory_versions_product_version ON inventory_versions (product, version);

-- Down Migration
DROP TABLE inventory_versions;
DROP TABLE inventory_products;
DROP TABLE inventory_endpoints;
