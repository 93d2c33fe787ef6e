import type Router from '@koa/router';
import type { Context } from 'koa';
import type { InventoryStore } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { languageOf, type Language } from '../repository/i18n.ts';
import { readLimitedBody } from '../repository/read-limited-body.ts';
import { compareVersions } from '../versions/index.ts';
import { checkCsrf, holds, requireRole, type ConsoleState } from './access-guard.ts';
import type { EndpointRecord } from '../coverage/inventory.ts';
import type { AdminStore, AuditEntry, InstallResult } from './admin-store.ts';
import { renderApprovalsPage, type ApprovalProduct, type PastDeadlineEndpoint } from './approvals-page.ts';
import { formatInZone, formatWindows, parseLocalDateTime, parseWindows, type ApprovalSchedule } from './install-schedule.ts';
import { decisionKey, isOffered, policyOf, ringOf, type DecisionKind, type ReleaseDecision } from './rings.ts';
import { productFacts, type Rollouts } from './rollouts.ts';
import type { Tenant, TenantDirectory } from './tenants.ts';

export interface ApprovalRoutesOptions {
  store: AdminStore;
  rollouts: Rollouts;
  /** The published state as the console scope's tenant sees it. */
  state(ctx: Context): LgwanState;
  inventory: InventoryStore | undefined;
  audit(entry: Omit<AuditEntry, 'at'>): Promise<void>;
  tenants: TenantDirectory;
  now(): Date;
  /** What each release fixes (issue 16): HTML for a release's cell, escaped by its renderer (repository/pages/exposure-page.ts). */
  releaseFixes?(ctx: Context): Promise<ReleaseFixesCell | undefined>;
}

export type ReleaseFixesCell = (product: string, version: string, language: Language) => string;

function validVersion(scheme: Parameters<typeof compareVersions>[0], version: string): boolean {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,127}$/u.test(version)) return false;
  try {
    compareVersions(scheme, version, version);
    return true;
  } catch {
    return false;
  }
}

async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'send the form as application/x-www-form-urlencoded');
  return new URLSearchParams(await readLimitedBody(ctx, 16 * 1024));
}

/** Every endpoint of the tenant in the inventory with its ring (read a page at a time). */
async function forEachEndpoint(inventory: InventoryStore | undefined, tenant: Tenant, implicit: boolean, visit: (endpoint: EndpointRecord, ring: string) => void): Promise<void> {
  if (!inventory) return;
  const pageSize = 5000;
  for (let offset = 0; offset < 1_000_000; offset += pageSize) {
    const page = await inventory.listEndpoints({ offset, limit: pageSize, ...(implicit ? {} : { tenant: tenant.id }) });
    for (const endpoint of page) {
      // The ring of its latest report; an endpoint recorded before rings existed is placed by address.
      const ring = endpoint.ring && tenant.ringList.some((candidate) => candidate.id === endpoint.ring) ? endpoint.ring : ringOf(tenant.ringList, endpoint.kind === 'address' ? { address: endpoint.id } : {});
      visit(endpoint, ring);
    }
    if (page.length < pageSize) break;
  }
}

const releaseKey = (product: string, version: string) => `${product}\u0000${version}`;

/** Endpoints per product, version and ring. */
function countEndpoint(counts: Map<string, Map<string, number>>, endpoint: EndpointRecord, ring: string): void {
  for (const product of Object.values(endpoint.products)) {
    const key = releaseKey(product.product, product.version);
    const perRing = counts.get(key) ?? new Map<string, number>();
    perRing.set(ring, (perRing.get(ring) ?? 0) + 1);
    counts.set(key, perRing);
  }
}

/** Rows of the "past a deadline" table the page shows at most; the total is counted beyond. */
const maxPastDeadlineRows = 500;

/**
 * Endpoints past a deadline: in the ring of an approval whose deadline passed, reporting the
 * product at a version older than the approved one (the approved version not reported
 * installed by then). An endpoint that does not report the product at all is not counted.
 */
