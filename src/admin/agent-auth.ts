import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { readLimitedBody } from '../repository/read-limited-body.ts';
import type { RateLimiter } from '../repository/rate-limit.ts';
import type { AdminStore, EnrolledAgent } from './admin-store.ts';
import { randomToken, sameSecret, sha256Hex } from './sessions.ts';
import type { TenantDirectory } from './tenants.ts';

/*
 * Agents enroll once with their tenant's enrollment token (put in the agent's config by the
 * admin) and receive an id and a secret of their own. Every later check-in carries
 *   X-Lgwan-Agent: <id>   X-Lgwan-Timestamp: <unix seconds>   X-Lgwan-Nonce: <16–64 hex>
 *   X-Lgwan-Signature: <hex>
 * where the signature is HMAC-SHA256, keyed with the secret (its base64url text as bytes), of
 *   "lgwan-checkin-v1\n<id>\n<timestamp>\n<nonce>\n<sha256 hex of the body>"
 * which POSIX sh computes with `sha256sum` and `openssl dgst -hmac`, and PowerShell with
 * HMACSHA256. A check-in without a valid signature is refused before anything is recorded; a
 * nonce seen again within the clock window is a replay. (Seconds alone would refuse an
 * identical second check-in in the same second, as when an admin runs the agent by hand.)
 */
export const signatureContext = 'lgwan-checkin-v1';
/** How far an agent's clock may be off, and how long a signature is remembered against replay. */
export const clockSkewSeconds = 300;

export function checkInSignature(secret: string, agentId: string, timestamp: string, nonce: string, body: string): string {
  return checkInSignatureOfDigest(secret, agentId, timestamp, nonce, sha256Hex(body));
}

/** The same over the body's SHA-256 (hex): what the process that holds the secrets is sent. */
function checkInSignatureOfDigest(secret: string, agentId: string, timestamp: string, nonce: string, bodySha256: string): string {
  return createHmac('sha256', secret).update(`${signatureContext}\n${agentId}\n${timestamp}\n${nonce}\n${bodySha256}`).digest('hex');
}

/** The headers of a signed check-in, as the agents send them (the demo's simulated agents and the tests use this). */
export function signedCheckInHeaders(agentId: string, secret: string, body: string, options: { timestamp?: string; nonce?: string } = {}): Record<string, string> {
  const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomBytes(16).toString('hex');
  return { 'x-lgwan-agent': agentId, 'x-lgwan-timestamp': timestamp, 'x-lgwan-nonce': nonce, 'x-lgwan-signature': checkInSignature(secret, agentId, timestamp, nonce, body) };
}

export interface EnrollOptions {
  store: AdminStore;
  tenants: TenantDirectory;
  limits: { perAddress: RateLimiter };
  audit(entry: Omit<import('./admin-store.ts').AuditEntry, 'at'>): Promise<void>;
  now(): Date;
}

/** POST /api/v1/agent/enroll: token in, the agent's own id and secret out (JSON, or TSV for the sh agent). */
export async function handleEnroll(ctx: Context, options: EnrollOptions): Promise<void> {
  const wait = options.limits.perAddress.take(ctx.ip);
  if (typeof wait === 'number') {
    ctx.set('Retry-After', String(wait));
    ctx.throw(429, `too many enrollments from ${ctx.ip}; retry in ${wait} s`);
  }
  if (!ctx.is('application/json')) ctx.throw(415, 'send the enrollment as application/json');
  let json: unknown;
  try {
    json = JSON.parse(await readLimitedBody(ctx, 4096));
  } catch (error) {
    if ((error as { status?: number }).status) throw error;
    ctx.throw(400, 'the enrollment is not valid JSON');
  }
  // The schema (and zod) loads with the first enrollment, not with the repository (start-up, issue 18).
  const { enrollSchema } = await import('./enroll-schema.ts');
  const parsed = enrollSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    ctx.throw(400, `field "${issue.path.join('.')}": ${issue.message}`);
  }
  const token = await options.store.findEnrollmentToken(sha256Hex(parsed.data.token));
  if (!token || token.revokedAt !== undefined || !options.tenants.byId(token.tenant)) {
    await options.audit({ tenant: token?.tenant ?? null, actor: 'agent:(not enrolled)', address: ctx.ip, action: 'agent-enroll', outcome: 'failure', detail: token ? 'token revoked' : 'unknown token' });
    ctx.throw(401, 'this enrollment token is not valid (revoked, or never issued); ask the admin for the current one');
  }
  const agent: EnrolledAgent = {
    agentId: randomUUID(),
    tenant: token.tenant,
    secret: randomToken(),
    ...(parsed.data.hostname ? { hostname: parsed.data.hostname } : {}),
    tokenId: token.id,
    enrolledAt: options.now().toISOString(),
    address: ctx.ip,
  };
  await options.store.addAgent(agent);
  await options.audit({ tenant: agent.tenant, actor: `agent:${agent.agentId}`, address: ctx.ip, action: 'agent-enroll', outcome: 'success', subject: agent.agentId, detail: `token ${token.id}${agent.hostname ? `, host ${agent.hostname}` : ''}` });
  ctx.status = 201;
  ctx.set('Cache-Control', 'no-store');
  if (ctx.accepts('application/json', 'text/tab-separated-values') === 'text/tab-separated-values') {
    ctx.type = 'text/tab-separated-values; charset=utf-8';
    ctx.body = `agentId\t${agent.agentId}\nsecret\t${agent.secret}\ntenant\t${agent.tenant}\n`;
    return;
  }
  ctx.body = { agentId: agent.agentId, secret: agent.secret, tenant: agent.tenant };
}

