import type { ReleaseDecision } from './rings.ts';
import type { Grant } from './roles.ts';

/*
 * What the console's access control keeps: accounts, enrollment tokens, enrolled agents,
 * sessions and the audit log. Two stores hold it, like the inventory: a JSON file (and an
 * append-only JSON-lines audit file) in the LGWAN data root for one municipality, or
 * PostgreSQL for a provider whose replicas share decisions. One test suite runs against both
 * (test/admin/admin-store.test.ts).
 */

export interface Account {
  username: string;
  /** local: a password hash kept here; directory: signs in against LDAP/AD, grants from its groups. */
  source: 'local' | 'directory';
  /** argon2id, PHC string format. Never present for directory accounts. */
  passwordHash?: string;
  grants: Grant[];
  createdAt: string;
  disabledAt?: string;
}

export interface EnrollmentToken {
  id: string;
  tenant: string;
  /** SHA-256 (hex) of the token: the token itself is shown once, when issued. */
  tokenHash: string;
  label: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
}

export interface EnrolledAgent {
  agentId: string;
  tenant: string;
  /** The agent's check-in signing secret (base64url, 32 bytes). */
  secret: string;
  hostname?: string;
  tokenId: string;
  enrolledAt: string;
  address: string;
  revokedAt?: string;
}

export interface Session {
  /** SHA-256 (hex) of the cookie value: a copy of the store gives no usable session. */
  idHash: string;
  username: string;
  grants: Grant[];
  /** The tenant whose pages the session shows (an operator may switch; null: all tenants). */
  tenant: string | null;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  address: string;
}

export type AuditAction =
  | 'sign-in'
  | 'sign-out'
  | 'account-create'
  | 'role-change'
  | 'password-change'
  | 'account-disable'
  | 'token-issue'
  | 'token-revoke'
  | 'agent-enroll'
  | 'agent-revoke'
  | 'tenant-switch'
  | 'release-approve'
  | 'release-decline'
  | 'product-hold'
  | 'release-withdraw';

/** What an agent reported about one install it ran (issue 15, point 4): the latest per agent and product is kept. */
export interface InstallResult {
  tenant: string;
  agentId: string;
  hostname?: string;
  /** The ring the agent was in when it reported. */
  ring: string;
  product: string;
  version: string;
  outcome: 'installed' | 'failed';
  exitCode: number;
  /** Bounded (300 characters), no control characters. */
  message: string;
  /** When the server received the report. */
  reportedAt: string;
}

export interface AuditEntry {
  at: string;
  /** The tenant the action concerns; null for provider-wide actions (an operator's sign-in). */
  tenant: string | null;
  /** Who: a username, `cli:<system user>` or `agent:<id>`. */
  actor: string;
  /** From where: the client address, or `local` for the CLI. */
  address: string;
  action: AuditAction;
  outcome: 'success' | 'failure';
  /** What it was done to: an account, token id or agent id. */
  subject?: string;
  detail?: string;
}

export interface AdminStore {
  readonly backend: 'lowdb' | 'postgresql';
  getAccount(username: string): Promise<Account | undefined>;
  /** Creates or replaces the account of `account.username`. */
  putAccount(account: Account): Promise<void>;
  listAccounts(): Promise<Account[]>;

  addEnrollmentToken(token: EnrollmentToken): Promise<void>;
  findEnrollmentToken(tokenHash: string): Promise<EnrollmentToken | undefined>;
  /** False when the tenant has no such token (another tenant's id is not found). */
  revokeEnrollmentToken(id: string, tenant: string, at: string): Promise<boolean>;
  listEnrollmentTokens(tenant: string): Promise<EnrollmentToken[]>;

  addAgent(agent: EnrolledAgent): Promise<void>;
  getAgent(agentId: string): Promise<EnrolledAgent | undefined>;
  revokeAgent(agentId: string, tenant: string, at: string): Promise<boolean>;
  listAgents(tenant: string): Promise<EnrolledAgent[]>;

  putSession(session: Session): Promise<void>;
  getSession(idHash: string): Promise<Session | undefined>;
  deleteSession(idHash: string): Promise<void>;

  /** Approvals, declines and holds (issue 15); one per `decisionKey`, a new one replaces the old. */
  putDecision(decision: ReleaseDecision): Promise<void>;
  /** False when the tenant has no decision of that key. */
  removeDecision(tenant: string, key: string): Promise<boolean>;
  listDecisions(tenant: string): Promise<ReleaseDecision[]>;

  /** Install results of agents of one tenant; a newer result of the same agent and product replaces the older one. */
  putInstallResults(tenant: string, results: readonly InstallResult[]): Promise<void>;
  listInstallResults(tenant: string): Promise<InstallResult[]>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first; one tenant's entries, or all when undefined. */
  listAudit(query: { tenant?: string; offset: number; limit: number }): Promise<{ total: number; entries: AuditEntry[] }>;

  close(): Promise<void>;
}

/** Bounds on what one tenant can make the store hold. */
export const adminLimits = { agentsPerTenant: 100_000, tokensPerTenant: 1000, sessions: 10_000, decisionsPerTenant: 10_000, installResultsPerTenant: 500_000 } as const;
