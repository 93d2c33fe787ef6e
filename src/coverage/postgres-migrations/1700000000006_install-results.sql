-- Up Migration
-- Deadlines and maintenance windows (issue 15): what each enrolled agent reported about the
-- installs it ran (installed or failed, exit code, a bounded message), the latest per agent and
-- product, shared by every replica. Deadlines and windows themselves are part of the approval
-- (admin_release_decisions.decision, jsonb), so they need no column of their own.
CREATE TABLE admin_install_results (
  tenant text NOT NULL,
  agent_id text NOT NULL,
  product text NOT NULL,
  result jsonb NOT NULL,
  PRIMARY KEY (tenant, agent_id, product)
);

-- Down Migration
DROP TABLE admin_install_results;
