import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import type { Artifact, ProductSummary } from '../../src/bundle/manifest.ts';
import { computeCoverage } from '../../src/coverage/compute-coverage.ts';
import { recordsCoverageSource } from '../../src/coverage/coverage-source.ts';
import { applyObservation, LowdbInventory, maxProductsPerEndpoint, type EndpointRecord, type InventoryObservation, type InventoryStore } from '../../src/coverage/inventory.ts';
import { PostgresInventory } from '../../src/coverage/postgres-inventory.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { seededRandom as random } from '../helpers/seeded-random.ts';

/*
 * One suite, two stores: every test in `storeSuite` runs against lowdb (the embedded
 * default) and against a real PostgreSQL server started for this file. The coverage
 * tests compare each store's report with the in-memory computation over the same
 * observations, whose figures test/coverage/compute-coverage.test.ts checks by hand.
 */

let server: TestPostgres;
let databases = 0;
test.before(async () => {
  server = await startPostgres();
});
test.after.always(async () => {
  await server?.stop();
});

type Opener = (t: ExecutionContext) => Promise<{ open(): Promise<InventoryStore>; url?: string }>;

const openers: Record<'lowdb' | 'postgresql', Opener> = {
  async lowdb(t) {
    const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-inventory-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    return { open: () => LowdbInventory.open(root, { flushIntervalMs: 0 }) };
  },
  async postgresql() {
    const url = await server.createDatabase(`inventory_${(databases += 1)}`);
    return { open: () => PostgresInventory.open({ url, flushIntervalMs: 0, batchSize: 97 }), url };
  },
};

const now = new Date('2026-11-22T12:00:00Z');
const at = (days: number, hours = 0) => new Date(now.getTime() - days * 86_400_000 - hours * 3_600_000);

const observation = (id: string, product: string, version: string, extra: Partial<InventoryObservation> = {}): InventoryObservation => ({
  endpoint: { kind: 'agent', id },
  source: 'agent',
  product,
  version,
  ...extra,
});

const products: Array<{ id: string; scheme: ProductSummary['scheme']; versions: string[]; published: string[] }> = [
  { id: 'firefox', scheme: 'mozilla', versions: ['128.0', '130.0', '131.0', '131.0.1', '132.0b3', 'not-a-version'], published: ['131.0', '131.0.1'] },
  { id: 'firefox-esr', scheme: 'mozilla', versions: ['115.16.0esr', '115.17.0esr', '128.4.0esr', '128.5.0esr'], published: ['128.4.0esr', '128.5.0esr'] },
  { id: 'openssl', scheme: 'dpkg', versions: ['3.0.14-1~deb12u1', '3.0.15-1~deb12u1', '3.0.15-1', '1:3.0.0-1'], published: ['3.0.15-1~deb12u1'] },
  { id: 'clamav-daily', scheme: 'integer', versions: ['27450', '27460', '27470', '27471'], published: ['27470', '27471'] },
  { id: 'unpublished-tool', scheme: 'dotted', versions: ['1.2', '1.10'], published: [] },
];

function lgwanState(): LgwanState {
  const summaries: ProductSummary[] = products
    .filter((product) => product.published.length > 0)
    .map((product) => ({
      id: product.id, name: product.id, vendor: 'Vendor', scheme: product.scheme, trust: 'vendor-signature', retention: 3,
      latestSeen: { version: product.published.at(-1)!, firstSeenAt: at(12).toISOString() },
      sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 },
    }));
  const artifacts: Artifact[] = products.flatMap((product) =>
    product.published.map((version) => ({
      productId: product.id, version, platform: 'win64', locale: 'ja', fileName: `${product.id}-${version}`, path: `pool/${product.id}/${version}/win64/ja/${product.id}-${version}`,
      size: 1, sha256: '0'.repeat(64), role: 'payload' as const, verification: { method: 'clamav-cvd' as const },
    })),
  );
  const firstPublished: LgwanState['firstPublished'] = {};
  const releaseTimeline: LgwanState['releaseTimeline'] = {};
  for (const product of products) {
    firstPublished[product.id] = Object.fromEntries(product.published.map((version, index) => [version, at(20 - index * 8).toISOString()]));
    releaseTimeline[product.id] = Object.fromEntries(product.published.map((version, index) => [version, { firstSeenAt: at(20 - index * 8, 6).toISOString(), fetchedAt: at(20 - index * 8, 5).toISOString(), firstBundledAt: at(20 - index * 8, 4).toISOString() }]));
  }
  return { ...structuredClone(emptyLgwanState), published: { sequence: 3, manifestSha256: '0'.repeat(64), bundleCreatedAt: at(4).toISOString(), publishedAt: at(4).toISOString(), products: summaries, artifacts }, firstPublished, releaseTimeline };
}

