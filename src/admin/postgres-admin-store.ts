import pg from 'pg';
import { DatabaseError, LgwanMirrorError } from '../core/errors.ts';
import { applyMigrations, redactedUrl } from '../coverage/postgres-inventory.ts';
import { decisionKey, type ReleaseDecision } from './rings.ts';
import { adminLimits, type Account, type AdminStore, type AuditEntry, type EnrolledAgent, type EnrollmentToken, type InstallResult, type Session } from './admin-store.ts';

/** Sessions idle longer than this are removed when the next session is written. */
const sessionRetentionHours = 24;

/** The console's access control in PostgreSQL, shared by every replica (the same database as the inventory). */
export class PostgresAdminStore implements AdminStore {
  readonly backend = 'postgresql' as const;
  readonly #pool: pg.Pool;
  readonly #name: string;

  private constructor(pool: pg.Pool, name: string) {
    this.#pool = pool;
    this.#name = name;
  }

  static async open(url: string): Promise<PostgresAdminStore> {
    const name = redactedUrl(url);
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => undefined);
    await applyMigrations(pool, name);
    return new PostgresAdminStore(pool, name);
  }

  async #query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      throw new DatabaseError(this.#name, what, error);
    }
  }

  async getAccount(username: string) {
    return (await this.#query<{ account: Account }>('reading an account', 'SELECT account FROM admin_accounts WHERE username = $1', [username])).rows[0]?.account;
  }
  async putAccount(account: Account) {
    await this.#query('writing an account', 'INSERT INTO admin_accounts (username, account) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET account = excluded.account', [account.username, account]);
  }
  async listAccounts() {
    return (await this.#query<{ account: Account }>('listing accounts', 'SELECT account FROM admin_accounts ORDER BY username')).rows.map((row) => row.account);
  }

  async addEnrollmentToken(token: EnrollmentToken) {
    const { rows } = await this.#query<{ count: number }>('counting tokens', 'SELECT count(*)::int AS count FROM admin_enrollment_tokens WHERE tenant = $1', [token.tenant]);
    if (rows[0]!.count >= adminLimits.tokensPerTenant) throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${token.tenant} already has ${adminLimits.tokensPerTenant} enrollment tokens; revoke old ones first`);
    await this.#query('writing a token', 'INSERT INTO admin_enrollment_tokens (id, tenant, token_hash, token) VALUES ($1, $2, $3, $4)', [token.id, token.tenant, token.tokenHash, token]);
  }
  async findEnrollmentToken(tokenHash: string) {
    return (await this.#query<{ token: EnrollmentToken }>('reading a token', 'SELECT token FROM admin_enrollment_tokens WHERE token_hash = $1', [tokenHash])).rows[0]?.token;
  }
  async revokeEnrollmentToken(id: string, tenant: string, at: string) {
    const result = await this.#query('revoking a token', `UPDATE admin_enrollment_tokens SET token = token || jsonb_build_object('revokedAt', coalesce(token->>'revokedAt', $3::text)) WHERE id = $1 AND tenant = $2`, [id, tenant, at]);
    return result.rowCount === 1;
  }
  async listEnrollmentTokens(tenant: string) {
    return (await this.#query<{ token: EnrollmentToken }>('listing tokens', "SELECT token FROM admin_enrollment_tokens WHERE tenant = $1 ORDER BY token->>'createdAt' DESC", [tenant])).rows.map((row) => row.token);
  }

  async addAgent(agent: EnrolledAgent) {
    const { rows } = await this.#query<{ count: number }>('counting agents', 'SELECT count(*)::int AS count FROM admin_agents WHERE tenant = $1', [agent.tenant]);
    if (rows[0]!.count >= adminLimits.agentsPerTenant) throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${agent.tenant} already has ${adminLimits.agentsPerTenant} enrolled agents`);
    const result = await this.#query('enrolling an agent', 'INSERT INTO admin_agents (agent_id, tenant, agent) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [agent.agentId, agent.tenant, agent]);
    if (result.rowCount !== 1) throw new LgwanMirrorError('E_USAGE', `agent ${agent.agentId} is already enrolled`);
  }
  async getAgent(agentId: string) {
    return (await this.#query<{ agent: EnrolledAgent }>('reading an agent', 'SELECT agent FROM admin_agents WHERE agent_id = $1', [agentId])).rows[0]?.agent;
  }
  async revokeAgent(agentId: string, tenant: string, at: string) {
    const result = await this.#query('revoking an agent', `UPDATE admin_agents SET agent = agent || jsonb_build_object('revokedAt', coalesce(agent->>'revokedAt', $3::text)) WHERE agent_id = $1 AND tenant = $2`, [agentId, tenant, at]);
    return result.rowCount === 1;
  }
  async listAgents(tenant: string) {
    return (await this.#query<{ agent: EnrolledAgent }>('listing agents', "SELECT agent FROM admin_agents WHERE tenant = $1 ORDER BY agent->>'enrolledAt' DESC", [tenant])).rows.map((row) => row.agent);
  }

  async putDecision(decision: ReleaseDecision) {
    const key = decisionKey(decision);
    const { rows } = await this.#query<{ count: number }>('counting decisions', 'SELECT count(*)::int AS count FROM admin_release_decisions WHERE tenant = $1 AND key <> $2', [decision.tenant, key]);
    if (rows[0]!.count >= adminLimits.decisionsPerTenant) throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${decision.tenant} already has ${adminLimits.decisionsPerTenant} release decisions`);
    await this.#query('writing a release decision', 'INSERT INTO admin_release_decisions (tenant, key, decision) VALUES ($1, $2, $3) ON CONFLICT (tenant, key) DO UPDATE SET decision = excluded.decision', [decision.tenant, key, decision]);
  }
  async removeDecision(tenant: string, key: string) {
    const result = await this.#query('removing a release decision', 'DELETE FROM admin_release_decisions WHERE tenant = $1 AND key = $2', [tenant, key]);
    return result.rowCount === 1;
  }
  async listDecisions(tenant: string) {
    return (await this.#query<{ decision: ReleaseDecision }>('listing release decisions', "SELECT decision FROM admin_release_decisions WHERE tenant = $1 ORDER BY decision->>'at', key", [tenant])).rows.map((row) => row.decision);
  }

  async putInstallResults(tenant: string, results: readonly InstallResult[]) {
    if (results.length === 0) return;
    // One row per agent and product, the last one reported (one statement may not update a row twice).
    results = [...new Map(results.map((result) => [JSON.stringify([result.agentId, result.product]), result])).values()];
    const { rows } = await this.#query<{ count: number }>('counting install results', 'SELECT count(*)::int AS count FROM admin_install_results WHERE tenant = $1', [tenant]);
    if (rows[0]!.count + results.length > adminLimits.installResultsPerTenant) throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${tenant} already has ${adminLimits.installResultsPerTenant} install results`);
    // One statement: the results of one check-in land together or not at all.
    await this.#query(
      'writing install results',
      `INSERT INTO admin_install_results (tenant, agent_id, product, result)
       SELECT $1, entry->>'agentId', entry->>'product', entry FROM jsonb_array_elements($2::jsonb) AS entry
       ON CONFLICT (tenant, agent_id, product) DO UPDATE SET result = excluded.result`,
      [tenant, JSON.stringify(results.map((result) => ({ ...result, tenant })))],
    );
  }
  async listInstallResults(tenant: string) {
    return (await this.#query<{ result: InstallResult }>('listing install results', 'SELECT result FROM admin_install_results WHERE tenant = $1 ORDER BY agent_id, product', [tenant])).rows.map((row) => row.result);
  }

  async putSession(session: Session) {
    await this.#query('writing a session', 'INSERT INTO admin_sessions (id_hash, session, last_seen) VALUES ($1, $2, $3) ON CONFLICT (id_hash) DO UPDATE SET session = excluded.session, last_seen = excluded.last_seen', [session.idHash, session, session.lastSeenAt]);
    await this.#query('removing old sessions', `DELETE FROM admin_sessions WHERE last_seen < now() - interval '${sessionRetentionHours} hours'`);
  }
  async getSession(idHash: string) {
    return (await this.#query<{ session: Session }>('reading a session', 'SELECT session FROM admin_sessions WHERE id_hash = $1', [idHash])).rows[0]?.session;
  }
  async deleteSession(idHash: string) {
    await this.#query('removing a session', 'DELETE FROM admin_sessions WHERE id_hash = $1', [idHash]);
  }

  async appendAudit(entry: AuditEntry) {
    await this.#query('appending to the audit log', 'INSERT INTO admin_audit (at, tenant, entry) VALUES ($1, $2, $3)', [entry.at, entry.tenant, entry]);
  }
  async listAudit(query: { tenant?: string; offset: number; limit: number }) {
    const tenant = query.tenant ?? null;
    const [count, page] = await Promise.all([
      this.#query<{ count: number }>('counting the audit log', 'SELECT count(*)::int AS count FROM admin_audit WHERE $1::text IS NULL OR tenant = $1', [tenant]),
      this.#query<{ entry: AuditEntry }>('reading the audit log', 'SELECT entry FROM admin_audit WHERE $1::text IS NULL OR tenant = $1 ORDER BY position DESC LIMIT $2 OFFSET $3', [tenant, query.limit, query.offset]),
    ]);
    return { total: count.rows[0]!.count, entries: page.rows.map((row) => row.entry) };
  }

  async close() {
    await this.#pool.end();
  }
}