function pastDeadlineCheck(approvals: readonly ReleaseDecision[], scheme: (product: string) => Parameters<typeof compareVersions>[0] | undefined, results: ReadonlyMap<string, InstallResult>, now: Date) {
  const due = approvals.filter((decision) => decision.schedule?.deadline !== undefined && Date.parse(decision.schedule.deadline) <= now.getTime());
  const rows: PastDeadlineEndpoint[] = [];
  let total = 0;
  const visit = (endpoint: EndpointRecord, ring: string) => {
    for (const approval of due) {
      if (approval.ring !== ring) continue;
      const productScheme = scheme(approval.product);
      if (!productScheme) continue;
      const behind = Object.values(endpoint.products).filter((product) => {
        if (product.product !== approval.product) return false;
        try {
          return compareVersions(productScheme, product.version, approval.version) < 0;
        } catch {
          return false;
        }
      });
      if (behind.length === 0) continue;
      total += 1;
      if (rows.length >= maxPastDeadlineRows) continue;
      const result = endpoint.kind === 'agent' ? results.get(JSON.stringify([endpoint.id, approval.product])) : undefined;
      rows.push({
        endpoint: endpoint.id,
        ...(endpoint.hostname ? { hostname: endpoint.hostname } : {}),
        ring,
        product: approval.product,
        installedVersion: behind.map((product) => product.version).join(', '),
        approvedVersion: approval.version,
        deadline: approval.schedule!.deadline!,
        ...(result ? { lastResult: { outcome: result.outcome, version: result.version, exitCode: result.exitCode, message: result.message, reportedAt: result.reportedAt } } : {}),
      });
    }
  };
  return { visit, pastDeadline: () => ({ rows, total }) };
}

/**
 * The deadline and windows of an approve form, in the tenant's zone; undefined when neither
 * is given. A malformed or past deadline, or malformed windows, answer 400 naming the field.
 */
function scheduleFromForm(ctx: Context, form: URLSearchParams, timeZone: string, now: Date): ApprovalSchedule | undefined {
  const deadlineText = (form.get('deadline') ?? '').trim();
  const windowsText = (form.get('windows') ?? '').trim();
  if (deadlineText === '' && windowsText === '') return undefined;
  let deadline: string | undefined;
  if (deadlineText !== '') {
    deadline = parseLocalDateTime(deadlineText, timeZone);
    if (deadline === undefined) return ctx.throw(400, `field "deadline": a date and time (YYYY-MM-DDTHH:MM, ${timeZone}), not "${deadlineText.slice(0, 40)}"`);
    if (Date.parse(deadline) <= now.getTime()) return ctx.throw(400, `field "deadline": ${formatInZone(deadline, timeZone)} has already passed`);
    if (Date.parse(deadline) > now.getTime() + 2 * 366 * 86_400_000) return ctx.throw(400, 'field "deadline": more than two years ahead');
  }
  let windows: ApprovalSchedule['windows'] = [];
  try {
    windows = parseWindows(windowsText);
  } catch (error) {
    return ctx.throw(400, `field "windows": ${(error as Error).message}`);
  }
  return { ...(deadline ? { deadline } : {}), windows, timeZone };
}

/**
 * The approval console (issue 15): per product and release, what each ring is offered and how
 * many of its endpoints run it; approve for a ring, decline, hold. Changes need a tenant admin
 * (or an operator), carry the session's CSRF token, are audited, and apply to the next client
 * request (the tenant's cached decisions are dropped on every change).
 */
