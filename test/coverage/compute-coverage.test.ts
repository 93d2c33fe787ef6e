import test from 'ava';
import type { Artifact } from '../../src/bundle/manifest.ts';
import { computeCoverage } from '../../src/coverage/compute-coverage.ts';
import { recordsCoverageSource } from '../../src/coverage/coverage-source.ts';
import type { EndpointRecord } from '../../src/coverage/inventory.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';

const now = new Date('2026-11-22T12:00:00Z');
const at = (days: number, hours = 0) => new Date(now.getTime() - days * 86_400_000 - hours * 3_600_000).toISOString();

function artifact(version: string): Artifact {
  return {
    productId: 'firefox', version, platform: 'win64', locale: 'ja', fileName: `firefox-${version}.complete.mar`, path: `pool/firefox/${version}/win64/ja/firefox-${version}.complete.mar`,
    size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' },
  };
}

/** 131.0 published 10 days ago, 131.0.1 published 2 days ago; vendor already has 132.0. */
function state(): LgwanState {
  return {
    ...structuredClone(emptyLgwanState),
    published: {
      sequence: 2, manifestSha256: '0'.repeat(64), bundleCreatedAt: at(2), publishedAt: at(2),
      products: [{ id: 'firefox', name: 'Firefox', vendor: 'Mozilla', scheme: 'mozilla', trust: 'signed-hash-list', retention: 2, latestSeen: { version: '132.0', firstSeenAt: at(0, 3) }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } }],
      artifacts: [artifact('131.0'), artifact('131.0.1')],
    },
    firstPublished: { firefox: { '131.0': at(10), '131.0.1': at(2) } },
    releaseTimeline: { firefox: { '131.0': { firstSeenAt: at(10, 6), fetchedAt: at(10, 5), firstBundledAt: at(10, 5) }, '131.0.1': { firstSeenAt: at(2, 12), fetchedAt: at(2, 11), firstBundledAt: at(2, 10) } } },
  };
}

function endpoint(id: string, lastSeenDaysAgo: number, history: Record<string, string>, platform = 'win64'): EndpointRecord {
  const versions = Object.entries(history).sort(([, a], [, b]) => a.localeCompare(b));
  const [version, seenAt] = versions.at(-1)!;
  return {
    kind: 'agent', id, firstSeen: versions[0]![1], lastSeen: at(lastSeenDaysAgo),
    products: { [`firefox/${platform}`]: { product: 'firefox', version, platform, source: 'agent', seenAt, firstSeen: history } },
  };
}

test('share, histogram, endpoints behind and stale endpoints are computed per product', async (t) => {
  const endpoints = [
    endpoint('pc-1', 0, { '131.0': at(9), '131.0.1': at(1, 20) }),
    endpoint('pc-2', 0, { '131.0': at(9), '131.0.1': at(1) }),
    endpoint('pc-3', 0, { '130.0': at(20), '131.0': at(8) }),
    endpoint('pc-4', 0, { '130.0': at(20) }, 'linux-x86_64'),
    endpoint('pc-old', 45, { '129.0': at(60) }),
  ];
  const report = await computeCoverage(state(), recordsCoverageSource(() => endpoints), { now, endpointStaleDays: 30 });
  t.deepEqual(report.endpoints, { total: 5, active: 4, stale: 1 });
  const firefox = report.products[0]!;
  t.like(firefox, { newestVendor: '132.0', newestPublished: '131.0.1', publishedSince: at(2), endpoints: 4, staleEndpoints: 1, current: 2, share: 0.5 });
  t.deepEqual(firefox.histogram, [{ version: '131.0.1', count: 2 }, { version: '131.0', count: 1 }, { version: '130.0', count: 1 }]);
  t.deepEqual(
    firefox.behind.map((entry) => [entry.endpoint, entry.version, entry.versionsBehind, entry.daysBehind]),
    [['agent:pc-4', '130.0', 2, 10], ['agent:pc-3', '131.0', 1, 2]],
    '130.0 has had an update for 10 days (131.0) and is two versions behind',
  );
  t.deepEqual(firefox.segments.map((segment) => [segment.platform, segment.endpoints, segment.current]), [['linux-x86_64', 1, 0], ['win64', 3, 2]]);
});