/**
 * Observations of `endpoints` machines over 60 days: upgrades, platforms, stale machines, unparsable versions,
 * and some machines running a product in a second build (another platform or a channel) beside the first.
 */
function history(seed: number, endpoints: number): Array<{ observation: InventoryObservation; at: Date }> {
  const next = random(seed);
  // Second builds draw from their own sequence, so the first builds are what they were before second builds existed.
  const extra = random(seed * 31 + 1);
  const events: Array<{ observation: InventoryObservation; at: Date }> = [];
  for (let index = 0; index < endpoints; index += 1) {
    const id = `pc-${String(index).padStart(4, '0')}`;
    const kind = next(10) === 0 ? 'address' : 'agent';
    const lastDay = next(5) === 0 ? 35 + next(20) : next(4);
    for (const product of products) {
      if (next(4) === 0) continue;
      const platform = next(3) === 0 ? 'linux-x86_64' : 'win64';
      let day = lastDay + 10 + next(30);
      for (let step = next(product.versions.length); step < product.versions.length && day >= lastDay; step += 1 + next(2)) {
        events.push({ observation: { endpoint: { kind, id }, source: kind === 'agent' ? 'agent' : 'mozilla-aus', product: product.id, version: product.versions[step]!, platform, ...(next(2) ? { locale: 'ja' } : {}) }, at: at(day, next(24)) });
        day -= 1 + next(9);
      }
      if (extra(4) !== 0) continue;
      const second = extra(2) === 0 ? { platform: 'win32' } : { platform, channel: extra(2) === 0 ? 'beta' : 'esr' };
      let secondDay = lastDay + 5 + extra(30);
      for (let step = extra(product.versions.length); step < product.versions.length && secondDay >= lastDay; step += 1 + extra(2)) {
        events.push({ observation: { endpoint: { kind, id }, source: kind === 'agent' ? 'agent' : 'mozilla-aus', product: product.id, version: product.versions[step]!, ...second }, at: at(secondDay, extra(24)) });
        secondDay -= 1 + extra(9);
      }
    }
  }
  // Arrival order is not time order: batches from replicas and late check-ins interleave.
  for (let index = events.length - 1; index > 0; index -= 1) {
    const other = next(index + 1);
    [events[index], events[other]] = [events[other]!, events[index]!];
  }
  return events;
}

