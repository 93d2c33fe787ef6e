import type { LgwanState } from '../importer/lgwan-state.ts';
import type { AdminStore } from './admin-store.ts';
import { allowedSince, isOffered, offeredVersion, ringOf, type EndpointFacts, type ProductFacts, type ReleaseDecision, type TenantRollout } from './rings.ts';
import type { Tenant } from './tenants.ts';

/** What one request's endpoint is offered: its ring, and the newest allowed version of a product. */
export interface RolloutView {
  readonly tenant: Tenant | undefined;
  readonly ring: string;
  /** Of `versions` (published releases the client could take), the newest its ring may have; undefined: none. */
  offer(productId: string, versions: Iterable<string>): string | undefined;
  /** Whether this endpoint's ring may have `version` (an older allowed release included). */
  allows(productId: string, version: string): boolean;
  /**
   * What decided: the same object as long as the decisions on record are the same, so an
   * answer computed from this view may be kept while `epoch` and the published state stay.
   */
  readonly epoch: object;
  /** When (ms) a delay makes one of `versions` available that is not yet: an answer kept until then. */
  changesAt(productId: string, versions: Iterable<string>): number;
  /** The approval of `version` for this endpoint's ring, if one is on record (its deadline and windows). */
  approval(productId: string, version: string): ReleaseDecision | undefined;
}

const noTenantEpoch = {};

/**
 * The tenants' decisions as the protocols read them. Decisions come from the admin store,
 * kept for a short while (replicas sharing PostgreSQL see another replica's decision within
 * `ttlMs`); a decision made through this process drops its tenant's copy at once, so it takes
 * effect on the next client request without a restart.
 */
export class Rollouts {
  readonly #store: AdminStore;
  readonly #now: () => Date;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { until: number; decisions: Promise<ReleaseDecision[]>; settled?: ReleaseDecision[] }>();
  /** The last decisions read per tenant: a read that returns the same decisions keeps this object (and so the epoch). */
  readonly #last = new Map<string, { json: string; decisions: ReleaseDecision[] }>();

  constructor(store: AdminStore, now: () => Date, ttlMs = 2000) {
    this.#store = store;
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  invalidate(tenant: string): void {
    this.#cache.delete(tenant);
    this.#last.delete(tenant);
  }

  decisions(tenant: string): Promise<ReleaseDecision[]> {
    const now = Date.now();
    const cached = this.#cache.get(tenant);
    if (cached && cached.until > now) return cached.decisions;
    const entry: { until: number; decisions: Promise<ReleaseDecision[]>; settled?: ReleaseDecision[] } = { until: now + this.#ttlMs, decisions: Promise.resolve([]) };
    entry.decisions = this.#store.listDecisions(tenant).then((read) => {
      // Unchanged decisions keep their object: answers kept under the epoch stay valid past the TTL.
      const json = JSON.stringify(read);
      const last = this.#last.get(tenant);
      const decisions = last && last.json === json ? last.decisions : read;
      if (decisions !== last?.decisions) this.#last.set(tenant, { json, decisions });
      if (this.#last.size > 10_000) this.#last.delete(this.#last.keys().next().value!);
      entry.settled = decisions;
      return decisions;
    });
    // A failed read is not kept: the next request asks the store again.
    entry.decisions.catch(() => this.#cache.get(tenant) === entry && this.#cache.delete(tenant));
    this.#cache.set(tenant, entry);
    if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!);
    return entry.decisions;
  }

  /** The decisions when they are in memory and fresh; undefined when they must be read (the hot path then defers). */
  decisionsNow(tenant: string): ReleaseDecision[] | undefined {
    const cached = this.#cache.get(tenant);
    return cached && cached.until > Date.now() ? cached.settled : undefined;
  }

  /** The rollout of `tenant` over the published `state` (the tenant's catalog subset). */
  async rollout(tenant: Tenant, state: LgwanState): Promise<TenantRollout> {
    return rolloutOf(tenant, state, await this.decisions(tenant.id));
  }

  /** The view of one endpoint (by address, and the tags an enrolled agent reports). */
  async view(tenant: Tenant | undefined, state: LgwanState, endpoint: EndpointFacts): Promise<RolloutView> {
    return this.#viewOf(tenant, state, endpoint, tenant ? await this.decisions(tenant.id) : []);
  }

  /** The same view, now, when the tenant's decisions are in memory (the hot path); undefined otherwise. */
  viewNow(tenant: Tenant | undefined, state: LgwanState, endpoint: EndpointFacts): RolloutView | undefined {
    const decisions = tenant ? this.decisionsNow(tenant.id) : [];
    return decisions && this.#viewOf(tenant, state, endpoint, decisions);
  }

  #viewOf(tenant: Tenant | undefined, state: LgwanState, endpoint: EndpointFacts, decisions: ReleaseDecision[]): RolloutView {
    if (!tenant) {
      // An endpoint no tenant claims: no tenant decided anything for it; it gets the newest, as before.
      return { tenant, ring: 'all', offer: (productId, versions) => newest(state, productId, versions), allows: () => true, approval: () => undefined, epoch: noTenantEpoch, changesAt: () => Number.POSITIVE_INFINITY };
    }
    const rollout = rolloutOf(tenant, state, decisions);
    const ring = ringOf(rollout.rings, endpoint);
    const now = this.#now();
    return {
      tenant,
      ring,
      epoch: rollout.decisions,
      changesAt: (productId, versions) => {
        const product = productFacts(state, productId);
        let soonest = Number.POSITIVE_INFINITY;
        if (!product) return soonest;
        for (const version of versions) {
          const since = allowedSince(rollout, product, ring, version);
          if (since !== undefined && since > now.getTime() && since < soonest) soonest = since;
        }
        return soonest;
      },
      offer: (productId, versions) => {
        const product = productFacts(state, productId);
        return product ? offeredVersion(rollout, product, ring, versions, now) : undefined;
      },
      allows: (productId, version) => {
        const product = productFacts(state, productId);
        return product !== undefined && isOffered(rollout, product, ring, version, now);
      },
      approval: (productId, version) => rollout.decisions.find((decision) => decision.kind === 'approve' && decision.product === productId && decision.version === version && decision.ring === ring),
    };
  }
}

function rolloutOf(tenant: Tenant, state: LgwanState, decisions: ReleaseDecision[]): TenantRollout {
  return {
    rings: tenant.ringList,
    policies: tenant.releasePolicies,
    decisions,
    publishedAt: (product, version) => state.firstPublished[product]?.[version] ?? state.published?.publishedAt,
  };
}

export function productFacts(state: LgwanState, productId: string): ProductFacts | undefined {
  const product = state.published?.products.find((candidate) => candidate.id === productId);
  return product ? { id: product.id, scheme: product.scheme, antivirus: product.protocol?.type === 'clamav' } : undefined;
}

function newest(state: LgwanState, productId: string, versions: Iterable<string>): string | undefined {
  const product = productFacts(state, productId);
  if (!product) return undefined;
  return offeredVersion({ rings: [], policies: {}, decisions: [], publishedAt: () => undefined }, { ...product, antivirus: true }, 'all', versions, new Date());
}
