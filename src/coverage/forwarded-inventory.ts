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

/**
 * A worker's inventory: observations are kept in an array and sent to the primary in batches
 * (every `intervalMs`, or at `batchSize`), where the one real store folds them in; every read
 * (whatever methods the store has) is a call into the primary. An update check never waits.
 */
export async function forwardedInventory(link: PrimaryLink, options: { intervalMs?: number; batchSize?: number } = {}): Promise<InventoryStore> {
  let health = await link.call<InventoryHealth>('intake', 'healthNow', []);
  const batchSize = options.batchSize ?? 2000;
  let pending: TimedObservation[] = [];
  let sending: Promise<void> = Promise.resolve();
  /** Batches go one after another, so the primary folds them in the order they were seen. */
  const send = (): Promise<void> => {
    if (pending.length === 0) return sending;
    const batch = pending;
    pending = [];
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
    record(observation: InventoryObservation, now = new Date()) {
      pending.push([observation, now.getTime()]);
      if (pending.length >= batchSize) void send();
    },
    health: () => ({ ...health, pending: health.pending + pending.length }),
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
