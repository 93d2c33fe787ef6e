import type { Context } from 'koa';
import { z } from 'zod';
import type { Artifact } from '../../bundle/manifest.ts';
import type { InventoryStore } from '../../coverage/inventory.ts';
import type { LgwanState } from '../../importer/lgwan-state.ts';
import { compareVersions } from '../../versions/index.ts';
import { readLimitedBody } from '../read-limited-body.ts';
import type { RateLimiter } from '../rate-limit.ts';

/** Check-ins are small: an endpoint lists a few dozen products. */
export const maxCheckInBytes = 64 * 1024;

const token = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._+~:-]*$/u, 'letters, digits and . _ + ~ : -');
export const checkInSchema = z.strictObject({
  agentId: token.describe('stable id of this endpoint (the agent keeps it in its state folder)'),
  agentVersion: token.optional(),
  hostname: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/u, 'a host name: letters, digits and . _ -').optional().describe('the host name, shown on the pages beside the agent id'),
  os: z.enum(['windows', 'linux']),
  tags: z
    .array(z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/u, 'a tag: letters, digits and . _ -'))
    .max(32)
    .optional()
    .describe('tags the admin gave this endpoint in the agent config; rings may select agents by tag'),
  installed: z
    .array(z.strictObject({ product: token, version: token, platform: token.optional(), locale: token.optional() }))
    .max(500),
});
export type CheckIn = z.infer<typeof checkInSchema>;

export interface AgentAction {
  product: string;
  installedVersion: string;
  version: string;
  platform: string;
  locale: string;
  files: { fileName: string; url: string; sha256: string; size: number }[];
}

/** Methods whose files only their own clients use: apt packages, ClamAV databases and patches. */
const ownClientMethods = new Set<Artifact['verification']['method']>(['apt-package', 'clamav-cvd', 'clamav-cdiff']);

/** Installers an agent can run: not MARs (Firefox's own updater), not files of clients of their own. */
function installable(artifact: Artifact): boolean {
  return artifact.role === 'payload' && !artifact.fileName.endsWith('.complete.mar') && !ownClientMethods.has(artifact.verification.method);
}

/**
 * What each reported product should be updated to: of the published installers newer than what
 * runs, the version the endpoint's ring is offered (`offer`, issue 15), else the newest.
 */
export function planActions(state: LgwanState, checkIn: CheckIn, offer?: (productId: string, versions: Iterable<string>) => string | undefined): AgentAction[] {
  const published = state.published;
  if (!published) return [];
  const actions: AgentAction[] = [];
  for (const item of checkIn.installed) {
    const product = published.products.find((candidate) => candidate.id === item.product);
    // An advisory source's documents (issue 16) are data, never something an agent installs.
    if (!product || product.advisory) continue;
    const newer = (a: string, b: string) => {
      try {
        return compareVersions(product.scheme, a, b) > 0;
      } catch {
        return false;
      }
    };
    const candidates = published.artifacts.filter(
      (artifact) =>
        artifact.productId === product.id &&
        installable(artifact) &&
        (item.platform === undefined || artifact.platform === item.platform) &&
        (item.locale === undefined || artifact.locale === item.locale || artifact.locale === 'any'),
    );
    let target: string | undefined;
    if (offer) target = offer(product.id, candidates.filter((artifact) => newer(artifact.version, item.version)).map((artifact) => artifact.version));
    else for (const artifact of candidates) if (newer(artifact.version, item.version) && (!target || newer(artifact.version, target))) target = artifact.version;
    if (!target) continue;
    const files = candidates.filter((artifact) => artifact.version === target);
    const first = files[0]!;
    actions.push({
      product: product.id,
      installedVersion: item.version,
      version: target,
      platform: first.platform,
      locale: first.locale,
      files: files.map((artifact) => ({ fileName: artifact.fileName, url: `/${artifact.path.split('/').map(encodeURIComponent).join('/')}`, sha256: artifact.sha256, size: artifact.size })),
    });
  }
  return actions;
}

