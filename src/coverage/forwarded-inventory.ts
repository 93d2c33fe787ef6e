import type { PrimaryLink } from '../sides/worker-channel.ts';
import type { InventoryHealth, InventoryObservation, InventoryStore } from './inventory.ts';

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

/** Every field of an observation but the endpoint, in the order the fold key joins them. */
const keyFields = ['tenant', 'hostname', 'ring', 'source', 'product', 'version', 'platform', 'locale', 'channel'] as const;
// A field added to InventoryObservation and not to keyFields fails to compile here: two
// observations differing only in it must never be folded into one.
const keyFieldsComplete: [Exclude<keyof InventoryObservation, 'endpoint' | (typeof keyFields)[number]>] extends [never] ? true : never = true;
void keyFieldsComplete;

/**
 * The observations a worker holds until its next batch, folded: the same endpoint reporting the
 * same thing again (Firefox checks at every start, an edge cache retries) keeps one slot with its
 * first and last time, in preallocated arrays, instead of one entry per request. The primary
 * folds [first] and [last] of a slot exactly as it would fold every repeat in between (those
 * change only the time seen, which the last carries), and slots keep the order in which their
 * first observation came, so what the inventory ends with is the same.
 */
export class ObservationFold {
  readonly capacity: number;
  readonly #slots = new Map<string, number>();
  readonly #observations: InventoryObservation[] = [];
  readonly #first: Float64Array;
  readonly #last: Float64Array;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#first = new Float64Array(capacity);
    this.#last = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Folds in one observation made at `at` (ms); false when the fold is full and must be drained first. */
  add(observation: InventoryObservation, at: number): boolean {
    let key = `${observation.endpoint.kind}\u0000${observation.endpoint.id}`;
    for (const field of keyFields) key += `\u0000${observation[field] ?? '\u0001'}`;
    const slot = this.#slots.get(key);
    if (slot !== undefined) {
      if (at > this.#last[slot]!) this.#last[slot] = at;
      if (at < this.#first[slot]!) this.#first[slot] = at;
      return true;
    }
    if (this.#size >= this.capacity) return false;
    this.#slots.set(key, this.#size);
    this.#observations[this.#size] = observation;
    this.#first[this.#size] = at;
    this.#last[this.#size] = at;
    this.#size += 1;
    return true;
  }

  /** What the primary is to fold, in order, and an empty fold. */
  drain(): TimedObservation[] {
    const batch: TimedObservation[] = [];
    for (let slot = 0; slot < this.#size; slot += 1) {
      const observation = this.#observations[slot]!;
      batch.push([observation, this.#first[slot]!]);
      if (this.#last[slot] !== this.#first[slot]) batch.push([observation, this.#last[slot]!]);
    }
    this.#slots.clear();
    this.#observations.length = 0;
    this.#size = 0;
    return batch;
  }
}

/**
 * A worker's inventory: observations are folded (ObservationFold) and sent to the primary in batches
 * (every `intervalMs`, or at `batchSize`), where the one real store folds them in; every read
 * (whatever methods the store has) is a call into the primary. An update check never waits.
 */
export async function forwardedInventory(link: PrimaryLink, options: { intervalMs?: number; batchSize?: number } = {}): Promise<InventoryStore> {
  let health = await link.call<InventoryHealth>('intake', 'healthNow', []);
  const batchSize = options.batchSize ?? 2000;
  const pending = new ObservationFold(batchSize);
  let sending: Promise<void> = Promise.resolve();
  /** Batches go one after another, so the primary folds them in the order they were seen. */
  const send = (): Promise<void> => {
    if (pending.size === 0) return sending;
    const batch = pending.drain();
    const deliver = () => link.call<number>('intake', 'recordBatch', [batch]).then(() => undefined);
    sending = sending.then(deliver, deliver);
    return sending;
  };
  const timer = setInterval(() => void send(), options.intervalMs ?? 250);
  timer.unref();
  // health() is synchronous (the status page reads it per request): the primary's, refreshed.
  const healthTimer = setInterval(() => {
    link.call<InventoryHealth>('intake', 'healthNow', []).then((fresh) => (health = fresh), () => undefined);
  }, 2000);
  healthTimer.unref();
  const local: Partial<InventoryStore> = {
    backend: health.backend,
    record(observation: InventoryObservation, now?: Date) {
      const at = now ? now.getTime() : Date.now();
      if (!pending.add(observation, at)) {
        void send();
        pending.add(observation, at);
      }
    },
    health: () => ({ ...health, pending: health.pending + pending.size }),
    async flush() {
      await send();
      await link.call('inventory', 'flush', []);
    },
    async close() {
      clearInterval(timer);
      clearInterval(healthTimer);
      await send();
    },
  };
  return link.remote<InventoryStore>('inventory', local);
}