/** Signatures seen recently, per agent: the same signed check-in sent twice is refused. */
/** What authenticateCheckIn asks: a local guard, or one kept by the primary process for all workers. */
export interface CheckInReplayGuard {
  accept(agentId: string, signature: string, nowSeconds: number): boolean | Promise<boolean>;
}

export class ReplayGuard implements CheckInReplayGuard {
  readonly #seen = new Map<string, Map<string, number>>();
  readonly #maxAgents: number;

  constructor(maxAgents = 200_000) {
    this.#maxAgents = maxAgents;
  }

  /** False when this nonce was already accepted within the clock window. */
  accept(agentId: string, signature: string, nowSeconds: number): boolean {
    let seen = this.#seen.get(agentId);
    if (!seen) {
      this.#seen.set(agentId, (seen = new Map()));
      if (this.#seen.size > this.#maxAgents) this.#seen.delete(this.#seen.keys().next().value!);
    }
    for (const [old, at] of seen) if (at < nowSeconds - 2 * clockSkewSeconds) seen.delete(old);
    if (seen.has(signature)) return false;
    if (seen.size >= 64) seen.delete(seen.keys().next().value!);
    seen.set(signature, nowSeconds);
    return true;
  }
}

/** What a signed check-in claims, once its headers are well-formed. */
export interface CheckInClaim {
  agentId: string;
  timestamp: string;
  nonce: string;
  bodySha256: string;
  signature: string;
  nowSeconds: number;
}

export type CheckInVerdict = { agent: EnrolledAgent } | { refused: string };

/**
 * Checks a claim against the enrolled agents and the replay guard in one step: in a worker
 * process this is one call into the primary, which holds both (issue 18: a check-in made three).
 */
export interface CheckInVerifier {
  verify(claim: CheckInClaim): CheckInVerdict | Promise<CheckInVerdict>;
}

export function checkInVerifier(store: AdminStore, replay: CheckInReplayGuard): CheckInVerifier {
  return {
    async verify(claim) {
      const agent = await store.getAgent(claim.agentId);
      if (!agent || !sameSecret(checkInSignatureOfDigest(agent.secret, claim.agentId, claim.timestamp, claim.nonce, claim.bodySha256), claim.signature)) return { refused: 'the check-in signature does not verify for this agent id' };
      if (agent.revokedAt !== undefined) return { refused: `agent ${claim.agentId} was revoked at ${agent.revokedAt}; an admin must issue a new enrollment` };
      if (!(await replay.accept(claim.agentId, claim.nonce, claim.nowSeconds))) return { refused: 'this signed check-in was already received (a replay)' };
      return { agent };
    },
  };
}

/**
 * The enrolled agent a signed check-in comes from, or a 401 that says what is wrong. Nothing
 * is recorded for a refused check-in. `agentIdInBody` must be the header's id.
 */
export async function authenticateCheckIn(ctx: Context, verifier: CheckInVerifier, body: string, agentIdInBody: string, now: Date): Promise<EnrolledAgent> {
  const agentId = ctx.get('X-Lgwan-Agent');
  const timestamp = ctx.get('X-Lgwan-Timestamp');
  const signature = ctx.get('X-Lgwan-Signature');
  const nonce = ctx.get('X-Lgwan-Nonce').toLowerCase();
  if (!agentId || !timestamp || !signature) ctx.throw(401, 'this check-in is not signed: enroll the agent first (LGWAN_ENROLLMENT_TOKEN in its config)');
  if (agentId !== agentIdInBody) ctx.throw(401, 'the signed agent id differs from the check-in\'s agentId');
  if (!/^\d{1,12}$/u.test(timestamp) || Math.abs(Number(timestamp) - now.getTime() / 1000) > clockSkewSeconds) {
    ctx.throw(401, `the check-in's timestamp is more than ${clockSkewSeconds} s from the repository's clock; set the endpoint's clock (NTP)`);
  }
  if (!/^[0-9a-f]{16,64}$/u.test(nonce)) ctx.throw(401, 'the check-in has no X-Lgwan-Nonce (16–64 hex digits): update the agent');
  const verdict = await verifier.verify({ agentId, timestamp, nonce, bodySha256: sha256Hex(body), signature: signature.toLowerCase(), nowSeconds: Math.floor(now.getTime() / 1000) });
  if ('refused' in verdict) return ctx.throw(401, verdict.refused);
  return verdict.agent;
}