function storeSuite(backend: keyof typeof openers) {
  test(`${backend}: an endpoint keeps the host name of its newest report, across a restart; endpoints without one have none`, async (t) => {
    const { open } = await openers[backend](t);
    let store = await open();
    store.record({ ...observation('pc-named', 'firefox', '130.0'), hostname: 'old-name' }, at(3));
    store.record(observation('pc-unnamed', 'firefox', '131.0'), at(2));
    await store.flush();
    store.record({ ...observation('pc-named', 'firefox', '131.0'), hostname: 'YAKUBA-PC-017' }, at(1));
    // A late batch from another replica does not bring the old name back.
    store.record({ ...observation('pc-named', 'firefox', '130.0'), hostname: 'old-name' }, at(5));
    await store.flush();
    await store.close();
    store = await open();
    t.is((await store.getEndpoint('agent:pc-named'))?.hostname, 'YAKUBA-PC-017');
    t.false('hostname' in (await store.getEndpoint('agent:pc-unnamed'))!);
    await store.close();
  });

  test(`${backend}: one endpoint holds at most ${maxProductsPerEndpoint} products in the store, across batches and restarts (issue 13: invented channels)`, async (t) => {
    const { open } = await openers[backend](t);
    let store = await open();
    // Written in batches: each flush alone stays under the limit, together they would not.
    for (let batch = 0; batch < 4; batch += 1) {
      for (let index = 0; index < 30; index += 1) store.record(observation('pc-flood', 'firefox', '131.0', { channel: `invented-${batch}-${index}` }), at(1));
      await store.flush();
    }
    await store.close();
    store = await open();
    store.record(observation('pc-flood', 'firefox', '131.0', { channel: 'one-more' }), at(0));
    await store.flush();
    const [endpoint] = (await store.listEndpoints({ offset: 0, limit: 10 })).filter((record) => record.id === 'pc-flood');
    t.is(Object.keys(endpoint!.products).length, maxProductsPerEndpoint);
    t.truthy(endpoint!.products['firefox/invented-0-0'], 'the products it had first are kept');
    t.false('firefox/one-more' in endpoint!.products);
    await store.close();
  });

  test(`${backend}: records endpoints, keeps eight versions of history, pages most recent first, and survives a restart`, async (t) => {
    const { open } = await openers[backend](t);
    const store = await open();
    store.record(observation('pc-1', 'firefox', '130.0', { platform: 'win64', locale: 'ja' }), at(10));
    store.record(observation('pc-1', 'firefox', '131.0', { platform: 'win64', locale: 'ja' }), at(2));
    store.record(observation('pc-2', 'firefox', '131.0', { platform: 'linux-x86_64' }), at(1));
    store.record({ endpoint: { kind: 'freshclam-uuid', id: '6f1c' }, source: 'freshclam', product: 'clamav-daily', version: '27471' }, at(0, 1));
    for (let index = 0; index < 10; index += 1) store.record(observation('pc-3', 'clamav-daily', String(27460 + index)), at(30 - index));
    await store.flush();
    // A late observation (an older batch from another replica) adds history but does not replace the current version.
    store.record(observation('pc-1', 'firefox', '129.0', { platform: 'win64' }), at(40));
    await store.flush();
    await store.close();

    const reopened = await open();
    t.teardown(() => reopened.close());
    t.is(await reopened.countEndpoints(), 4);
    const page = await reopened.listEndpoints({ offset: 0, limit: 2 });
    t.deepEqual(page.map((endpoint) => `${endpoint.kind}:${endpoint.id}`), ['freshclam-uuid:6f1c', 'agent:pc-2']);
    const rest = await reopened.listEndpoints({ offset: 2, limit: 10 });
    t.deepEqual(rest.map((endpoint) => endpoint.id), ['pc-1', 'pc-3']);
    const pc1 = (await reopened.getEndpoint('agent:pc-1'))!;
    t.deepEqual(pc1, {
      kind: 'agent', id: 'pc-1', firstSeen: at(40).toISOString(), lastSeen: at(2).toISOString(),
      products: {
        'firefox/win64': {
          product: 'firefox', version: '131.0', platform: 'win64', locale: 'ja', source: 'agent', seenAt: at(2).toISOString(),
          firstSeen: { '129.0': at(40).toISOString(), '130.0': at(10).toISOString(), '131.0': at(2).toISOString() },
        },
      },
    });
    const pc3 = (await reopened.getEndpoint('agent:pc-3'))!;
    t.deepEqual(Object.keys(pc3.products['clamav-daily']!.firstSeen).sort(), ['27462', '27463', '27464', '27465', '27466', '27467', '27468', '27469'], 'the eight most recent versions');
    t.is(pc3.products['clamav-daily']!.version, '27469');
    t.is(await reopened.getEndpoint('agent:nobody'), undefined);
    t.is(await reopened.getEndpoint('__proto__'), undefined);
  });

  test(`${backend}: coverage through the store equals the computation over the same observations in memory`, async (t) => {
    const { open } = await openers[backend](t);
    const store = await open();
    t.teardown(() => store.close());
    const reference: Record<string, EndpointRecord> = {};
    const events = history(backend === 'lowdb' ? 7 : 11, 400);
    for (const [index, { observation: seen, at: time }] of events.entries()) {
      store.record(seen, time);
      applyObservation(reference, seen, time.toISOString());
      if (index % 700 === 0) await store.flush(); // several batches, as the timer would write them
    }
    await store.flush();
    const state = lgwanState();
    const options = { now, endpointStaleDays: 30 };
    const expected = await computeCoverage(state, recordsCoverageSource(() => Object.values(reference)), options);
    const actual = await computeCoverage(state, store, options);
    t.true(expected.endpoints.stale > 0 && expected.endpoints.active > 0);
    const firefox = expected.products.find((product) => product.productId === 'firefox')!;
    t.true(firefox.behind.some((entry) => entry.versionsBehind === null), 'an unparsable version is behind');
    t.true(expected.products.some((product) => product.latency.some((release) => release.p90At !== null)), 'a release reached 90 %');
    const builds = Object.values(reference).filter((record) => record.lastSeen >= at(30).toISOString() && new Set(Object.values(record.products).map((entry) => entry.product)).size < Object.keys(record.products).length);
    t.true(builds.length > 20, 'active endpoints running a product in two builds');
    t.true(firefox.segments.reduce((sum, segment) => sum + segment.endpoints, 0) > firefox.endpoints, 'segments count builds, the endpoints figure counts endpoints');
    t.deepEqual(actual, expected);
    // A prefecture's lists of endpoints behind are long: the report keeps the most behind and counts all.
    const short = await computeCoverage(state, store, { ...options, behindLimit: 7 });
    t.deepEqual(short, await computeCoverage(state, recordsCoverageSource(() => Object.values(reference)), { ...options, behindLimit: 7 }));
    const shortFirefox = short.products.find((product) => product.productId === 'firefox')!;
    t.is(shortFirefox.behindCount, firefox.behindCount);
    t.true(firefox.behindCount > 7);
    t.deepEqual(shortFirefox.behind, firefox.behind.slice(0, 7));
    t.deepEqual(await store.listEndpoints({ offset: 0, limit: 1000 }), Object.entries(reference).sort(([keyA, a], [keyB, b]) => b.lastSeen.localeCompare(a.lastSeen) || (keyA < keyB ? -1 : 1)).map(([, record]) => record));
  });

  test(`${backend}: one address running two builds, one current and one behind, is one endpoint and behind`, async (t) => {
    const { open } = await openers[backend](t);
    const store = await open();
    t.teardown(() => store.close());
    const reference: Record<string, EndpointRecord> = {};
    const seen = (build: Partial<InventoryObservation>, version: string, time: Date) => {
      const report: InventoryObservation = { endpoint: { kind: 'address', id: '10.20.30.40' }, source: 'mozilla-aus', product: 'firefox', version, ...build };
      store.record(report, time);
      applyObservation(reference, report, time.toISOString());
    };
    // 131.0 was published 20 days ago, 131.0.1 12 days ago.
    seen({ platform: 'win64' }, '131.0', at(18));
    seen({ platform: 'win64' }, '131.0.1', at(10));
    seen({ platform: 'win32' }, '130.0', at(30));
    seen({ platform: 'win32' }, '131.0', at(14));
    await store.flush();
    const options = { now, endpointStaleDays: 30 };
    const report = await computeCoverage(lgwanState(), store, options);
    t.deepEqual(report, await computeCoverage(lgwanState(), recordsCoverageSource(() => Object.values(reference)), options));
    t.deepEqual(report.endpoints, { total: 1, active: 1, stale: 0 });
    const firefox = report.products.find((product) => product.productId === 'firefox')!;
    t.like(firefox, { endpoints: 1, current: 0, share: 0, behindCount: 1 });
    t.deepEqual(firefox.behind, [{ endpoint: 'address:10.20.30.40', version: '131.0', platform: 'win32', channel: null, versionsBehind: 1, daysBehind: 12, lastSeen: at(10).toISOString() }], 'the outdated build exposes the endpoint');
    // The builds are still counted one by one.
    t.deepEqual(firefox.histogram, [{ version: '131.0.1', count: 1 }, { version: '131.0', count: 1 }]);
    t.deepEqual(firefox.segments.map((segment) => [segment.platform, segment.endpoints, segment.current]), [['win32', 1, 0], ['win64', 1, 1]]);
    const [newest, previous] = firefox.latency;
    t.like(newest, { version: '131.0.1', firstEndpointAt: null, p50At: null, p90At: null }, 'the 32-bit build never ran 131.0.1');
    t.like(previous, { version: '131.0', firstEndpointAt: at(14).toISOString(), p50At: at(14).toISOString(), p90At: at(14).toISOString() }, 'both builds ran 131.0 once the later of them did');
  });

  test(`${backend}: one address running two builds, both current, is one current endpoint`, async (t) => {
    const { open } = await openers[backend](t);
    const store = await open();
    t.teardown(() => store.close());
    const reference: Record<string, EndpointRecord> = {};
    const seen = (id: string, build: Partial<InventoryObservation>, version: string, time: Date) => {
      const report: InventoryObservation = { endpoint: { kind: 'address', id }, source: 'mozilla-aus', product: 'firefox', version, platform: 'win64', ...build };
      store.record(report, time);
      applyObservation(reference, report, time.toISOString());
    };
    seen('10.20.30.40', {}, '131.0', at(18));
    seen('10.20.30.40', {}, '131.0.1', at(10));
    seen('10.20.30.40', { channel: 'beta' }, '132.0b3', at(8));
    await store.flush();
    const options = { now, endpointStaleDays: 30 };
    const report = await computeCoverage(lgwanState(), store, options);
    t.deepEqual(report, await computeCoverage(lgwanState(), recordsCoverageSource(() => Object.values(reference)), options));
    const firefox = report.products.find((product) => product.productId === 'firefox')!;
    t.like(firefox, { endpoints: 1, current: 1, share: 1, behindCount: 0, behind: [] });
    t.deepEqual(firefox.histogram, [{ version: '132.0b3', count: 1 }, { version: '131.0.1', count: 1 }]);
    t.deepEqual(firefox.segments.map((segment) => [segment.platform, segment.channel, segment.endpoints, segment.current]), [['win64', 'beta', 1, 1], ['win64', null, 1, 1]]);
    const [newest, previous] = firefox.latency;
    t.like(newest, { version: '131.0.1', firstEndpointAt: at(8).toISOString(), p50At: at(8).toISOString(), p90At: at(8).toISOString() }, 'the later of the two builds');
    t.like(previous, { version: '131.0', firstEndpointAt: at(8).toISOString() }, 'the beta build ran something newer than 131.0 from its first report');

    // A second address, behind on one build: two endpoints, one current; the percentiles count endpoints.
    seen('10.20.30.41', {}, '131.0.1', at(6));
    seen('10.20.30.41', { platform: 'win32' }, '128.0', at(5));
    await store.flush();
    const two = (await computeCoverage(lgwanState(), store, options)).products.find((product) => product.productId === 'firefox')!;
    t.like(two, { endpoints: 2, current: 1, share: 0.5, behindCount: 1 });
    t.like(two.behind[0], { endpoint: 'address:10.20.30.41', version: '128.0', platform: 'win32', versionsBehind: 2, daysBehind: 20 });
    t.like(two.latency[0], { version: '131.0.1', firstEndpointAt: at(8).toISOString(), p50At: at(8).toISOString(), p90At: null });
  });

  test(`${backend}: an empty inventory gives an empty report, not an error`, async (t) => {
    const { open } = await openers[backend](t);
    const store = await open();
    t.teardown(() => store.close());
    const report = await computeCoverage(lgwanState(), store, { now, endpointStaleDays: 30 });
    t.deepEqual(report.endpoints, { total: 0, active: 0, stale: 0 });
    t.deepEqual(report.products.map((product) => [product.productId, product.endpoints, product.share, product.latency.length]), [['firefox', 0, null, 2], ['firefox-esr', 0, null, 2], ['openssl', 0, null, 1], ['clamav-daily', 0, null, 2]]);
    t.deepEqual(await store.listEndpoints({ offset: 0, limit: 10 }), []);
  });
}

