import type { PrimaryLink } from '../sides/worker-channel.ts';
import type { CoverageSource, TallyRequest } from './coverage-source.ts';
import type { EndpointRecord, InventoryHealth, InventoryObservation, InventoryStore } from './inventory.ts';

/** An observation and when it was made (ms), as a worker sends it. */
export type TimedObservation = [InventoryObservation, number];

/** What the primary adds to its inventory for its workers. */
export interface InventoryIntake {
  /** Records a worker's batch; each observation exactly once, at the time the worker saw it. */
  recordBatch(batch: TimedObservation[]): number;
  healthNow(): InventoryHealth;
}

export function inventoryIntake(inventory: InventoryStore): InventoryIntake {
  return {
    recordBatch(batch) {
      for (const [observation, at] of batch) inventory.record(observation, new Date(at));
      return batch.length;
    },
    healthNow: () => inventory.health(),
  };
}

/**
 * A worker's inventory: observations are kept in an array and sent to the primary in batches
 * (every `intervalMs`, or at `batchSize`), where the one real store folds them in; reads are
 * calls into the primary. An update check never waits for the primary.
 */
export class ForwardedInventory implements InventoryStore {
  readonly backend: InventoryHealth['backend'];
  readonly #link: PrimaryLink;
  readonly #batchSize: number;
  #pending: TimedObservation[] = [];
  #sending: Promise<void> = Promise.resolve();
  #health: InventoryHealth;
  readonly #timer: NodeJS.Timeout;
  readonly #healthTimer: NodeJS.Timeout;

  static async open(link: PrimaryLink, options: { intervalMs?: number; batchSize?: number } = {}): Promise<ForwardedInventory> {
    return new ForwardedInventory(link, await link.call<InventoryHealth>('intake', 'healthNow', []), options);
  }

  private constructor(link: PrimaryLink, health: InventoryHealth, options: { intervalMs?: number; batchSize?: number }) {
    this.#link = link;
    this.backend = health.backend;
    this.#health = health;
    this.#batchSize = options.batchSize ?? 2000;
    this.#timer = setInterval(() => void this.#send(), options.intervalMs ?? 250);
    this.#timer.unref();
    // health() is synchronous (the status page reads it per request): the primary's, refreshed.
    this.#healthTimer = setInterval(() => {
      this.#link.call<InventoryHealth>('intake', 'healthNow', []).then((health) => (this.#health = health), () => undefined);
    }, 2000);
    this.#healthTimer.unref();
  }

  record(observation: InventoryObservation, now = new Date()): void {
    this.#pending.push([observation, now.getTime()]);
    if (this.#pending.length >= this.#batchSize) void this.#send();
  }

  /** Batches go one after another, so the primary folds them in the order they were seen. */
  #send(): Promise<void> {
    if (this.#pending.length === 0) return this.#sending;
    const batch = this.#pending;
    this.#pending = [];
    this.#sending = this.#sending.then(
      () => this.#link.call<number>('intake', 'recordBatch', [batch]).then(() => undefined),
      () => this.#link.call<number>('intake', 'recordBatch', [batch]).then(() => undefined),
    );
    return this.#sending;
  }

  health(): InventoryHealth {
    return { ...this.#health, pending: this.#health.pending + this.#pending.length };
  }

  async flush(): Promise<void> {
    await this.#send();
    await this.#link.call('inventory', 'flush', []);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#healthTimer);
    await this.#send();
  }

  countEndpoints(tenant?: string): Promise<number> {
    return this.#link.call('inventory', 'countEndpoints', [tenant]);
  }

  listEndpoints(page: { offset: number; limit: number; tenant?: string }): Promise<EndpointRecord[]> {
    return this.#link.call('inventory', 'listEndpoints', [page]);
  }

  getEndpoint(key: string, tenant?: string): Promise<EndpointRecord | undefined> {
    return this.#link.call('inventory', 'getEndpoint', [key, tenant]);
  }

  versionsByProduct(tenant?: string): ReturnType<CoverageSource['versionsByProduct']> {
    return this.#link.call('inventory', 'versionsByProduct', [tenant]);
  }

  tally(request: TallyRequest): ReturnType<CoverageSource['tally']> {
    return this.#link.call('inventory', 'tally', [request]);
  }

  endpointCounts(staleBefore: Date, tenant?: string): ReturnType<CoverageSource['endpointCounts']> {
    return this.#link.call('inventory', 'endpointCounts', [staleBefore, tenant]);
  }
}
