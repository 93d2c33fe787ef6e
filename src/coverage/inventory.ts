import path from 'node:path';
import type { Low } from 'lowdb';
import { openJsonState } from '../store/json-state.ts';
import { defaultTenantId } from '../admin/tenants.ts';
import { endpointKey, inTenant, recordsCoverageSource, tenantOf, type CoverageSource } from './coverage-source.ts';
import { profilesOfRecords, type VersionProfileSource } from './version-profiles.ts';

/** Where an endpoint's identity came from, strongest first. */
export type IdentityKind = 'agent' | 'freshclam-uuid' | 'address';

export interface InventoryObservation {
  endpoint: { kind: IdentityKind; id: string };
  /** The tenant the endpoint belongs to; the implicit one when absent. */
  tenant?: string;
  /** The host name an agent reports (native updaters send none). */
  hostname?: string;
  /** The ring the endpoint was placed in for this request (issue 15). */
  ring?: string;
  /** Which client told us: mozilla-aus, freshclam, apt, winget, agent. */
  source: string;
  product: string;
  version: string;
  platform?: string;
  locale?: string;
  channel?: string;
}

export interface EndpointRecord {
  kind: IdentityKind;
  id: string;
  /** Absent for the implicit tenant (and in records written before tenants existed). */
  tenant?: string;
  /** The host name the endpoint last reported, if it reports one (agents). */
  hostname?: string;
  /** The ring the endpoint was in at its latest report. */
  ring?: string;
  firstSeen: string;
  lastSeen: string;
  /** product key (product[/platform][/channel]) → what the endpoint runs. */
  products: Record<string, EndpointProduct>;
}

export interface EndpointProduct {
  product: string;
  version: string;
  platform?: string;
  locale?: string;
  channel?: string;
  source: string;
  seenAt: string;
  /** When each recent version was first seen on this endpoint: how fast updates spread. */
  firstSeen: Record<string, string>;
}

/** Versions remembered per endpoint and product; older ones say nothing about current releases. */
export const historyLength = 8;
/** Products one endpoint record may hold; a report of one more new product is dropped. */
export const maxProductsPerEndpoint = 64;

export interface InventoryState {
  endpoints: Record<string, EndpointRecord>;
}

/** How the inventory's writes are going: shown as an alarm when the store cannot be written. */
export interface InventoryHealth {
  backend: 'lowdb' | 'postgresql';
  pending: number;
  lastWriteAt: string | null;
  lastError: { at: string; message: string } | null;
}

/**
 * The endpoint inventory as the repository uses it, whatever holds it: lowdb (one JSON file,
 * the embedded default for one municipality) or PostgreSQL (a prefecture's provider, several
 * replicas sharing one database). Update checks only call `record`, which never waits for
 * a write: both stores batch observations in memory and write them every few seconds.
 */
export interface InventoryStore extends CoverageSource, VersionProfileSource {
  readonly backend: InventoryHealth['backend'];
  record(observation: InventoryObservation, now?: Date): void;
  /** Endpoints of one tenant, or of all when `tenant` is undefined. */
  countEndpoints(tenant?: string): Promise<number>;
  /** Most recently seen first (ties by key), a page at a time. */
  listEndpoints(page: { offset: number; limit: number; tenant?: string }): Promise<EndpointRecord[]>;
  /** The record, when it belongs to `tenant` (any tenant's when undefined): another tenant's key is "not found". */
  getEndpoint(key: string, tenant?: string): Promise<EndpointRecord | undefined>;
  health(): InventoryHealth;
  /** Writes what is pending now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const productKeyOf = (observation: Pick<InventoryObservation, 'product' | 'platform' | 'channel'>) =>
  [observation.product, observation.platform, observation.channel].filter(Boolean).join('/');

/** Folds one observation into an endpoint record (both stores keep records of this shape). */
export function applyObservation(endpoints: Record<string, EndpointRecord>, observation: InventoryObservation, at: string): void {
  const tenant = observation.tenant === undefined || observation.tenant === defaultTenantId ? undefined : observation.tenant;
  const key = endpointKey({ ...observation.endpoint, tenant });
  const endpoint = (endpoints[key] ??= { kind: observation.endpoint.kind, id: observation.endpoint.id, ...(tenant ? { tenant } : {}), firstSeen: at, lastSeen: at, products: {} });
  // The newest report names the host (a renamed PC shows its new name).
  if (observation.hostname !== undefined && at >= endpoint.lastSeen) endpoint.hostname = observation.hostname;
  if (observation.ring !== undefined && at >= endpoint.lastSeen) endpoint.ring = observation.ring;
  if (at > endpoint.lastSeen) endpoint.lastSeen = at;
  if (at < endpoint.firstSeen) endpoint.firstSeen = at;
  const productKey = productKeyOf(observation);
  const previous = endpoint.products[productKey];
  // The common case on the hot path, an endpoint reporting again what it reported before: only
  // the time moves, so the record is updated where it is, without building a new one.
  if (
    previous !== undefined &&
    previous.seenAt <= at &&
    previous.version === observation.version &&
    previous.source === observation.source &&
    previous.platform === observation.platform &&
    previous.locale === observation.locale &&
    previous.channel === observation.channel &&
    previous.firstSeen[observation.version] !== undefined &&
    previous.firstSeen[observation.version]! <= at
  ) {
    previous.seenAt = at;
    return;
  }
  // Issue 13: 5,000 update checks with invented channels made one address hold 5,000 records.
  if (!previous && Object.keys(endpoint.products).length >= maxProductsPerEndpoint) return;
  const firstSeen = { ...previous?.firstSeen };
  if (firstSeen[observation.version] === undefined || at < firstSeen[observation.version]!) firstSeen[observation.version] = at;
  const versions = Object.entries(firstSeen).sort(([versionA, a], [versionB, b]) => a.localeCompare(b) || versionA.localeCompare(versionB));
  // An observation older than what is stored (a late batch) adds history, not the current version.
  const latest: Omit<EndpointProduct, 'firstSeen' | 'product'> = previous && previous.seenAt > at ? previous : { ...observation, seenAt: at };
  endpoint.products[productKey] = {
    product: observation.product,
    version: latest.version,
    ...(latest.platform ? { platform: latest.platform } : {}),
    ...(latest.locale ? { locale: latest.locale } : {}),
    ...(latest.channel ? { channel: latest.channel } : {}),
    source: latest.source,
    seenAt: latest.seenAt,
    firstSeen: Object.fromEntries(versions.slice(-historyLength)),
  };
}

/**
 * The embedded default: one lowdb JSON file, held in memory. One record per identity with,
 * per product, the version it last reported and when. Nothing else from a request is kept
 * (no URLs, no user agents, no OS details). Observations are written every few seconds,
 * so an update check never waits for a disk write.
 */
export class LowdbInventory implements InventoryStore {
  readonly backend = 'lowdb' as const;
  readonly #database: Low<InventoryState>;
  readonly #source: CoverageSource;
  #dirty = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #lastWriteAt: string | null = null;
  #lastError: InventoryHealth['lastError'] = null;
  #sorted: EndpointRecord[] | undefined;