storeSuite('lowdb');
storeSuite('postgresql');

test('postgresql: two replicas sharing one database write overlapping endpoints at once and converge', async (t) => {
  const { url } = await openers.postgresql(t);
  const [first, second] = await Promise.all([PostgresInventory.open({ url: url!, flushIntervalMs: 0, batchSize: 50 }), PostgresInventory.open({ url: url!, flushIntervalMs: 0, batchSize: 50 })]);
  t.teardown(() => Promise.all([first.close(), second.close()]).then(() => undefined));
  const reference: Record<string, EndpointRecord> = {};
  const events = history(23, 300);
  for (const [index, { observation: seen, at: time }] of events.entries()) {
    (index % 2 === 0 ? first : second).record(seen, time);
    applyObservation(reference, seen, time.toISOString());
    if (index % 500 === 0) await Promise.all([first.flush(), second.flush()]);
  }
  await Promise.all([first.flush(), second.flush()]);
  const expected = Object.entries(reference).sort(([keyA, a], [keyB, b]) => b.lastSeen.localeCompare(a.lastSeen) || (keyA < keyB ? -1 : 1)).map(([, record]) => record);
  t.deepEqual(await first.listEndpoints({ offset: 0, limit: 1000 }), expected);
  t.deepEqual(await second.listEndpoints({ offset: 0, limit: 1000 }), expected);
  const options = { now, endpointStaleDays: 30 };
  t.deepEqual(await computeCoverage(lgwanState(), first, options), await computeCoverage(lgwanState(), recordsCoverageSource(() => Object.values(reference)), options));
});

