-- Up Migration
-- Rings and approvals (issue 15): the decisions of each tenant's admins (approve a release for a
-- ring, decline a release, hold a product at a version), shared by every replica at once; and
-- the ring each endpoint was in at its latest report (the approval page counts per ring).
CREATE TABLE admin_release_decisions (
  tenant text NOT NULL,
  key text NOT NULL,
  decision jsonb NOT NULL,
  PRIMARY KEY (tenant, key)
);

ALTER TABLE inventory_endpoints ADD COLUMN ring text;

-- Down Migration
ALTER TABLE inventory_endpoints DROP COLUMN ring;
DROP TABLE admin_release_decisions;