export function addApprovalRoutes(router: Router, options: ApprovalRoutesOptions): void {
  const { store, rollouts } = options;
  const tenantQuery = (ctx: Context) => (typeof ctx.query.tenant === 'string' && ctx.query.tenant !== '' ? ctx.query.tenant : undefined);

  router.get('/approvals', async (ctx) => {
    const state = ctx.state as ConsoleState;
    const language = languageOf(ctx.query.lang);
    ctx.type = 'text/html; charset=utf-8';
    if (!state.user || !state.scope) return ctx.throw(401, 'sign in first');
    if (!state.scope.tenant) {
      ctx.body = renderApprovalsPage({ language, tenantQuery: tenantQuery(ctx), csrf: state.user.session.csrfToken, canChange: false, rings: [], products: [], chooseTenant: true });
      return;
    }
    const { user, scope } = requireRole(ctx, 'tenant-viewer');
    const published = options.state(ctx);
    const rollout = await rollouts.rollout(scope.tenant, published);
    const now = options.now();
    const installResults = await store.listInstallResults(scope.tenant.id);
    const resultsByAgent = new Map(installResults.map((result) => [JSON.stringify([result.agentId, result.product]), result]));
    const failures = new Map<string, number>();
    for (const result of installResults) {
      if (result.outcome !== 'failed') continue;
      const key = `${releaseKey(result.product, result.version)}\u0000${result.ring}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    const counts = new Map<string, Map<string, number>>();
    const schemeOf = (productId: string) => published.published?.products.find((candidate) => candidate.id === productId)?.scheme;
    const deadlines = pastDeadlineCheck(rollout.decisions.filter((decision) => decision.kind === 'approve'), schemeOf, resultsByAgent, now);
    await forEachEndpoint(options.inventory, scope.tenant, options.tenants.implicit, (endpoint, ring) => {
      countEndpoint(counts, endpoint, ring);
      deadlines.visit(endpoint, ring);
    });
    const products: ApprovalProduct[] = [];
    for (const summary of published.published?.products ?? []) {
      const facts = productFacts(published, summary.id)!;
      const byVersion = new Map<string, NonNullable<LgwanState['published']>['artifacts']>();
      for (const artifact of published.published!.artifacts) if (artifact.productId === summary.id && artifact.role === 'payload') byVersion.set(artifact.version, [...(byVersion.get(artifact.version) ?? []), artifact]);
      const versions = [...byVersion.keys()].sort((a, b) => {
        try {
          return compareVersions(summary.scheme, b, a);
        } catch {
          return a < b ? 1 : -1;
        }
      });
      const hold = (ring: string) => rollout.decisions.find((decision) => decision.kind === 'hold' && decision.product === summary.id && decision.ring === ring)?.version;
      products.push({
        id: summary.id,
        name: summary.name,
        vendor: summary.vendor,
        // Antivirus signatures no policy names are offered as published: nothing to decide on.
        antivirus: facts.antivirus && scope.tenant.releasePolicies[summary.id] === undefined,
        policies: scope.tenant.ringList.map((ring) => ({ ring: ring.id, policy: policyOf(rollout, facts, ring.id), ...(hold(ring.id) ? { heldAt: hold(ring.id)! } : {}) })),
        releases: versions.map((version) => {
          const artifacts = byVersion.get(version)!;
          return {
            version,
            publishedAt: rollout.publishedAt(summary.id, version) ?? null,
            verification: [...new Set(artifacts.map((artifact) => artifact.verification.method))],
            size: artifacts.reduce((total, artifact) => total + artifact.size, 0),
            files: artifacts.length,
            declined: rollout.decisions.some((decision) => decision.kind === 'decline' && decision.product === summary.id && decision.version === version),
            rings: scope.tenant.ringList.map((ring) => {
              const approval = rollout.decisions.find((decision) => decision.kind === 'approve' && decision.product === summary.id && decision.version === version && decision.ring === ring.id);
              return {
                ring: ring.id,
                endpoints: counts.get(releaseKey(summary.id, version))?.get(ring.id) ?? 0,
                offered: isOffered(rollout, facts, ring.id, version, now),
                approved: approval !== undefined,
                ...(approval?.schedule ? { schedule: approval.schedule } : {}),
                failures: failures.get(`${releaseKey(summary.id, version)}\u0000${ring.id}`) ?? 0,
              };
            }),
          };
        }),
      });
    }
    const releaseFixes = await options.releaseFixes?.(ctx);
    ctx.body = renderApprovalsPage({ language, tenantQuery: tenantQuery(ctx), csrf: user.session.csrfToken, canChange: holds(user, scope, 'tenant-approver'), rings: scope.tenant.ringList.map((ring) => ring.id), products, timeZone: scope.tenant.zone, pastDeadline: deadlines.pastDeadline(), ...(releaseFixes ? { releaseFixes } : {}) });
  });

  const decide = (kind: DecisionKind | 'release-hold' | 'withdraw-approval' | 'withdraw-decline') => async (ctx: Context) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const { user, scope } = requireRole(ctx, 'tenant-approver');
    const published = options.state(ctx);
    const product = published.published?.products.find((candidate) => candidate.id === form.get('product'));
    // A product outside the tenant's catalog subset does not exist for it.
    if (!product) return ctx.throw(404, 'not found');
    if (product.protocol?.type === 'clamav' && scope.tenant.releasePolicies[product.id] === undefined) return ctx.throw(400, 'antivirus signatures are offered automatically unless the tenant\'s policies name them');
    const version = form.get('version') ?? '';
    const ringId = form.get('ring') ?? '';
    const needsRing = kind !== 'decline' && kind !== 'withdraw-decline';
    if (needsRing && !scope.tenant.ringList.some((ring) => ring.id === ringId)) return ctx.throw(400, `no ring "${ringId.slice(0, 40)}" in this tenant`);
    const releases = new Set(published.published!.artifacts.filter((artifact) => artifact.productId === product.id).map((artifact) => artifact.version));
    if ((kind === 'approve' || kind === 'decline') && !releases.has(version)) return ctx.throw(404, 'not found');
    // A ring may be held at the version its endpoints run, published here or not: any version of the product's scheme.
    if (kind === 'hold' && !validVersion(product.scheme, version)) return ctx.throw(400, 'not a version of this product');
    const at = options.now().toISOString();
    const audited = { tenant: scope.tenantId, actor: user.username, address: ctx.ip, outcome: 'success' as const };
    if (kind === 'withdraw-approval' || kind === 'withdraw-decline') {
      const key = kind === 'withdraw-approval' ? decisionKey({ kind: 'approve', product: product.id, version, ring: ringId }) : decisionKey({ kind: 'decline', product: product.id, version, ring: undefined });
      if (!(await store.removeDecision(scope.tenantId, key))) return ctx.throw(404, 'not found');
      await options.audit({ ...audited, action: 'release-withdraw', subject: `${product.id} ${version}`, detail: kind === 'withdraw-approval' ? `approval for ring ${ringId} withdrawn` : 'decline withdrawn' });
    } else if (kind === 'release-hold') {
      const removed = await store.removeDecision(scope.tenantId, decisionKey({ kind: 'hold', product: product.id, version: '', ring: ringId }));
      if (!removed) return ctx.throw(404, 'not found');
      await options.audit({ ...audited, action: 'product-hold', subject: `${product.id}@${ringId}`, detail: 'hold released' });
    } else {
      const schedule = kind === 'approve' ? scheduleFromForm(ctx, form, scope.tenant.zone, options.now()) : undefined;
      // Approving again (a new deadline or windows) keeps when it was first approved: a delay counted from it does not restart.
      const earlier = kind === 'approve' ? (await store.listDecisions(scope.tenantId)).find((decision) => decisionKey(decision) === decisionKey({ kind, product: product.id, version, ring: ringId })) : undefined;
      const decision: ReleaseDecision = { tenant: scope.tenantId, kind, product: product.id, version, ...(needsRing ? { ring: ringId } : {}), at: earlier?.at ?? at, by: user.username, ...(schedule ? { schedule } : {}) };
      await store.putDecision(decision);
      const action = kind === 'approve' ? 'release-approve' : kind === 'decline' ? 'release-decline' : 'product-hold';
      const scheduleDetail = schedule ? [schedule.deadline ? `deadline ${formatInZone(schedule.deadline, schedule.timeZone)}` : '', schedule.windows.length > 0 ? `windows ${formatWindows(schedule.windows)} (${schedule.timeZone})` : ''].filter(Boolean).join('; ') : '';
      await options.audit({ ...audited, action, subject: `${product.id} ${version}`, detail: kind === 'decline' ? 'declined for every ring' : `ring ${ringId}${scheduleDetail ? `; ${scheduleDetail}` : ''}` });
    }
    rollouts.invalidate(scope.tenantId);
    ctx.status = 303;
    ctx.redirect(`/approvals${ctx.search}`);
  };
  router.post('/approvals/approve', decide('approve'));
  router.post('/approvals/decline', decide('decline'));
  router.post('/approvals/hold', decide('hold'));
  router.post('/approvals/release-hold', decide('release-hold'));
  router.post('/approvals/withdraw-approval', decide('withdraw-approval'));
  router.post('/approvals/withdraw-decline', decide('withdraw-decline'));
}