  private constructor(database: Low<InventoryState>, flushIntervalMs: number) {
    this.#database = database;
    this.#source = recordsCoverageSource(() => Object.values(this.#database.data.endpoints));
    if (flushIntervalMs > 0) {
      this.#timer = setInterval(() => void this.flush().catch(() => undefined), flushIntervalMs);
      this.#timer.unref();
    }
  }

  static async open(storageRoot: string, options: { flushIntervalMs?: number } = {}): Promise<LowdbInventory> {
    const database = await openJsonState<InventoryState>(path.join(storageRoot, 'inventory.json'), { endpoints: {} });
    return new LowdbInventory(database, options.flushIntervalMs ?? 5000);
  }

  record(observation: InventoryObservation, now = new Date()): void {
    applyObservation(this.#database.data.endpoints, observation, now.toISOString());
    this.#dirty += 1;
    this.#sorted = undefined;
  }

  versionsByProduct = (tenant?: string) => this.#source.versionsByProduct(tenant);
  tally: CoverageSource['tally'] = (request) => this.#source.tally(request);
  endpointCounts = (staleBefore: Date, tenant?: string) => this.#source.endpointCounts(staleBefore, tenant);
  versionProfiles: VersionProfileSource['versionProfiles'] = async (request) => profilesOfRecords(Object.values(this.#database.data.endpoints), request);

  async countEndpoints(tenant?: string): Promise<number> {
    if (tenant === undefined) return Object.keys(this.#database.data.endpoints).length;
    let count = 0;
    for (const _ of inTenant(Object.values(this.#database.data.endpoints), tenant)) count += 1;
    return count;
  }

  async listEndpoints(page: { offset: number; limit: number; tenant?: string }): Promise<EndpointRecord[]> {
    this.#sorted ??= Object.entries(this.#database.data.endpoints)
      .sort(([keyA, a], [keyB, b]) => b.lastSeen.localeCompare(a.lastSeen) || (keyA < keyB ? -1 : 1))
      .map(([, endpoint]) => endpoint);
    const sorted = page.tenant === undefined ? this.#sorted : [...inTenant(this.#sorted, page.tenant)];
    return sorted.slice(page.offset, page.offset + page.limit);
  }

  async getEndpoint(key: string, tenant?: string): Promise<EndpointRecord | undefined> {
    const record = Object.hasOwn(this.#database.data.endpoints, key) ? this.#database.data.endpoints[key] : undefined;
    return record && (tenant === undefined || tenantOf(record) === tenant) ? record : undefined;
  }

  health(): InventoryHealth {
    return { backend: this.backend, pending: this.#dirty, lastWriteAt: this.#lastWriteAt, lastError: this.#lastError };
  }

  /** Writes pending observations (temp file, fsync, rename); one write at a time. */
  flush(): Promise<void> {
    // A failed write is reported to its caller; the next flush tries again with everything.
    this.#flushing = this.#flushing.catch(() => undefined).then(async () => {
      if (this.#dirty === 0) return;
      const writing = this.#dirty;
      try {
        await this.#database.write();
        this.#dirty -= writing;
        this.#lastWriteAt = new Date().toISOString();
        this.#lastError = null;
      } catch (error) {
        this.#lastError = { at: new Date().toISOString(), message: (error as Error).message };
        throw error;
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.flush();
  }
}

/** What a protocol handler needs: somewhere to put what an endpoint reported. */
export type ObservationSink = Pick<InventoryStore, 'record'>;
