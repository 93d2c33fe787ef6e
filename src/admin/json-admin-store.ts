import { appendFile, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { LgwanMirrorError } from '../core/errors.ts';
import { decisionKey, type ReleaseDecision } from './rings.ts';
import { adminLimits, type Account, type AdminStore, type AuditEntry, type EnrolledAgent, type EnrollmentToken, type InstallResult, type Session } from './admin-store.ts';

interface AdminFile {
  accounts: Record<string, Account>;
  tokens: Record<string, EnrollmentToken>;
  agents: Record<string, EnrolledAgent>;
  /** tenant → decision key → decision. */
  decisions: Record<string, Record<string, ReleaseDecision>>;
  /** tenant → JSON [agent id, product] → the agent's latest install result of the product. */
  installResults: Record<string, Record<string, InstallResult>>;
}

const empty = (): AdminFile => ({ accounts: {}, tokens: {}, agents: {}, decisions: {}, installResults: {} });

/**
 * The embedded default. `admin.json` (mode 0600: it holds password hashes and agent secrets)
 * is changed by the running repository (enrollments, revocations) and by the CLI (accounts,
 * tokens) alike, so every change is a locked read-modify-write, and readers reload the file
 * when it changed on disk. The audit log is `audit.jsonl`, only ever appended to. Sessions
 * live in the repository's memory: a restart signs everyone out.
 */
export class JsonAdminStore implements AdminStore {
  readonly backend = 'lowdb' as const;
  readonly #file: string;
  readonly #auditFile: string;
  #data: AdminFile = empty();
  #seen = '';
  readonly #sessions = new Map<string, Session>();
  readonly #pending: { mutate: (data: AdminFile) => void; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;

  private constructor(root: string) {
    this.#file = path.join(root, 'admin.json');
    this.#auditFile = path.join(root, 'audit.jsonl');
  }

  static async open(root: string): Promise<JsonAdminStore> {
    const store = new JsonAdminStore(root);
    await store.#fresh();
    return store;
  }

  /** The file as it is on disk now (another process may have changed it). */
  async #fresh(): Promise<AdminFile> {
    const info = await stat(this.#file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    const signature = info ? `${info.ino}:${info.size}:${info.mtimeMs}` : 'none';
    if (signature === this.#seen) return this.#data;
    if (!info) {
      this.#data = empty();
    } else {
      const text = await readFile(this.#file, 'utf8');
      try {
        this.#data = { ...empty(), ...(JSON.parse(text) as Partial<AdminFile>) };
      } catch (cause) {
        throw new LgwanMirrorError('E_CONFIG_INVALID', `${this.#file} is not valid JSON; restore it from a backup`, { cause, details: { file: this.#file } });
      }
    }
    this.#seen = signature;
    return this.#data;
  }

  /**
   * One locked read-modify-write for every change waiting in this process (a floor of PCs
   * enrolling at once: issue 18 found concurrent writers of one process polling for the lock and
   * giving up). Each change runs on its own copy of the data and counts only if it does not
   * throw, so a refused change never leaves part of itself in the file; the others are written
   * together, and each caller learns its own outcome.
   */
  #change(mutate: (data: AdminFile) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ mutate, resolve, reject });
      this.#writing ??= this.#writePending().finally(() => (this.#writing = undefined));
    });
  }

  async #writePending(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      const applied: typeof batch = [];
      let release: (() => Promise<void>) | undefined;
      try {
        // proper-lockfile locks a sibling folder, so the file itself may be absent yet.
        release = await lockfile.lock(path.dirname(this.#file), { lockfilePath: `${this.#file}.lock`, retries: { retries: 50, minTimeout: 20, maxTimeout: 200 }, stale: 10_000 });
        this.#seen = '';
        let data = structuredClone(await this.#fresh());
        for (const change of batch) {
          const candidate = batch.length === 1 ? data : structuredClone(data);
          try {
            change.mutate(candidate);
          } catch (error) {
            change.reject(error);
            continue;
          }
          data = candidate;
          applied.push(change);
        }
        if (applied.length > 0) await writeFileAtomic(this.#file, `${JSON.stringify(data, null, 1)}\n`, 0o600);
        this.#seen = '';
        await this.#fresh();
        for (const change of applied) change.resolve();
      } catch (error) {
        // Those refused on their own are settled already; a promise settles once.
        for (const change of batch) change.reject(error);
      } finally {
        await release?.();
      }
    }
  }

  async getAccount(username: string) {
    const data = await this.#fresh();
    return Object.hasOwn(data.accounts, username) ? structuredClone(data.accounts[username]) : undefined;
  }
  putAccount(account: Account) {
    return this.#change((data) => void (data.accounts[account.username] = account));
  }
  async listAccounts() {
    return Object.values((await this.#fresh()).accounts).map((account) => structuredClone(account));
  }

  addEnrollmentToken(token: EnrollmentToken) {
    return this.#change((data) => {
      if (Object.values(data.tokens).filter((existing) => existing.tenant === token.tenant).length >= adminLimits.tokensPerTenant) {
        throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${token.tenant} already has ${adminLimits.tokensPerTenant} enrollment tokens; revoke old ones first`);
      }
      data.tokens[token.id] = token;
    });
  }
  async findEnrollmentToken(tokenHash: string) {
    return Object.values((await this.#fresh()).tokens).find((token) => token.tokenHash === tokenHash);
  }
  async revokeEnrollmentToken(id: string, tenant: string, at: string) {
    let found = false;
    await this.#change((data) => {
      const token = Object.hasOwn(data.tokens, id) ? data.tokens[id] : undefined;
      if (!token || token.tenant !== tenant) return;
      found = true;
      token.revokedAt ??= at;
    });
    return found;
  }
  async listEnrollmentTokens(tenant: string) {
    return Object.values((await this.#fresh()).tokens).filter((token) => token.tenant === tenant).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  addAgent(agent: EnrolledAgent) {
    return this.#change((data) => {
      if (Object.values(data.agents).filter((existing) => existing.tenant === agent.tenant).length >= adminLimits.agentsPerTenant) {
        throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${agent.tenant} already has ${adminLimits.agentsPerTenant} enrolled agents`);
      }
      if (Object.hasOwn(data.agents, agent.agentId)) throw new LgwanMirrorError('E_USAGE', `agent ${agent.agentId} is already enrolled`);
      data.agents[agent.agentId] = agent;
    });
  }
  async getAgent(agentId: string) {
    const data = await this.#fresh();
    return Object.hasOwn(data.agents, agentId) ? data.agents[agentId] : undefined;
  }
  async revokeAgent(agentId: string, tenant: string, at: string) {
    let found = false;
    await this.#change((data) => {
      const agent = Object.hasOwn(data.agents, agentId) ? data.agents[agentId] : undefined;
      if (!agent || agent.tenant !== tenant) return;
      found = true;
      agent.revokedAt ??= at;
    });
    return found;
  }
  async listAgents(tenant: string) {
    return Object.values((await this.#fresh()).agents).filter((agent) => agent.tenant === tenant).sort((a, b) => b.enrolledAt.localeCompare(a.enrolledAt));
  }

  putDecision(decision: ReleaseDecision) {
    return this.#change((data) => {
      const perTenant = Object.hasOwn(data.decisions, decision.tenant) ? data.decisions[decision.tenant]! : (data.decisions[decision.tenant] = {});
      const key = decisionKey(decision);
      if (!Object.hasOwn(perTenant, key) && Object.keys(perTenant).length >= adminLimits.decisionsPerTenant) {
        throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${decision.tenant} already has ${adminLimits.decisionsPerTenant} release decisions`);
      }
      perTenant[key] = decision;
    });
  }
  async removeDecision(tenant: string, key: string) {
    let found = false;
    await this.#change((data) => {
      const perTenant = Object.hasOwn(data.decisions, tenant) ? data.decisions[tenant]! : undefined;
      if (!perTenant || !Object.hasOwn(perTenant, key)) return;
      found = true;
      delete perTenant[key];
    });
    return found;
  }
  async listDecisions(tenant: string) {
    const data = await this.#fresh();
    return Object.hasOwn(data.decisions, tenant) ? Object.values(data.decisions[tenant]!).map((decision) => structuredClone(decision)) : [];
  }

  putInstallResults(tenant: string, results: readonly InstallResult[]) {
    if (results.length === 0) return Promise.resolve();
    return this.#change((data) => {
      const perTenant = Object.hasOwn(data.installResults, tenant) ? data.installResults[tenant]! : (data.installResults[tenant] = {});
      for (const result of results) {
        const key = JSON.stringify([result.agentId, result.product]);
        if (!Object.hasOwn(perTenant, key) && Object.keys(perTenant).length >= adminLimits.installResultsPerTenant) {
          throw new LgwanMirrorError('E_SIZE_LIMIT', `tenant ${tenant} already has ${adminLimits.installResultsPerTenant} install results`);
        }
        perTenant[key] = { ...result, tenant };
      }
    });
  }
  async listInstallResults(tenant: string) {
    const data = await this.#fresh();
    return Object.hasOwn(data.installResults, tenant) ? Object.values(data.installResults[tenant]!).map((result) => structuredClone(result)) : [];
  }

  async putSession(session: Session) {
    this.#sessions.delete(session.idHash);
    this.#sessions.set(session.idHash, session);
    // The oldest sessions go first when too many were opened (bounded memory).
    while (this.#sessions.size > adminLimits.sessions) this.#sessions.delete(this.#sessions.keys().next().value!);
  }
  async getSession(idHash: string) {
    return this.#sessions.get(idHash);
  }
  async deleteSession(idHash: string) {
    this.#sessions.delete(idHash);
  }

  async appendAudit(entry: AuditEntry) {
    // One line per entry, appended with O_APPEND and synced: nothing rewrites earlier lines.
    const handle = await open(this.#auditFile, 'a', 0o600);
    try {
      await appendFile(handle, `${JSON.stringify(entry)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  async listAudit(query: { tenant?: string; offset: number; limit: number }) {
    const text = await readFile(this.#auditFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const entries: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const entry = JSON.parse(line) as AuditEntry;
        if (query.tenant === undefined || entry.tenant === query.tenant) entries.push(entry);
      } catch {
        // A line cut by a power failure: the entries before and after it still count.
      }
    }
    entries.reverse();
    return { total: entries.length, entries: entries.slice(query.offset, query.offset + query.limit) };
  }

  async close() {
    this.#sessions.clear();
  }
}