test('patch latency: fetcher, bundle and publication times, and when the first, half and 90 % of endpoints ran each release', async (t) => {
  const endpoints = [
    endpoint('pc-1', 0, { '131.0': at(9, 20), '131.0.1': at(1, 20) }),
    endpoint('pc-2', 0, { '131.0': at(9, 12), '131.0.1': at(1, 12) }),
    endpoint('pc-3', 0, { '131.0': at(8) }),
    endpoint('pc-4', 0, { '131.0': at(5) }),
  ];
  const firefox = (await computeCoverage(state(), recordsCoverageSource(() => endpoints), { now, endpointStaleDays: 30 })).products[0]!;
  const [newest, previous] = firefox.latency;
  t.like(newest, { version: '131.0.1', publishedAt: at(2), firstEndpointAt: at(1, 20), p50At: at(1, 12), p90At: null });
  t.deepEqual(newest!.hours, { toPublish: 12, toFirstEndpoint: 4, toP50: 12, toP90: null }, '90 % not reached: only 2 of 4');
  t.like(previous, { version: '131.0', firstEndpointAt: at(9, 20), p50At: at(9, 12), p90At: at(5) });
  t.deepEqual(previous!.hours, { toPublish: 6, toFirstEndpoint: 4, toP50: 12, toP90: 120 });
  t.deepEqual(firefox.latencySummary, { releases: 2, medianHoursToPublish: 9, medianHoursToP90: 120 });
});

test('a version that does not parse is counted as behind, never as current', async (t) => {
  const firefox = (await computeCoverage(state(), recordsCoverageSource(() => [endpoint('pc-x', 0, { 'not-a-version': at(1) })]), { now, endpointStaleDays: 30 })).products[0]!;
  t.like(firefox, { endpoints: 1, current: 0, share: 0 });
  t.like(firefox.behind[0], { version: 'not-a-version', versionsBehind: null });
});

test('an endpoint with several builds is listed behind by its least one: an unparsable version first, equal versions by product key', async (t) => {
  const build = (platform: string, version: string, channel?: string) => ({ product: 'firefox', version, platform, ...(channel ? { channel } : {}), source: 'mozilla-aus', seenAt: at(1), firstSeen: { [version]: at(1) } });
  const endpoints: EndpointRecord[] = [
    { kind: 'address', id: '10.0.0.1', firstSeen: at(1), lastSeen: at(1), products: { 'firefox/win64': build('win64', '131.0.1'), 'firefox/win32': build('win32', 'not-a-version') } },
    { kind: 'address', id: '10.0.0.2', firstSeen: at(1), lastSeen: at(1), products: { 'firefox/win64/release': build('win64', '130.0', 'release'), 'firefox/win64/beta': build('win64', '130.0', 'beta'), 'firefox/win32': build('win32', '131.0') } },
  ];
  const firefox = (await computeCoverage(state(), recordsCoverageSource(() => endpoints), { now, endpointStaleDays: 30 })).products[0]!;
  t.like(firefox, { endpoints: 2, current: 0, behindCount: 2 });
  t.deepEqual(
    firefox.behind.map((entry) => [entry.endpoint, entry.version, entry.platform, entry.channel, entry.versionsBehind, entry.daysBehind]),
    [['address:10.0.0.1', 'not-a-version', 'win32', null, null, 10], ['address:10.0.0.2', '130.0', 'win64', 'beta', 2, 10]],
  );
  t.is(firefox.histogram.reduce((sum, entry) => sum + entry.count, 0), 5, 'the histogram counts builds');
});
