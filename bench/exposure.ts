import type { AdvisoryData, Advisory } from '../src/advisories/model.ts';
import type { Artifact, ProductSummary } from '../src/bundle/manifest.ts';
import { recordsCoverageSource } from '../src/coverage/coverage-source.ts';
import type { EndpointRecord, InventoryObservation } from '../src/coverage/inventory.ts';
import { PostgresInventory } from '../src/coverage/postgres-inventory.ts';
import { profilesOfRecords } from '../src/coverage/version-profiles.ts';
import { advisoryIndexOf } from '../src/exposure/advisory-index.ts';
import { computeExposure, type ExposureReport, type ExposureSource } from '../src/exposure/compute-exposure.ts';
import { emptyLgwanState, type LgwanState } from '../src/importer/lgwan-state.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { seededRandom as random } from '../test/helpers/seeded-random.ts';

const day = 86_400_000;
/** Each product has had this many releases with advisories (versions 1.0 … 1.<n-1>). */
const releasesPerProduct = 170;
/** Endpoints run one of the newest this many versions of each product. */
const versionsInUse = 25;

export function syntheticState(now: number, products: number): LgwanState {
  const summaries: ProductSummary[] = [];
  const artifacts: Artifact[] = [];
  for (let index = 0; index < products; index += 1) {
    const id = `product-${index}`;
    summaries.push({ id, name: id, vendor: 'Vendor', scheme: 'dotted', trust: 'vendor-signature', retention: 3, latestSeen: null, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } });
    for (let release = releasesPerProduct - 3; release < releasesPerProduct; release += 1) {
      const version = `1.${release}`;
      artifacts.push({ productId: id, version, platform: 'win64', locale: 'ja', fileName: `setup-${version}.msi`, path: `pool/${id}/${version}/win64/ja/setup-${version}.msi`, size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' } });
    }
  }
  return { ...structuredClone(emptyLgwanState), published: { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date(now).toISOString(), publishedAt: new Date(now).toISOString(), products: summaries, artifacts } };
}

/**
 * `count` advisories over `products` products, 2 to 8 CVEs each, one release of one product per
 * advisory; a fifth of the advisories also name a second product with the same CVEs (as Mozilla's
 * name Firefox and Thunderbird); one CVE in twenty is in KEV, half of those past their due date.
 */
export function syntheticAdvisories(now: number, products: number, count: number): AdvisoryData {
  const pick = random(16);
  const advisories: Advisory[] = [];
  const knownExploited: AdvisoryData['knownExploited'] = [];
  let cveNumber = 10_000;
  for (let index = 0; index < count; index += 1) {
    const product = index % products;
    const release = Math.floor(index / products) % releasesPerProduct;
    const cves = Array.from({ length: 2 + pick(7) }, () => `CVE-2025-${(cveNumber += 1)}`);
    for (const cve of cves) {
      if (pick(20) === 0) knownExploited.push({ cve, vendorProject: 'Vendor', product: `product-${product}`, dateAdded: '2025-01-01', dueDate: new Date(now + (pick(2) === 0 ? -30 : 30) * day).toISOString().slice(0, 10) });
    }
    const fixes = [{ product: `product-${product}`, fixedIn: `1.${release}` }];
    if (pick(5) === 0) fixes.push({ product: `product-${(product + 1) % products}`, fixedIn: `1.${release}` });
    advisories.push({ source: 'vendor-advisories', id: `VSA-${index}`, title: `Security update ${index}`, published: new Date(now - (count - index) * 3_600_000).toISOString(), vulnerabilities: cves.map((cve) => ({ cve, severity: ['low', 'moderate', 'high', 'critical'][pick(4)]! })), fixes });
  }
  const all = Array.from({ length: products }, (_, index) => `product-${index}`);
  const fetchedAt = new Date(now).toISOString();
  return { sources: [{ source: 'vendor-advisories', kind: 'csaf', trust: 'signed-hash-list', fetchedAt, products: all }, { source: 'cisa-kev', kind: 'cisa-kev', trust: 'tls-only', fetchedAt, products: [] }], advisories, knownExploited };
}

/** Endpoints each running every product at one of its recent versions (a skewed spread), one in fifty stale. */
export function* syntheticEndpoints(now: number, count: number, products: number): Iterable<EndpointRecord> {
  const pick = random(42);
  for (let index = 0; index < count; index += 1) {
    const lastSeen = new Date(now - (index % 50 === 0 ? 40 : index % 3) * day).toISOString();
    const records: EndpointRecord['products'] = {};
    for (let product = 0; product < products; product += 1) {
      // Most endpoints are near the newest release; a tail lags behind.
      const behind = Math.min(versionsInUse - 1, Math.floor((pick(1000) / 1000) ** 3 * versionsInUse));
      const version = `1.${releasesPerProduct - 1 - behind}`;
      records[`product-${product}/win64`] = { product: `product-${product}`, version, platform: 'win64', source: 'agent', seenAt: lastSeen, firstSeen: { [version]: lastSeen } };
    }
    yield { kind: 'agent', id: `pc-${index}`, firstSeen: new Date(now - 60 * day).toISOString(), lastSeen, products: records };
  }
}

async function timedAsync<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

const format = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

/**
 * Mapping cost of exposure (issue 16): `sizes` endpoints × `products` products × `advisories`
 * advisories, on the embedded default (records in memory, as the lowdb store holds them) and on
 * PostgreSQL (a real server on 127.0.0.1). Printed per size and store: building the advisory index
 * (once per advisory data; shared by every tenant and store), one exposure report (the per-version
 * mapping, the inventory's profile query and the tallies), the cost per endpoint, how many distinct
 * (product, version) pairs and profiles it worked on, the heap the report adds, and the growth of
 * the per-endpoint cost against the smallest size (flat: linear growth).
 */
export async function benchExposure(sizes: number[] = [1000, 10_000, 100_000], products = 30, advisories = 5000): Promise<void> {
  const now = Date.now();
  const state = syntheticState(now, products);
  const data = syntheticAdvisories(now, products, advisories);
  const schemes = new Map(state.published!.products.map((product) => [product.id, product.scheme]));
  const index = await timedAsync(async () => advisoryIndexOf(data, schemes));
  console.log(`\nExposure: mapping ${products} products × ${advisories} advisories (${index.result.cves.length} CVEs, ${data.knownExploited.length} in KEV) to endpoints; advisory index built in ${format(index.ms)} ms`);
  console.log(['endpoints', 'store', 'load s', 'report ms', 'µs per endpoint', 'exposed endpoints', 'KEV endpoints', 'pairs', 'heap MiB (records in memory + report)', 'growth vs smallest'].join('\t'));
  const server = await startPostgres();
  const baseline: Record<string, number> = {};
  try {
    for (const [sizeIndex, size] of sizes.entries()) {
      const reports: Record<string, ExposureReport> = {};
      for (const backend of ['embedded', 'postgresql'] as const) {
        global.gc?.();
        const heapBefore = process.memoryUsage().heapUsed;
        let source: ExposureSource;
        let close = async () => undefined as void;
        const load = await timedAsync(async () => {
          if (backend === 'embedded') {
            const records = [...syntheticEndpoints(now, size, products)];
            source = { ...recordsCoverageSource(() => records), versionProfiles: async (request) => profilesOfRecords(records, request) };
            return;
          }
          const store = await PostgresInventory.open({ url: await server.createDatabase(`bench_exposure_${sizeIndex}`), flushIntervalMs: 0 });
          close = () => store.close();
          let written = 0;
          for (const record of syntheticEndpoints(now, size, products)) {
            for (const entry of Object.values(record.products)) {
              const observation: InventoryObservation = { endpoint: { kind: record.kind, id: record.id }, source: 'agent', product: entry.product, version: entry.version, platform: 'win64' };
              store.record(observation, new Date(record.lastSeen));
            }
            if ((written += 1) % 5000 === 0) await store.flush();
          }
          await store.flush();
          source = store;
        });
        try {
          await computeExposure(state, data, source!, { now: new Date(now), endpointStaleDays: 30 }); // warm-up (and the planner's statistics)
          const report = await timedAsync(() => computeExposure(state, data, source!, { now: new Date(now), endpointStaleDays: 30 }));
          global.gc?.();
          const heap = (process.memoryUsage().heapUsed - heapBefore) / 1024 ** 2;
          reports[backend] = report.result;
          // PostgreSQL holds the records in its own process: only the embedded store's heap says something.
          const heapText = backend === 'embedded' ? format(heap) : '—';
          const pairs = report.result.products.reduce((total, product) => total + product.versions.length, 0);
          const perEndpoint = report.ms / size;
          baseline[backend] ??= perEndpoint;
          console.log([size, backend, (load.ms / 1000).toFixed(1), format(report.ms), ((report.ms * 1000) / size).toFixed(1), report.result.endpoints.exposed, report.result.endpoints.kev, pairs, heapText, `${(perEndpoint / baseline[backend]!).toFixed(2)}× per endpoint`].join('\t'));
        } finally {
          await close();
        }
      }
      // The two stores must agree, or the figures above measure different work.
      const { generatedAt: _a, ...embedded } = reports.embedded!;
      const { generatedAt: _b, ...postgres } = reports.postgresql!;
      if (JSON.stringify(embedded) !== JSON.stringify(postgres)) throw new Error(`exposure reports of the embedded store and PostgreSQL differ at ${size} endpoints`);
    }
  } finally {
    await server.stop();
  }
}
