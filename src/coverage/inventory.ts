import path from 'node:path';
import type { Low } from 'lowdb';
import { openJsonState } from '../store/json-state.ts';

/** Where an endpoint's identity came from, strongest first. */
export type IdentityKind = 'agent' | 'freshclam-uuid' | 'address';

export interface InventoryObservation {
  endpoint: { kind: IdentityKind; id: string };
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
const historyLength = 8;

export interface InventoryState {
  endpoints: Record<string, EndpointRecord>;
}

/**
 * The endpoint inventory: one record per identity with, per product, the version it last
 * reported and when. Nothing else from a request is kept (no URLs, no user agents, no
 * OS details). Observations are batched in memory and written every few seconds, so an
 * update check never waits for a disk write.
 */
export class Inventory {
  readonly #database: Low<InventoryState>;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(database: Low<InventoryState>, flushIntervalMs: number) {
    this.#database = database;
    if (flushIntervalMs > 0) {
      this.#timer = setInterval(() => void this.flush(), flushIntervalMs);
      this.#timer.unref();
    }
  }

  static async open(storageRoot: string, options: { flushIntervalMs?: number } = {}): Promise<Inventory> {
    const database = await openJsonState<InventoryState>(path.join(storageRoot, 'inventory.json'), { endpoints: {} });
    return new Inventory(database, options.flushIntervalMs ?? 5000);
  }

  record(observation: InventoryObservation, now = new Date()): void {
    const at = now.toISOString();
    const key = `${observation.endpoint.kind}:${observation.endpoint.id}`;
    const endpoints = this.#database.data.endpoints;
    const endpoint = (endpoints[key] ??= { kind: observation.endpoint.kind, id: observation.endpoint.id, firstSeen: at, lastSeen: at, products: {} });
    endpoint.lastSeen = at;
    const productKey = [observation.product, observation.platform, observation.channel].filter(Boolean).join('/');
    const firstSeen = { ...endpoint.products[productKey]?.firstSeen };
    firstSeen[observation.version] ??= at;
    const versions = Object.entries(firstSeen).sort(([, a], [, b]) => a.localeCompare(b));
    endpoint.products[productKey] = {
      product: observation.product,
      version: observation.version,
      ...(observation.platform ? { platform: observation.platform } : {}),
      ...(observation.locale ? { locale: observation.locale } : {}),
      ...(observation.channel ? { channel: observation.channel } : {}),
      source: observation.source,
      seenAt: at,
      firstSeen: Object.fromEntries(versions.slice(-historyLength)),
    };
    this.#dirty = true;
  }

  endpoints(): EndpointRecord[] {
    return Object.values(this.#database.data.endpoints);
  }

  /** Writes pending observations (temp file, fsync, rename); one write at a time. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      await this.#database.write();
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.flush();
  }
}
