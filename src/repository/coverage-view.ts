import { computeCoverage, type CoverageReport } from '../coverage/compute-coverage.ts';
import type { Inventory } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';

/**
 * The coverage report, recomputed at most every `ttlMs`: the page, the JSON API, the CSV
 * and /metrics all read the same report, so their figures always agree.
 */
export class CoverageView {
  readonly #state: () => LgwanState;
  readonly #inventory: Inventory | undefined;
  readonly #options: { endpointStaleDays: number; ttlMs: number };
  #cached: { report: CoverageReport; at: number; published: LgwanState['published']; tookMs: number } | undefined;

  constructor(state: () => LgwanState, inventory: Inventory | undefined, options: { endpointStaleDays: number; ttlMs: number }) {
    this.#state = state;
    this.#inventory = inventory;
    this.#options = options;
  }

  report(now: Date): CoverageReport {
    const state = this.#state();
    const cached = this.#cached;
    // The computation runs on the event loop: with a large inventory it is reused for at
    // least twenty times as long as it took, so requests are served 95 % of the time.
    const ttl = Math.max(this.#options.ttlMs, (cached?.tookMs ?? 0) * 20);
    if (cached && cached.published === state.published && now.getTime() - cached.at < ttl) return cached.report;
    const started = performance.now();
    const report = computeCoverage(state, this.#inventory?.endpoints() ?? [], { now, endpointStaleDays: this.#options.endpointStaleDays });
    this.#cached = { report, at: now.getTime(), published: state.published, tookMs: performance.now() - started };
    return report;
  }
}
