import type { Artifact, ProductSummary } from '../src/bundle/manifest.ts';
import { computeCoverage } from '../src/coverage/compute-coverage.ts';
import { recordsCoverageSource } from '../src/coverage/coverage-source.ts';
import type { EndpointRecord } from '../src/coverage/inventory.ts';
import { emptyLgwanState, type LgwanState } from '../src/importer/lgwan-state.ts';
import { renderOverviewPage } from '../src/repository/pages/overview-page.ts';
import { renderProductPage } from '../src/repository/pages/product-page.ts';
import { buildStatus } from '../src/repository/status-model.ts';
import { printMachine } from './machine.ts';

const day = 86_400_000;

/** 30 products with three published versions each and a release timeline. */
function syntheticState(now: number, products: number): LgwanState {
  const summaries: ProductSummary[] = [];
  const artifacts: Artifact[] = [];
  const firstPublished: LgwanState['firstPublished'] = {};
  const releaseTimeline: LgwanState['releaseTimeline'] = {};
  for (let index = 0; index < products; index += 1) {
    const id = `product-${index}`;
    summaries.push({ id, name: `Product ${index}`, vendor: 'Vendor', scheme: 'dotted', trust: 'vendor-signature', retention: 3, latestSeen: { version: '10.3', firstSeenAt: new Date(now - day).toISOString() }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } });
    firstPublished[id] = {};
    releaseTimeline[id] = {};
    for (const [offset, version] of ['10.1', '10.2', '10.3'].entries()) {
      artifacts.push({ productId: id, version, platform: 'win64', locale: 'ja', fileName: `setup-${version}.msi`, path: `pool/${id}/${version}/win64/ja/setup-${version}.msi`, size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' } });
      const published = now - (30 - offset * 10) * day;
      firstPublished[id]![version] = new Date(published).toISOString();
      releaseTimeline[id]![version] = { firstSeenAt: new Date(published - 6 * 3_600_000).toISOString(), fetchedAt: new Date(published - 5 * 3_600_000).toISOString(), firstBundledAt: new Date(published - 4 * 3_600_000).toISOString() };
    }
  }
  return { ...structuredClone(emptyLgwanState), published: { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date(now).toISOString(), publishedAt: new Date(now).toISOString(), products: summaries, artifacts }, firstPublished, releaseTimeline };
}

/** Endpoints each running every product, spread over the three versions, some stale. */
function syntheticEndpoints(now: number, count: number, products: number): EndpointRecord[] {
  const endpoints: EndpointRecord[] = [];
  for (let index = 0; index < count; index += 1) {
    const lastSeen = new Date(now - (index % 50 === 0 ? 40 : index % 3) * day).toISOString();
    const records: EndpointRecord['products'] = {};
    for (let product = 0; product < products; product += 1) {
      const step = (index + product) % 10;
      const version = step < 6 ? '10.3' : step < 9 ? '10.2' : '10.1';
      const seenAt = new Date(now - ((index * 7 + product) % 20) * day).toISOString();
      records[`product-${product}/win64`] = { product: `product-${product}`, version, platform: 'win64', source: 'agent', seenAt, firstSeen: { '10.1': new Date(now - 29 * day).toISOString(), [version]: seenAt } };
    }
    endpoints.push({ kind: 'agent', id: `pc-${index}`, firstSeen: new Date(now - 60 * day).toISOString(), lastSeen, products: records });
  }
  return endpoints;
}

function timed<T>(work: () => T): { result: T; ms: number } {
  const start = process.hrtime.bigint();
  const result = work();
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

async function timedAsync<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = process.hrtime.bigint();
  const result = await work();
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/**
 * Coverage computation and status page rendering for 1,000 / 10,000 / 100,000 simulated
 * endpoints × 30 products, in one process; each row also shows the cost per endpoint and
 * the growth against the smallest size (linear growth keeps the per-endpoint cost flat).
 */
export async function benchCoverage(sizes: number[] = [1000, 10_000, 100_000], products = 30): Promise<void> {
  await printMachine('coverage');
  const now = Date.now();
  const state = syntheticState(now, products);
  console.log(`\nCoverage: computation and rendering, ${products} products, on the embedded default (in-memory inventory)`);
  console.log(['endpoints', 'records', 'coverage ms', 'µs per endpoint', 'overview page ms', 'product page ms', 'coverage JSON ms', 'growth vs smallest'].join('\t'));
  let baseline: number | undefined;
  for (const size of sizes) {
    const endpoints = syntheticEndpoints(now, size, products);
    await computeCoverage(state, recordsCoverageSource(() => endpoints.slice(0, 100)), { now: new Date(now), endpointStaleDays: 30 }); // warm-up
    const coverage = await timedAsync(() => computeCoverage(state, recordsCoverageSource(() => endpoints), { now: new Date(now), endpointStaleDays: 30 }));
    const status = buildStatus(state, new Date(now));
    const overview = timed(() => renderOverviewPage(status, coverage.result, 'ja'));
    const product = timed(() => renderProductPage(coverage.result.products[0], 'product-0', 'ja'));
    const json = timed(() => JSON.stringify({ ...coverage.result, products: coverage.result.products.map(({ behind: _behind, ...rest }) => rest) }));
    baseline ??= coverage.ms / size;
    console.log(
      [size, size * products, coverage.ms.toFixed(0), ((coverage.ms * 1000) / size).toFixed(1), overview.ms.toFixed(1), product.ms.toFixed(1), json.ms.toFixed(1), `${(coverage.ms / size / baseline).toFixed(2)}× per endpoint`].join('\t'),
    );
  }
}
