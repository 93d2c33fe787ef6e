import { computeCoverage, type CoverageReport } from '../coverage/compute-coverage.ts';
import { recordsCoverageSource } from '../coverage/coverage-source.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';

const noEndpoints = recordsCoverageSource(() => []);

/**
 * The coverage report, recomputed at most every `ttlMs`: the page, the JSON API, the CSV
 * and /metrics all read the same report, so their figures always agree. Requests that
 * arrive while a report is being computed wait for that one (never start a second). When a
 * report has only aged, it is still answered at once and its successor computed behind it
 * (with PostgreSQL at a prefecture's size a report takes tens of seconds); only a new
 * publication, which changes what "current" means, makes requests wait for the new one.
 */
interface Computing {
  promise: Promise<CoverageReport>;
  published: LgwanState['published'];
}

export class CoverageView {
  readonly #state: () => LgwanState;
  readonly #inventory: InventoryStore | undefined;
  readonly #options: { endpointStaleDays: number; ttlMs: number; tenant?: string };
  #cached: { report: CoverageReport; at: number; published: LgwanState['published']; tookMs: number } | undefined;
  #computing: Computing | undefined;

  /** `tenant`: count only that tenant's endpoints (undefined: every endpoint in the inventory). */
  constructor(state: () => LgwanState, inventory: InventoryStore | undefined, options: { endpointStaleDays: number; ttlMs: number; tenant?: string }) {
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
    const samePublication = cached !== undefined && cached.published === state.published;
    if (samePublication && now.getTime() - cached.at < ttl) return Promise.resolve(cached.report);
    // A computation already running for this publication is shared; one for an older publication is not.
    if (this.#computing?.published !== state.published) {
      const previous = this.#computing?.promise.catch(() => undefined);
      // Assigned before the async body below first reads it (after its first await).
      let computing!: Computing;
      computing = {
        published: state.published,
        promise: (async () => {
          await previous;
          try {
            const started = performance.now();
            const report = await computeCoverage(state, this.#inventory ?? noEndpoints, { now, endpointStaleDays: this.#options.endpointStaleDays, ...(this.#options.tenant ? { tenant: this.#options.tenant } : {}) });
            this.#cached = { report, at: now.getTime(), published: state.published, tookMs: performance.now() - started };
            return report;
          } finally {
            if (this.#computing === computing) this.#computing = undefined;
          }
        })(),
      };
      this.#computing = computing;
    }
    if (samePublication) {
      // Aged, same publication: answer with what there is; a failed refresh is retried by the next request.
      this.#computing!.promise.catch(() => undefined);
      return Promise.resolve(cached.report);
    }
    return this.#computing!.promise;
  }
}