test('postgresql: a write the database refuses keeps the batch, raises the health alarm, and lands once it can', async (t) => {
  const { url } = await openers.postgresql(t);
  const store = await PostgresInventory.open({ url: url!, flushIntervalMs: 0 });
  t.teardown(() => store.close().catch(() => undefined));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query('ALTER TABLE inventory_endpoints ADD CONSTRAINT refuse_everything CHECK (false) NOT VALID');
  store.record(observation('pc-1', 'firefox', '131.0'), at(1));
  const error = await t.throwsAsync(store.flush());
  t.is((error as { code?: string }).code, 'E_DATABASE');
  t.regex(error!.message, /inventory database postgresql:\/\/lgwan@127\.0\.0\.1:\d+\/inventory_\d+: writing the inventory failed: .*refuse_everything/u);
  t.like(store.health(), { backend: 'postgresql', pending: 1 });
  t.truthy(store.health().lastError);
  store.record(observation('pc-2', 'firefox', '131.0'), at(0));
  await admin.query('ALTER TABLE inventory_endpoints DROP CONSTRAINT refuse_everything');
  await store.flush();
  t.deepEqual((await store.listEndpoints({ offset: 0, limit: 10 })).map((endpoint) => endpoint.id), ['pc-2', 'pc-1']);
  t.like(store.health(), { pending: 0, lastError: null });
});

