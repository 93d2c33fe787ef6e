import type { Context, Middleware } from 'koa';
import type { InventoryObservation, InventoryStore } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { routeKind, type ConsoleState } from './access-guard.ts';
import type { Tenant, TenantDirectory } from './tenants.ts';

/**
 * The tenant of an endpoint calling a protocol route: `/t/<id>/…` names it (the prefix is
 * removed before routing, so every protocol works under it), otherwise its address does.
 * An unknown prefix is 404. A request no tenant claims is still served (patching it is
 * better than not), but nothing it reports is recorded; the operator sees their count.
 */
export function clientTenant(tenants: TenantDirectory): Middleware {
  return async (ctx, next) => {
    const prefixed = /^\/t\/([a-z0-9-]+)(\/.*)$/u.exec(ctx.path);
    if (prefixed) {
      const tenant = tenants.byId(prefixed[1]!);
      if (!tenant || routeKind(prefixed[2]!) !== 'protocol') {
        ctx.status = 404;
        ctx.body = { error: 'not found' };
        return;
      }
      (ctx.state as ConsoleState).clientTenant = tenant;
      ctx.path = prefixed[2]!;
      return next();
    }
    if (routeKind(ctx.path) === 'protocol') {
      const tenant = tenants.forAddress(ctx.ip);
      if (tenant) (ctx.state as ConsoleState).clientTenant = tenant;
    }
    return next();
  };
}

/** Distinct freshclam UUIDs one address may add per tenant: a loop inventing UUIDs cannot fill the inventory. */
export const nativeIdentitiesPerAddress = 16;

/**
 * Where native updaters' observations go (Firefox, freshclam, apt, winget). They cannot
 * authenticate, so they are recorded under the address or freshclam's UUID only (never as an
 * agent, so they cannot replace an enrolled agent's record), stamped with the request's
 * tenant, and bounded per address.
 */
export class NativeObservations {
  readonly #inventory: InventoryStore | undefined;
  readonly #identities = new Map<string, Set<string>>();
  unassigned = 0;
  dropped = 0;

  constructor(inventory: InventoryStore | undefined) {
    this.#inventory = inventory;
  }

  /** A sink for one request's observations. */
  for(ctx: Context): Pick<InventoryStore, 'record'> | undefined {
    return this.sinkFor((ctx.state as ConsoleState).clientTenant, ctx.ip);
  }

  /** The same for a request whose tenant and address are known (the hot path has no Koa context). */
  sinkFor(tenant: Tenant | undefined, address: string): Pick<InventoryStore, 'record'> | undefined {
    const inventory = this.#inventory;
    if (!inventory) return undefined;
    return {
      record: (observation: InventoryObservation, now?: Date) => {
        if (!tenant) {
          this.unassigned += 1;
          return;
        }
        if (observation.endpoint.kind === 'agent') return;
        if (observation.endpoint.kind === 'freshclam-uuid' && !this.#admit(`${tenant.id}\u0000${address}`, observation.endpoint.id)) {
          this.dropped += 1;
          return;
        }
        inventory.record({ ...observation, tenant: tenant.id }, now);
      },
    };
  }

  #admit(address: string, id: string): boolean {
    let seen = this.#identities.get(address);
    if (!seen) {
      this.#identities.set(address, (seen = new Set()));
      if (this.#identities.size > 100_000) this.#identities.delete(this.#identities.keys().next().value!);
    }
    if (seen.has(id)) return true;
    if (seen.size >= nativeIdentitiesPerAddress) return false;
    seen.add(id);
    return true;
  }
}

/** The published state as one tenant's endpoints and pages see it: only its catalog subset. */
export class TenantStates {
  readonly #cache = new WeakMap<object, Map<string, NonNullable<LgwanState['published']>>>();
  readonly #tenants: TenantDirectory;

  constructor(tenants: TenantDirectory) {
    this.#tenants = tenants;
  }

  of(state: LgwanState, tenant: Tenant | string | undefined): LgwanState {
    const resolved = typeof tenant === 'string' ? this.#tenants.byId(tenant) : tenant;
    const published = state.published;
    if (!resolved?.offered || !published) return state;
    let perTenant = this.#cache.get(published);
    if (!perTenant) this.#cache.set(published, (perTenant = new Map()));
    let filtered = perTenant.get(resolved.id);
    if (!filtered) {
      const offered = resolved.offered;
      // The same object for the same publication, so caches keyed by it (coverage) keep working.
      filtered = { ...published, products: published.products.filter((product) => offered.has(product.id)), artifacts: published.artifacts.filter((artifact) => offered.has(artifact.productId)) };
      perTenant.set(resolved.id, filtered);
    }
    return { ...state, published: filtered };
  }
}
