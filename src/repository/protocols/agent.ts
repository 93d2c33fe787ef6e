import type { Context } from 'koa';
import type { Artifact } from '../../bundle/manifest.ts';
import type { InstallResult } from '../../admin/admin-store.ts';
import { LgwanMirrorError } from '../../core/errors.ts';
import { installTiming, type InstallTiming } from '../../admin/install-schedule.ts';
import type { EndpointFacts, ReleaseDecision } from '../../admin/rings.ts';
import type { InventoryStore } from '../../coverage/inventory.ts';
import type { LgwanState } from '../../importer/lgwan-state.ts';
import { compareVersions } from '../../versions/index.ts';
import { readLimitedBody } from '../read-limited-body.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { CheckIn } from './check-in-schema.ts';

export type { CheckIn };

/** Check-ins are small: an endpoint lists a few dozen products. */
export const maxCheckInBytes = 64 * 1024;

/** How a Windows agent runs a verified file: msiexec, or the file itself; `{file}` is the file's path. */
export interface InstallCommand {
  run: 'msiexec' | 'installer';
  arguments: string[];
  /** Exit codes that mean installed (3010: installed, a restart completes it). */
  successExitCodes: number[];
}

export interface AgentAction {
  product: string;
  installedVersion: string;
  version: string;
  platform: string;
  locale: string;
  files: { fileName: string; url: string; sha256: string; size: number; command: InstallCommand | null }[];
}

/** An update the agent installs now: the files, the command line per file, and why now. */
export type PlannedAction = AgentAction & { install: Extract<InstallTiming, { when: 'now' }> };
/** An offered update the agent waits with: until when, and why. */
export interface WaitingAction {
  product: string;
  installedVersion: string;
  version: string;
  reason: 'outside-window';
  notBefore: string;
  deadline: string | null;
}

const successExitCodes = [0, 3010];

/**
 * The command line the server prescribes for a Windows installer: MSI and MSP files through
 * msiexec, quiet and without a restart; an EXE with the silent switch its catalog entry
 * gives (winget.silentSwitch); none otherwise (the agent then installs nothing and says so).
 * The sh agent runs the install command its own config names per product.
 */
