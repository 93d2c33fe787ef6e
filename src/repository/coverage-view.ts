import { computeCoverage, type CoverageReport } from '../coverage/compute-coverage.ts';
import { recordsCoverageSource } from '../coverage/coverage-source.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';

const noEndpoints = recordsCoverageSource(() => []);

/**
 * The coverage report, recomputed at most every `ttlMs`: the page, the JSON API, the CSV
 * and /metrics all read the same report, so their figures always agree. Requests that
 * arrive while a report is being computed wait for that one (never start a second).
 */
export class CoverageView {
  readonly #state: () => LgwanState;
  readonly #inventory: InventoryStore | undefined;
  readonly #options: { endpointStaleDays: number; ttlMs: number };
  #cached: { report: CoverageReport; at: number; published: LgwanState['published']; tookMs: number } | undefined;
  #computing: Promise<CoverageReport> | undefined;

  constructor(state: () => LgwanState, inventory: InventoryStore | undefined, options: { endpointStaleDays: number; ttlMs: number }) {
    this.#state = state;
    this.#inventory = inventory;
    this.#options = options;
  }

  report(now: Date): Promise<CoverageReport> {
    const state = this.#state();
    const cached = this.#cached;
    // With a large inventory a report is reused for at least twenty times as long as it took,
    // so that requests are served 95 % of the time (the lowdb store counts on the event loop).
    const ttl = Math.max(this.#options.ttlMs, (cached?.tookMs ?? 0) * 20);
    if (cached && cached.published === state.published && now.getTime() - cached.at < ttl) return Promise.resolve(cached.report);
    this.#computing ??= (async () => {
      try {
        const started = performance.now();
        const report = await computeCoverage(state, this.#inventory ?? noEndpoints, { now, endpointStaleDays: this.#options.endpointStaleDays });
        this.#cached = { report, at: now.getTime(), published: state.published, tookMs: performance.now() - started };
        return report;
      } finally {
        this.#computing = undefined;
      }
    })();
    return this.#computing;
  }
}
