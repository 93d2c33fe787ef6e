import type { AdvisoryData } from '../advisories/model.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { computeExposure, type ExposureReport, type ExposureSource } from './compute-exposure.ts';

/**
 * Where the LGWAN side's advisory data comes from: the parsed advisory artifacts of the published
 * state. It must answer with the same object while nothing changed: the reports and the advisory
 * index are cached per data object.
 */
export interface AdvisoryProvider {
  data(): AdvisoryData | Promise<AdvisoryData>;
}

/**
 * A provider that parses the advisory data once per published state (`parse` is the importer's
 * reading of the advisory artifacts): the same object is answered until an import switches the
 * published state. A failed parse is not kept, so the next request tries again.
 */
export function advisoriesPerPublication<P extends object>(published: () => P | null, parse: (published: P) => AdvisoryData | Promise<AdvisoryData>, none: AdvisoryData): AdvisoryProvider {
  const parsed = new WeakMap<P, Promise<AdvisoryData>>();
  return {
    data() {
      const current = published();
      if (current === null) return none;
      let data = parsed.get(current);
      if (!data) {
        data = Promise.resolve().then(() => parse(current));
        parsed.set(current, data);
        data.catch(() => parsed.delete(current));
      }
      return data;
    },
  };
}

interface Computing {
  promise: Promise<ExposureReport>;
  published: LgwanState['published'];
  data: AdvisoryData;
}

/**
 * The exposure report of one scope, computed once per published state, advisory data and
 * inventory snapshot (reused for `ttlMs`, or twenty times as long as it took), like
 * CoverageView: the page, the JSON API, the CSV, /metrics and the alarms read the same
 * report, so their figures agree. One computation at a time; an aged report is answered at
 * once while its successor is computed, a new publication or new advisory data waits.
 */
export class ExposureView {
  readonly #state: () => LgwanState;
  readonly #advisories: AdvisoryProvider;
  readonly #source: ExposureSource;
  readonly #options: { endpointStaleDays: number; ttlMs: number; tenant?: string };
  #cached: { report: ExposureReport; at: number; published: LgwanState['published']; data: AdvisoryData; tookMs: number } | undefined;
  #computing: Computing | undefined;

  constructor(state: () => LgwanState, advisories: AdvisoryProvider, source: ExposureSource, options: { endpointStaleDays: number; ttlMs: number; tenant?: string }) {
    this.#state = state;
    this.#advisories = advisories;
    this.#source = source;
    this.#options = options;
  }

  /** The advisory data the reports are computed from (the pages that show one advisory read it too). */
  async data(): Promise<AdvisoryData> {
    return this.#advisories.data();
  }

  async report(now: Date): Promise<ExposureReport> {
    const state = this.#state();
    const data = await this.#advisories.data();
    const cached = this.#cached;
    const ttl = Math.max(this.#options.ttlMs, (cached?.tookMs ?? 0) * 20);
    const same = cached !== undefined && cached.published === state.published && cached.data === data;
    if (same && now.getTime() - cached.at < ttl) return cached.report;
    if (this.#computing?.published !== state.published || this.#computing.data !== data) {
      const previous = this.#computing?.promise.catch(() => undefined);
      // Assigned before the async body below first reads it (after its first await).
      let computing!: Computing;
      computing = {
        published: state.published,
        data,
        promise: (async () => {
          await previous;
          try {
            const started = performance.now();
            const report = await computeExposure(state, data, this.#source, { now, endpointStaleDays: this.#options.endpointStaleDays, ...(this.#options.tenant ? { tenant: this.#options.tenant } : {}) });
            this.#cached = { report, at: now.getTime(), published: state.published, data, tookMs: performance.now() - started };
            return report;
          } finally {
            if (this.#computing === computing) this.#computing = undefined;
          }
        })(),
      };
      this.#computing = computing;
    }
    if (same) {
      this.#computing!.promise.catch(() => undefined);
      return cached.report;
    }
    return this.#computing!.promise;
  }
}
