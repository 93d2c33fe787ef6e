import type Router from '@koa/router';
import type { Context } from 'koa';
import type { InventoryStore } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { languageOf, type Language } from '../repository/i18n.ts';
import { readLimitedBody } from '../repository/read-limited-body.ts';
import { compareVersions } from '../versions/index.ts';
import { checkCsrf, holds, requireRole, type ConsoleState } from './access-guard.ts';
import type { AdminStore, AuditEntry } from './admin-store.ts';
import { renderApprovalsPage, type ApprovalProduct } from './approvals-page.ts';
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

/** Endpoints of the tenant per product, version and ring, from the inventory (read a page at a time). */
async function countsByRing(inventory: InventoryStore | undefined, tenant: Tenant, implicit: boolean): Promise<Map<string, Map<string, number>>> {
  const counts = new Map<string, Map<string, number>>();
  if (!inventory) return counts;
  const pageSize = 5000;
  for (let offset = 0; offset < 1_000_000; offset += pageSize) {
    const page = await inventory.listEndpoints({ offset, limit: pageSize, ...(implicit ? {} : { tenant: tenant.id }) });
    for (const endpoint of page) {
      // The ring of its latest report; an endpoint recorded before rings existed is placed by address.
      const ring = endpoint.ring && tenant.ringList.some((candidate) => candidate.id === endpoint.ring) ? endpoint.ring : ringOf(tenant.ringList, endpoint.kind === 'address' ? { address: endpoint.id } : {});
      for (const product of Object.values(endpoint.products)) {
        const key = `${product.product}\u0000${product.version}`;
        const perRing = counts.get(key) ?? new Map<string, number>();
        perRing.set(ring, (perRing.get(ring) ?? 0) + 1);
        counts.set(key, perRing);
      }
    }
    if (page.length < pageSize) break;
  }
  return counts;
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
    const counts = await countsByRing(options.inventory, scope.tenant, options.tenants.implicit);
    const now = options.now();
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
        antivirus: facts.antivirus,
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
            rings: scope.tenant.ringList.map((ring) => ({
              ring: ring.id,
              endpoints: counts.get(`${summary.id}\u0000${version}`)?.get(ring.id) ?? 0,
              offered: isOffered(rollout, facts, ring.id, version, now),
              approved: rollout.decisions.some((decision) => decision.kind === 'approve' && decision.product === summary.id && decision.version === version && decision.ring === ring.id),
            })),
          };
        }),
      });
    }
    const releaseFixes = await options.releaseFixes?.(ctx);
    ctx.body = renderApprovalsPage({ language, tenantQuery: tenantQuery(ctx), csrf: user.session.csrfToken, canChange: holds(user, scope, 'tenant-admin'), rings: scope.tenant.ringList.map((ring) => ring.id), products, ...(releaseFixes ? { releaseFixes } : {}) });
  });

  const decide = (kind: DecisionKind | 'release-hold' | 'withdraw-approval' | 'withdraw-decline') => async (ctx: Context) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const { user, scope } = requireRole(ctx, 'tenant-admin');
    const published = options.state(ctx);
    const product = published.published?.products.find((candidate) => candidate.id === form.get('product'));
    // A product outside the tenant's catalog subset does not exist for it.
    if (!product) return ctx.throw(404, 'not found');
    if (product.protocol?.type === 'clamav') return ctx.throw(400, 'antivirus signatures are always offered automatically');
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
      const decision: ReleaseDecision = { tenant: scope.tenantId, kind, product: product.id, version, ...(needsRing ? { ring: ringId } : {}), at, by: user.username };
      await store.putDecision(decision);
      const action = kind === 'approve' ? 'release-approve' : kind === 'decline' ? 'release-decline' : 'product-hold';
      await options.audit({ ...audited, action, subject: `${product.id} ${version}`, detail: kind === 'decline' ? 'declined for every ring' : `ring ${ringId}` });
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
