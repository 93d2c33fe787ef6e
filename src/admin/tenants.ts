import { isIP, type BlockList } from 'node:net';
import { proxyList } from '../core/address-list.ts';
import { defaultTimeZone } from './install-schedule.ts';
import { compileRings, type PoliciesConfig, type Ring, type RingConfig } from './rings.ts';

/** The tenant of a single-municipality install, which declares none. */
export const defaultTenantId = 'default';
/** Tenant ids appear in URLs (`/t/<id>/…`) and endpoint keys (`agent:<id>@<tenant>`). */
export const tenantIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/u;

export interface TenantConfig {
  id: string;
  name: string;
  /** Addresses and CIDR ranges this tenant's endpoints come from. */
  networks: readonly string[];
  /** The catalog subset offered to this tenant's endpoints and shown on its pages; all products when absent. */
  products?: readonly string[];
  /** Endpoint groups, first match wins; the last has no rules (issue 15). None: one ring `all`. */
  rings?: readonly RingConfig[];
  /** product id → ring id → release policy; absent: automatic. */
  policies?: PoliciesConfig;
  /** The IANA zone of maintenance windows and deadlines (default Asia/Tokyo). */
  timeZone?: string;
}

export interface Tenant extends TenantConfig {
  readonly zone: string;
  readonly networkList: BlockList;
  readonly offered: ReadonlySet<string> | undefined;
  readonly ringList: readonly Ring[];
  readonly releasePolicies: PoliciesConfig;
}

/**
 * The municipalities one LGWAN-ASP serves. An endpoint belongs to the tenant whose URL
 * prefix it uses (`/t/<id>/…`, for clients behind a shared NAT or a prefecture's proxy) or,
 * without a prefix, the first tenant whose networks hold its address. An install that
 * declares no tenant has one, `default`, holding every address.
 */
export class TenantDirectory {
  readonly #tenants: Tenant[];
  readonly #byId: Map<string, Tenant>;
  /** Addresses already placed (null: no tenant), bounded. */
  readonly #byAddress = new Map<string, Tenant | null>();
  /** True when the config declared no tenant: the implicit one holds everything. */
  readonly implicit: boolean;

  /** `implicitRollout`: the rings and policies of the implicit tenant (`lgwan.rings`, `lgwan.policies`). */
  constructor(configs: readonly TenantConfig[], implicitRollout: Pick<TenantConfig, 'rings' | 'policies' | 'timeZone'> = {}) {
    this.implicit = configs.length === 0;
    const effective: readonly TenantConfig[] = this.implicit ? [{ id: defaultTenantId, name: '', networks: ['0.0.0.0/0', '::/0'], ...implicitRollout }] : configs;
    this.#tenants = effective.map((config) => ({
      ...config,
      networkList: proxyList(config.networks),
      offered: config.products ? new Set(config.products) : undefined,
      ringList: compileRings(config.rings),
      releasePolicies: config.policies ?? {},
      zone: config.timeZone ?? defaultTimeZone,
    }));
    this.#byId = new Map(this.#tenants.map((tenant) => [tenant.id, tenant]));
  }

  list(): readonly Tenant[] {
    return this.#tenants;
  }

  byId(id: string): Tenant | undefined {
    return this.#byId.get(id);
  }

  forAddress(address: string): Tenant | undefined {
    // Every update check asks this; the networks never change while the process runs.
    const known = this.#byAddress.get(address);
    if (known !== undefined) return known ?? undefined;
    const family = isIP(address);
    const tenant = family === 0 ? (this.implicit ? this.#tenants[0] : undefined) : this.#tenants.find((candidate) => candidate.networkList.check(address, family === 6 ? 'ipv6' : 'ipv4'));
    if (this.#byAddress.size >= 65_536) this.#byAddress.clear();
    this.#byAddress.set(address, tenant ?? null);
    return tenant;
  }

  /** Whether the tenant's endpoints are offered the product (and its pages show it). */
  offers(tenant: Tenant | undefined, productId: string): boolean {
    return tenant?.offered === undefined || tenant.offered.has(productId);
  }
}