export function installCommandFor(fileName: string, silentSwitch: string | undefined): InstallCommand | null {
  if (/\.msi$/iu.test(fileName)) return { run: 'msiexec', arguments: ['/i', '{file}', '/qn', '/norestart'], successExitCodes };
  if (/\.msp$/iu.test(fileName)) return { run: 'msiexec', arguments: ['/p', '{file}', '/qn', '/norestart'], successExitCodes };
  if (/\.exe$/iu.test(fileName) && silentSwitch) return { run: 'installer', arguments: silentSwitch.split(/\s+/u).filter((part) => part !== ''), successExitCodes };
  return null;
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
export function planActions(state: LgwanState, checkIn: Pick<CheckIn, 'installed' | 'os'>, offer?: (productId: string, versions: Iterable<string>) => string | undefined): AgentAction[] {
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
      files: files.map((artifact) => ({
        fileName: artifact.fileName,
        url: `/${artifact.path.split('/').map(encodeURIComponent).join('/')}`,
        sha256: artifact.sha256,
        size: artifact.size,
        command: checkIn.os === 'windows' ? installCommandFor(artifact.fileName, product.winget?.silentSwitch) : null,
      })),
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
  /** The ring of the agent (by its tenant, address, tags and AD placement), what that ring is offered and under which approval. */
  rollout?(tenant: string, state: LgwanState, endpoint: Omit<EndpointFacts, 'address'>): Promise<{ ring: string; offer(productId: string, versions: Iterable<string>): string | undefined; approval(productId: string, version: string): ReleaseDecision | undefined }>;
  /** Where the install results the agent reports are kept (the admin store). */
  results?: { put(tenant: string, results: readonly InstallResult[]): Promise<void> };
  /** The clock deadlines and windows are compared with. */
  now(): Date;
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
  // The schema (and zod) loads with the first check-in, not with the repository (start-up, issue 18).
  const { checkInSchema } = await import('./check-in-schema.ts');
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
  const rollout = await options.rollout?.(agent.tenant, state, { tags: checkIn.tags ?? [], ...(checkIn.directory?.ou ? { ou: checkIn.directory.ou } : {}), ...(checkIn.directory?.groups ? { groups: checkIn.directory.groups } : {}) });
  const known = state.published ? new Set(state.published.products.map((product) => product.id)) : undefined;
  const unknownProducts = known ? [...new Set(checkIn.installed.filter((item) => !known.has(item.product)).map((item) => item.product))] : [];
  // The host name the check-in says, else the one given at enrollment.
  const hostname = checkIn.hostname ?? agent.hostname;
  for (const item of checkIn.installed) {
    if (known && !known.has(item.product)) continue;
    inventory?.record({ endpoint: { kind: 'agent', id: checkIn.agentId }, tenant: agent.tenant, ...(hostname ? { hostname } : {}), ...(rollout ? { ring: rollout.ring } : {}), source: 'agent', product: item.product, version: item.version, platform: item.platform, locale: item.locale });
  }
  const reportedAt = options.now().toISOString();
  const results: InstallResult[] = (checkIn.results ?? [])
    .filter((result) => !known || known.has(result.product))
    .map((result) => ({ tenant: agent.tenant, agentId: checkIn.agentId, ...(hostname ? { hostname } : {}), ring: rollout?.ring ?? 'all', ...result, reportedAt }));
  let resultsRecorded = results.length;
  try {
    // Most check-ins report no results: in a worker process, that saves a call into the primary.
    if (results.length > 0) await options.results?.put(agent.tenant, results);
  } catch (error) {
    // A tenant at its bound of kept results still gets its answer; only the report is lost.
    if (!(error instanceof LgwanMirrorError && error.code === 'E_SIZE_LIMIT')) throw error;
    resultsRecorded = 0;
  }
  const { actions, waiting } = scheduleActions(planActions(state, checkIn, rollout?.offer), (action) => rollout?.approval(action.product, action.version), options.now());
  ctx.set('Cache-Control', 'no-store');
  if (ctx.accepts('application/json', 'text/tab-separated-values') === 'text/tab-separated-values') {
    ctx.type = 'text/tab-separated-values; charset=utf-8';
    ctx.body = tsvAnswer(actions, waiting, unknownProducts, resultsRecorded);
    return;
  }
  ctx.body = { actions, waiting, unknownProducts, resultsRecorded, checkInIntervalSeconds: 3600 };
}

/** Splits what the ring is offered into what to install now and what waits for a window (the approval's schedule decides). */
export function scheduleActions(actions: readonly AgentAction[], approvalOf: (action: AgentAction) => ReleaseDecision | undefined, now: Date): { actions: PlannedAction[]; waiting: WaitingAction[] } {
  const planned: PlannedAction[] = [];
  const waiting: WaitingAction[] = [];
  for (const action of actions) {
    const timing = installTiming(approvalOf(action)?.schedule, now);
    if (timing.when === 'now') planned.push({ ...action, install: timing });
    else waiting.push({ product: action.product, installedVersion: action.installedVersion, version: action.version, reason: timing.reason, notBefore: timing.notBefore, deadline: timing.deadline });
  }
  return { actions: planned, waiting };
}

/**
 * The answer for the POSIX sh agent. One line per file to install now: product, installed
 * version, target version, file name, sha256, size, URL (the format older agents read). The
 * other lines start with "!" and have no SHA-256 where a file line has it, so an older agent
 * skips them: "!install" (product, version, why now, deadline or -), "!wait" (product,
 * version, not before, why, deadline or -), "!unknown-product" (id), "!results-recorded" (n, when
 * the check-in carried results).
 */
function tsvAnswer(actions: readonly PlannedAction[], waiting: readonly WaitingAction[], unknownProducts: readonly string[], resultsRecorded: number): string {
  const lines: string[] = [];
  for (const action of actions) {
    lines.push(['!install', action.product, action.version, action.install.reason, action.install.deadline ?? '-'].join('\t') + '\n');
    for (const file of action.files) lines.push([action.product, action.installedVersion, action.version, file.fileName, file.sha256, file.size, file.url].join('\t') + '\n');
  }
  for (const item of waiting) lines.push(['!wait', item.product, item.version, item.notBefore, item.reason, item.deadline ?? '-'].join('\t') + '\n');
  for (const product of unknownProducts) lines.push(`!unknown-product\t${product}\n`);
  // Only agents that report results read this line; an older one sends none and never sees it.
  if (resultsRecorded > 0) lines.push(`!results-recorded\t${resultsRecorded}\n`);
  return lines.join('');
}