test('postgresql: an unreachable database is a clear error naming it, without its password', async (t) => {
  const error = await t.throwsAsync(PostgresInventory.open({ url: `postgresql://lgwan:s3cret@127.0.0.1:${server.port}/no_such_database` }));
  t.is((error as { code?: string }).code, 'E_DATABASE');
  t.regex(error!.message, /inventory database postgresql:\/\/lgwan:\*\*\*@127\.0\.0\.1:\d+\/no_such_database: connecting failed: database "no_such_database" does not exist/u);
  t.false(error!.message.includes('s3cret'));
});

test('postgresql: migrations run once when several replicas start together, and again is a no-op', async (t) => {
  const { url } = await openers.postgresql(t);
  const stores = await Promise.all([1, 2, 3].map(() => PostgresInventory.open({ url: url!, flushIntervalMs: 0 })));
  await Promise.all(stores.map((store) => store.close()));
  const again = await PostgresInventory.open({ url: url!, flushIntervalMs: 0 });
  await again.close();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(() => admin.end());
  const { rows } = await admin.query<{ name: string }>('SELECT name FROM lgwan_mirror_migrations ORDER BY id');
  t.deepEqual(rows.map((row) => row.name), ['1700000000001_inventory', '1700000000002_endpoint-hostname', '1700000000003_endpoint-tenant', '1700000000004_admin', '1700000000005_rings', '1700000000006_install-results']);
});

test('postgresql: the LGWAN side configured with a database records check-ins there and reports them on the API', async (t) => {
  const { url: database } = await openers.postgresql(t);
  const { lgwan, url } = await publishedRepository(t, { lgwan: { inventory: { store: 'postgresql', url: database, flushSeconds: 0.2 } } });
  t.teardown(() => lgwan.close());
  t.is(lgwan.inventory.backend, 'postgresql');
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'pc-042' });
  const response = await agent.checkIn({ os: 'linux', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'linux-x86_64', locale: 'ja' }] });
  t.is(response.status, 200);
  await lgwan.inventory.flush();
  const operator = await signIn(lgwan.admin, url);
  const listed = await operator.json<{ total: number; endpoints: EndpointRecord[] }>('/api/v1/endpoints');
  t.is(listed.total, 1);
  t.like(listed.endpoints[0], { kind: 'agent', id: agent.agentId, products: { 'demo-firefox/linux-x86_64': { version: '130.0', locale: 'ja' } } });
  const admin = new pg.Client({ connectionString: database });
  await admin.connect();
  t.teardown(() => admin.end());
  t.deepEqual((await admin.query('SELECT endpoint_key, version FROM inventory_products')).rows, [{ endpoint_key: `agent:${agent.agentId}`, version: '130.0' }]);
  const coverage = await operator.json<{ endpoints: number; current: number; behind: Array<{ endpoint: string }> }>('/api/v1/products/demo-firefox/coverage');
  t.like(coverage, { endpoints: 1, current: 0 });
  t.deepEqual(coverage.behind.map((entry) => entry.endpoint), [`agent:${agent.agentId}`]);
});
