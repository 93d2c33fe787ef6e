import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Artifact, ProductSummary } from '../src/bundle/manifest.ts';
import { computeCoverage } from '../src/coverage/compute-coverage.ts';
import { LowdbInventory, type InventoryObservation, type InventoryStore } from '../src/coverage/inventory.ts';
import { PostgresInventory } from '../src/coverage/postgres-inventory.ts';
import { emptyLgwanState, type LgwanState } from '../src/importer/lgwan-state.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { printMachine } from './machine.ts';

const day = 86_400_000;
const versions = ['10.1', '10.2', '10.3'];

function syntheticState(now: number, products: number): LgwanState {
  const summaries: ProductSummary[] = [];
  const artifacts: Artifact[] = [];
  const firstPublished: LgwanState['firstPublished'] = {};
  for (let index = 0; index < products; index += 1) {
    const id = `product-${index}`;
    summaries.push({ id, name: id, vendor: 'Vendor', scheme: 'dotted', trust: 'vendor-signature', retention: 3, latestSeen: { version: '10.3', firstSeenAt: new Date(now - day).toISOString() }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } });
    firstPublished[id] = {};
    for (const [offset, version] of versions.entries()) {
      artifacts.push({ productId: id, version, platform: 'win64', locale: 'ja', fileName: `setup-${version}.msi`, path: `pool/${id}/${version}/win64/ja/setup-${version}.msi`, size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' } });
      firstPublished[id]![version] = new Date(now - (30 - offset * 10) * day).toISOString();
    }
  }
  return { ...structuredClone(emptyLgwanState), published: { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date(now).toISOString(), publishedAt: new Date(now).toISOString(), products: summaries, artifacts }, firstPublished };
}

/** Each endpoint's check-in: every product, with the version it moved to and the one before. */
function checkIn(store: InventoryStore, index: number, products: number, now: number, round: number): void {
  for (let product = 0; product < products; product += 1) {
    const step = (index + product + round) % 10;
    const version = step < 6 ? '10.3' : step < 9 ? '10.2' : '10.1';
    const base: InventoryObservation = { endpoint: { kind: 'agent', id: `pc-${index}` }, source: 'agent', product: `product-${product}`, version: '10.1', platform: 'win64', locale: 'ja' };
    if (round === 0) store.record(base, new Date(now - 29 * day));
    store.record({ ...base, version }, new Date(now - ((index * 7 + product) % 20) * day + round * 1000));
  }
}

/** Runs `work` and reports how long it took and the longest time the event loop was blocked meanwhile. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; blockedMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  // The monitor counts from its first tick: let it tick before the work starts.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const start = performance.now();
  const result = await work();
  const ms = performance.now() - start;
  // Let the monitor's timer fire once more, so that a stall at the very end is counted too.
  await new Promise((resolve) => setTimeout(resolve, 20));
  delay.disable();
  return { result, ms, blockedMs: delay.max / 1e6 };
}

const format = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/**
 * Where lowdb stops serving well: the same inventory in each store at 1,000 to 100,000
 * endpoints × `products`. Endpoints check in about hourly, so a 5-second flush carries about
 * 1/720 of them; lowdb rewrites the whole file each time (JSON.stringify on the event loop,
 * where update checks wait), PostgreSQL writes only the changed rows. Printed per size: the
 * steady-state flush, the longest event-loop stall it caused, the coverage computation and
 * its stall, the lowdb file size and the heap the process holds. Each row ends with the
 * ratio PostgreSQL / lowdb.
 */
export async function benchInventory(sizes: number[] = [1000, 10_000, 30_000, 100_000], products = 20): Promise<void> {
  await printMachine('inventory');
  const server = await startPostgres({ durable: true });
  const now = Date.now();
  const state = syntheticState(now, products);
  console.log(`\nInventory store: lowdb vs PostgreSQL (a real server on 127.0.0.1, durable commits), ${products} products per endpoint`);
  console.log(['endpoints', 'store', 'initial load s', 'flush of 1/720 ms', 'event loop stall in flush ms', 'coverage ms', 'event loop stall in coverage ms', 'file MiB', 'heap MiB'].join('\t'));
  try {
    for (const [sizeIndex, size] of sizes.entries()) {
      const rows: Record<string, { flush: number; flushBlocked: number; coverage: number; coverageBlocked: number }> = {};
      for (const backend of ['lowdb', 'postgresql'] as const) {
        const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-bench-inventory-'));
        const url = backend === 'postgresql' ? await server.createDatabase(`bench_${sizeIndex}`) : '';
        global.gc?.();
        const heapBefore = process.memoryUsage().heapUsed;
        const store: InventoryStore = backend === 'lowdb' ? await LowdbInventory.open(root, { flushIntervalMs: 0 }) : await PostgresInventory.open({ url, flushIntervalMs: 0 });
        try {
          const load = await measured(async () => {
            for (let index = 0; index < size; index += 1) {
              checkIn(store, index, products, now, 0);
              // The PostgreSQL store is written every 5 s in service: flush in slices as it would.
              if (backend === 'postgresql' && index % 5000 === 4999) await store.flush();
            }
            await store.flush();
          });
          // Steady state: one flush interval's worth of check-ins (an hourly agent, a 5 s flush).
          const changed = Math.max(1, Math.round(size / 720));
          for (let index = 0; index < changed; index += 1) checkIn(store, (index * 719) % size, products, now, 1);
          const flush = await measured(() => store.flush());
          const coverage = await measured(() => computeCoverage(state, store, { now: new Date(now), endpointStaleDays: 30 }));
          if (coverage.result.endpoints.total !== size) throw new Error(`${backend}: coverage counted ${coverage.result.endpoints.total} endpoints, not ${size}`);
          global.gc?.();
          const heap = (process.memoryUsage().heapUsed - heapBefore) / 1024 ** 2;
          const file = backend === 'lowdb' ? (await stat(path.join(root, 'inventory.json'))).size / 1024 ** 2 : Number.NaN;
          rows[backend] = { flush: flush.ms, flushBlocked: flush.blockedMs, coverage: coverage.ms, coverageBlocked: coverage.blockedMs };
          console.log([size, backend, (load.ms / 1000).toFixed(1), format(flush.ms), format(flush.blockedMs), format(coverage.ms), format(coverage.blockedMs), Number.isNaN(file) ? '—' : format(file), format(heap)].join('\t'));
        } catch (error) {
          // lowdb writes one JSON string: past V8's largest string it cannot write at all.
          console.log([size, backend, `failed: ${(error as Error).message}`].join('\t'));
        } finally {
          await store.close().catch(() => undefined);
          await rm(root, { recursive: true, force: true });
        }
      }
      const [lowdb, postgres] = [rows.lowdb, rows.postgresql];
      if (!lowdb || !postgres) continue;
      console.log(
        [size, 'ratio', '', `${(postgres.flush / lowdb.flush).toFixed(2)}×`, `${(postgres.flushBlocked / lowdb.flushBlocked).toFixed(2)}×`, `${(postgres.coverage / lowdb.coverage).toFixed(2)}×`, `${(postgres.coverageBlocked / lowdb.coverageBlocked).toFixed(2)}×`, '', ''].join('\t'),
      );
    }
  } finally {
    await server.stop();
  }
}
