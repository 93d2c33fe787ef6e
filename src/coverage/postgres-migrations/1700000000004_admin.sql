-- Up Migration
-- Access control of the console (issue 14): accounts, agent enrollment, sessions, audit log.
-- Replicas sharing this database share sign-ins, enrollments and revocations at once.
CREATE TABLE admin_accounts (
  username text PRIMARY KEY,
  account jsonb NOT NULL
);

CREATE TABLE admin_enrollment_tokens (
  id text PRIMARY KEY,
  tenant text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  token jsonb NOT NULL
);
CREATE INDEX admin_enrollment_tokens_tenant ON admin_enrollment_tokens (tenant);

CREATE TABLE admin_agents (
  agent_id text PRIMARY KEY,
  tenant text NOT NULL,
  agent jsonb NOT NULL
);
CREATE INDEX admin_agents_tenant ON admin_agents (tenant);

CREATE TABLE admin_sessions (
  id_hash text PRIMARY KEY,
  session jsonb NOT NULL,
  last_seen timestamptz NOT NULL
);

-- Append-only: the database itself refuses to change or remove an entry, whoever asks.
CREATE TABLE admin_audit (
  position bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  tenant text,
  entry jsonb NOT NULL
);
CREATE INDEX admin_audit_tenant ON admin_audit (tenant, position DESC);
CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER admin_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_audit
  FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only();

-- Down Migration
DROP TABLE admin_audit;
DROP FUNCTION admin_audit_append_only();
DROP TABLE admin_sessions;
DROP TABLE admin_agents;
DROP TABLE admin_enrollment_tokens;
DROP TABLE admin_accounts;