/**
 * POST /api/v1/agent/checkin: the endpoint's inventory in, what to install out. JSON by
 * default; `Accept: text/tab-separated-values` gives one line per file for the POSIX sh
 * agent (product, installed, target version, file name, sha256, size, URL).
 */
export interface CheckInOptions {
  /** The published state as the agent's tenant sees it (its catalog subset). */
  stateFor(tenant: string): LgwanState;
  inventory: Pick<InventoryStore, 'record'> | undefined;
  limits?: { perAddress: RateLimiter; perAgent: RateLimiter };
  /** The ring of the agent (by its tenant, address and tags) and what that ring is offered. */
  rollout?(tenant: string, state: LgwanState, tags: readonly string[]): Promise<{ ring: string; offer(productId: string, versions: Iterable<string>): string | undefined }>;
  /** The enrolled agent that signed this check-in (throws 401 otherwise). */
  authenticate(body: string, agentId: string): Promise<{ agentId: string; tenant: string; hostname?: string | undefined }>;
}

export async function handleCheckIn(ctx: Context, options: CheckInOptions): Promise<void> {
  const { inventory, limits } = options;
  // Per client address before the body is read, per agent id after: a loop on one PC cannot
  // crowd out the others, nor fill the inventory.
  const byAddress = limits?.perAddress.take(ctx.ip);
  if (typeof byAddress === 'number') {
    ctx.set('Retry-After', String(byAddress));
    ctx.throw(429, `too many check-ins from ${ctx.ip}; retry in ${byAddress} s`);
  }
  if (!ctx.is('application/json')) ctx.throw(415, 'send the check-in as application/json');
  const text = await readLimitedBody(ctx, maxCheckInBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.throw(400, 'the check-in is not valid JSON');
  }
  const parsed = checkInSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    ctx.throw(400, `field "${issue.path.join('.')}": ${issue.message}`);
  }
  const checkIn = parsed.data;
  // Before the per-agent limit: an unsigned flood under someone else's id must not use up theirs.
  const agent = await options.authenticate(text, checkIn.agentId);
  const state = options.stateFor(agent.tenant);
  const byAgent = limits?.perAgent.take(checkIn.agentId);
  if (typeof byAgent === 'number') {
    ctx.set('Retry-After', String(byAgent));
    ctx.throw(429, `too many check-ins from agent ${checkIn.agentId}; retry in ${byAgent} s`);
  }
  // A product id this repository does not describe (a typo in the agent's config, a product
  // not in the catalog) is named back to the agent and not recorded as a product of its own.
  const rollout = await options.rollout?.(agent.tenant, state, checkIn.tags ?? []);
  const known = state.published ? new Set(state.published.products.map((product) => product.id)) : undefined;
  const unknownProducts = known ? [...new Set(checkIn.installed.filter((item) => !known.has(item.product)).map((item) => item.product))] : [];
  for (const item of checkIn.installed) {
    if (known && !known.has(item.product)) continue;
    // The host name the check-in says, else the one given at enrollment.
    const hostname = checkIn.hostname ?? agent.hostname;
    inventory?.record({ endpoint: { kind: 'agent', id: checkIn.agentId }, tenant: agent.tenant, ...(hostname ? { hostname } : {}), ...(rollout ? { ring: rollout.ring } : {}), source: 'agent', product: item.product, version: item.version, platform: item.platform, locale: item.locale });
  }
  const actions = planActions(state, checkIn, rollout?.offer);
  ctx.set('Cache-Control', 'no-store');
  if (ctx.accepts('application/json', 'text/tab-separated-values') === 'text/tab-separated-values') {
    ctx.type = 'text/tab-separated-values; charset=utf-8';
    const lines = actions.flatMap((action) => action.files.map((file) => [action.product, action.installedVersion, action.version, file.fileName, file.sha256, file.size, file.url].join('\t') + '\n'));
    // "!unknown-product<TAB>id": not a product line (no SHA-256), so an older agent skips it.
    for (const product of unknownProducts) lines.push(`!unknown-product\t${product}\n`);
    ctx.body = lines.join('');
    return;
  }
  ctx.body = { actions, unknownProducts, checkInIntervalSeconds: 3600 };
}
