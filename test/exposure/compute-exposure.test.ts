import test from 'ava';
import type { AdvisoryData } from '../../src/advisories/model.ts';
import { recordsCoverageSource } from '../../src/coverage/coverage-source.ts';
import type { EndpointRecord } from '../../src/coverage/inventory.ts';
import { profilesOfRecords } from '../../src/coverage/version-profiles.ts';
import { computeExposure, endpointExposure, type ExposureSource } from '../../src/exposure/compute-exposure.ts';
import { advisoryAlarms } from '../../src/exposure/exposure-alarms.ts';
import { advisoriesPerPublication } from '../../src/exposure/exposure-view.ts';
import { endpoint, mozillaAdvisories, product, stateWith } from './fixtures.ts';

const now = new Date('2026-11-22T03:00:00Z');
const seen = '2026-11-21T00:00:00Z';

const sourceOf = (records: EndpointRecord[]): ExposureSource => ({ ...recordsCoverageSource(() => records), versionProfiles: async (request) => profilesOfRecords(records, request) });

const state = () =>
  stateWith([product('firefox', 'mozilla', 'Firefox'), product('firefox-esr', 'mozilla', 'Firefox ESR'), product('thunderbird', 'mozilla', 'Thunderbird')], {
    firefox: ['131.0', '131.0.2'],
    'firefox-esr': ['128.3.1esr', '115.16.1esr'],
    thunderbird: ['131.0'],
  });

test('each endpoint is exposed to the CVEs fixed in newer versions, KEV-listed ones with their due date', async (t) => {
  const records = [
    endpoint('old', seen, { firefox: '130.0' }),
    endpoint('dot-zero', seen, { firefox: '131.0' }),
    endpoint('fixed', seen, { firefox: '131.0.2' }),
    endpoint('newer', seen, { firefox: '132.0' }),
  ];
  const report = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now, endpointStaleDays: 30 });
  t.deepEqual(report.endpoints, { active: 4, exposed: 2, kev: 2, kevOverdue: 2 });
  const firefox = report.products.find((entry) => entry.productId === 'firefox')!;
  t.deepEqual(firefox.versions.map((entry) => [entry.version, entry.endpoints, entry.cves, entry.kev, entry.earliestDue]), [['130.0', 1, 5, 1, '2024-11-05'], ['131.0', 1, 1, 1, '2024-11-05']]);
  t.is(firefox.cves[0]!.cve, 'CVE-2024-9680', 'the KEV-listed CVE comes first');
  t.like(firefox.cves[0], { fixedIn: ['131.0.2'], endpoints: 2, kev: { dueDate: '2024-11-05', dateAdded: '2024-10-15', overdue: true } });
  t.is(firefox.cves.find((cve) => cve.cve === 'CVE-2024-9403')!.endpoints, 1);

  const old = endpointExposure(state(), mozillaAdvisories(), records[0]!, 'agent:old', now);
  t.is(old.cves.length, 5);
  t.is(old.kev, 1);
  t.is(old.earliestDue, '2024-11-05');
  t.deepEqual(old.cves[0]!.via, [{ product: 'firefox', version: '130.0', fixedIn: '131.0.2' }]);
  t.deepEqual(old.cves.find((cve) => cve.cve === 'CVE-2024-9392')!.via, [{ product: 'firefox', version: '130.0', fixedIn: '131.0' }]);
  t.is(endpointExposure(state(), mozillaAdvisories(), records[2]!, 'agent:fixed', now).cves.length, 0);
});

test('ESR lines: a fix on the version\'s own line counts, a newer line\'s fix does not', async (t) => {
  const records = [
    endpoint('esr-115-old', seen, { 'firefox-esr': '115.16.0esr' }),
    endpoint('esr-115-fixed', seen, { 'firefox-esr': '115.16.1esr' }),
    endpoint('esr-128-2', seen, { 'firefox-esr': '128.2.0esr' }),
    endpoint('esr-128-3', seen, { 'firefox-esr': '128.3.0esr' }),
    endpoint('esr-102', seen, { 'firefox-esr': '102.15.0esr' }),
  ];
  const cvesOf = (index: number) => endpointExposure(state(), mozillaAdvisories(), records[index]!, 'x', now).cves.map((cve) => cve.cve).sort();
  t.deepEqual(cvesOf(0), ['CVE-2024-9680'], '115.16.0esr needs 115.16.1esr; the 128.3 fixes are on another line');
  t.deepEqual(cvesOf(1), [], '115.16.1esr is fixed although 128.3.1esr is newer');
  t.deepEqual(cvesOf(2), ['CVE-2024-8900', 'CVE-2024-9392', 'CVE-2024-9396', 'CVE-2024-9401', 'CVE-2024-9680']);
  t.deepEqual(cvesOf(3), ['CVE-2024-9680']);
  t.deepEqual(cvesOf(4), ['CVE-2024-8900', 'CVE-2024-9392', 'CVE-2024-9396', 'CVE-2024-9401', 'CVE-2024-9680'], 'a line nobody fixes any more is exposed to all');
  t.is(endpointExposure(state(), mozillaAdvisories(), records[0]!, 'x', now).cves[0]!.via[0]!.fixedIn, '115.16.1esr');
});

test('a CVE in several advisories and products counts once per endpoint; severities are kept as each advisory states them', async (t) => {
  const both = endpoint('both', seen, { firefox: '130.0', 'firefox-esr': '128.2.0esr' });
  const report = await computeExposure(state(), mozillaAdvisories(), sourceOf([both]), { now, endpointStaleDays: 30 });
  // Firefox 130.0: 9392, 9396, 9401, 9403, 9680; ESR 128.2: 8900, 9392, 9396, 9401, 9680 — six distinct.
  t.deepEqual(report.mostExposed, [{ endpoint: 'agent:both', cves: 6, kev: 1, kevOverdue: 1, earliestDue: '2024-11-05' }]);
  t.deepEqual(report.cves, { affectingEndpoints: 6, kev: 1, kevOverdue: 1 });
  const exposure = endpointExposure(state(), mozillaAdvisories(), both, 'agent:both', now);
  t.is(exposure.cves.length, 6);
  const siteIsolation = exposure.cves.find((cve) => cve.cve === 'CVE-2024-9392')!;
  t.deepEqual(siteIsolation.statements.map((statement) => [statement.advisory, statement.severity]), [['mfsa2024-46', 'high'], ['mfsa2024-47', 'high']]);
  t.is(siteIsolation.via.length, 2);
});

test('a product no advisory source covers has no advisory data, not zero vulnerabilities', async (t) => {
  const report = await computeExposure(state(), mozillaAdvisories(), sourceOf([endpoint('tb', seen, { thunderbird: '115.0' })]), { now, endpointStaleDays: 30 });
  const thunderbird = report.products.find((entry) => entry.productId === 'thunderbird')!;
  t.is(thunderbird.advisoryData, 'none');
  t.deepEqual(thunderbird.cves, []);
  t.is(report.endpoints.exposed, 0);
  const exposure = endpointExposure(state(), mozillaAdvisories(), endpoint('tb', seen, { thunderbird: '115.0' }), 'agent:tb', now);
  t.deepEqual(exposure.products, [{ product: 'thunderbird', version: '115.0', advisoryData: 'none', comparable: false, cves: 0 }]);
  const nothing = await computeExposure(state(), { sources: [], advisories: [], knownExploited: [] }, sourceOf([]), { now, endpointStaleDays: 30 });
  t.true(nothing.products.every((entry) => entry.advisoryData === 'none'));
});

test('stale endpoints are left out, two builds of one endpoint count once, and tenants are counted apart', async (t) => {
  const records = [
    endpoint('two-builds', seen, { firefox: ['130.0', '131.0'] }),
    endpoint('stale', '2026-09-01T00:00:00Z', { firefox: '130.0' }),
    endpoint('a-1', seen, { firefox: '130.0' }, 'a'),
    endpoint('b-1', seen, { firefox: '131.0.2' }, 'b'),
  ];
  const all = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now, endpointStaleDays: 30 });
  t.deepEqual(all.endpoints, { active: 3, exposed: 2, kev: 2, kevOverdue: 2 });
  const firefox = all.products.find((entry) => entry.productId === 'firefox')!;
  t.is(firefox.cves.find((cve) => cve.cve === 'CVE-2024-9680')!.endpoints, 2, 'the endpoint with 130.0 and 131.0 builds counts once');
  t.deepEqual(firefox.versions.map((entry) => [entry.version, entry.endpoints]), [['130.0', 2], ['131.0', 1]]);
  const a = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now, endpointStaleDays: 30, tenant: 'a' });
  t.deepEqual(a.endpoints, { active: 1, exposed: 1, kev: 1, kevOverdue: 1 });
  t.deepEqual(a.mostExposed.map((entry) => entry.endpoint), ['agent:a-1@a']);
  const b = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now, endpointStaleDays: 30, tenant: 'b' });
  t.deepEqual(b.endpoints, { active: 1, exposed: 0, kev: 0, kevOverdue: 0 });
});

test('each published release lists the CVEs it is the first release here to fix', async (t) => {
  const report = await computeExposure(state(), mozillaAdvisories(), sourceOf([]), { now, endpointStaleDays: 30 });
  const firefox = report.products.find((entry) => entry.productId === 'firefox')!;
  t.deepEqual(firefox.releases, [
    { version: '131.0.2', cves: ['CVE-2024-9680'], kev: 1 },
    { version: '131.0', cves: ['CVE-2024-9403', 'CVE-2024-9401', 'CVE-2024-9396', 'CVE-2024-9392'], kev: 0 },
  ]);
  const esr = report.products.find((entry) => entry.productId === 'firefox-esr')!;
  // 128.3.0esr itself is not published here: 128.3.1esr is the first release on its line with those fixes.
  t.deepEqual(esr.releases.map((release) => [release.version, release.cves.length]), [['128.3.1esr', 5], ['115.16.1esr', 1]]);
});

test('the KEV due date decides "overdue" in Japan\'s calendar', async (t) => {
  const records = [endpoint('old', '2024-11-04T00:00:00Z', { firefox: '130.0' })];
  const before = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now: new Date('2024-11-05T14:59:00Z'), endpointStaleDays: 30 });
  t.is(before.endpoints.kevOverdue, 0, '23:59 JST on the due date is not past it');
  t.deepEqual(advisoryAlarms(before, new Date('2024-11-05T14:59:00Z'), 720).filter((alarm) => alarm.kind === 'kev-overdue'), []);
  const after = await computeExposure(state(), mozillaAdvisories(), sourceOf(records), { now: new Date('2024-11-05T15:00:00Z'), endpointStaleDays: 30 });
  t.is(after.endpoints.kevOverdue, 1);
  const alarms = advisoryAlarms(after, new Date('2024-11-05T15:00:00Z'), 720);
  t.deepEqual(alarms.map((alarm) => [alarm.kind, alarm.severity, alarm.subject]), [['kev-overdue', 'critical', 'CVE-2024-9680']]);
  t.regex(alarms[0]!.detail, /1 endpoints \(firefox\); KEV due 2024-11-05/u);
});

test('advisory data older than the configured age raises an alarm per source', async (t) => {
  const report = await computeExposure(state(), mozillaAdvisories(undefined, '2026-11-18T03:00:00Z'), sourceOf([]), { now, endpointStaleDays: 30 });
  t.deepEqual(advisoryAlarms(report, now, 100).map((alarm) => alarm.kind), []);
  const alarms = advisoryAlarms(report, now, 72);
  t.deepEqual(alarms.map((alarm) => [alarm.kind, alarm.subject]), [['advisories-stale', 'mozilla-advisories'], ['advisories-stale', 'cisa-kev']]);
  t.regex(alarms[0]!.detail, /96 h ago; limit 72 h/u);
});

test('versions that do not parse, fixes that do not parse, and package trackers are said to be so', async (t) => {
  const data: AdvisoryData = mozillaAdvisories();
  data.advisories[0]!.fixes.push({ product: 'firefox', fixedIn: 'Firefox 131' });
  data.sources.push({ source: 'debian-tracker', kind: 'debian-tracker', trust: 'signed-hash-list', fetchedAt: '2026-11-21T00:00:00Z', products: ['debian-bookworm-security'] });
  data.advisories.push({ source: 'debian-tracker', id: 'example-dsa-1', title: 'firefox-esr security update (synthetic)', vulnerabilities: [{ cve: 'CVE-2024-9680' }], fixes: [{ product: 'debian-bookworm-security', package: 'firefox-esr', fixedIn: '128.3.1esr-1~deb12u1' }] });
  const withDebian = stateWith([...state().published!.products, product('debian-bookworm-security', 'dotted')], { firefox: ['131.0'] });
  const records = [endpoint('weird', seen, { firefox: 'banana' }), endpoint('apt', seen, { 'debian-bookworm-security': '2026.11.20' })];
  const report = await computeExposure(withDebian, data, sourceOf(records), { now, endpointStaleDays: 30 });
  const firefox = report.products.find((entry) => entry.productId === 'firefox')!;
  t.deepEqual(firefox.unknownVersions, ['banana']);
  t.deepEqual(firefox.unusableFixes, [{ source: 'mozilla-advisories', advisory: 'mfsa2024-46', fixedIn: 'Firefox 131' }]);
  const debian = report.products.find((entry) => entry.productId === 'debian-bookworm-security')!;
  t.is(debian.advisoryData, 'packages');
  t.deepEqual(debian.packageFixes.map((fix) => [fix.package, fix.fixedIn, fix.cves]), [['firefox-esr', '128.3.1esr-1~deb12u1', ['CVE-2024-9680']]]);
  t.is(report.endpoints.exposed, 0, 'neither the unparsable version nor the suite snapshot is counted as exposed');
});

test('advisoriesPerPublication parses once per published state and retries a failed parse', async (t) => {
  const first = { sequence: 1 };
  const second = { sequence: 2 };
  let published: { sequence: number } | null = null;
  const parsed: number[] = [];
  let fail = true;
  const none = { sources: [], advisories: [], knownExploited: [] };
  const provider = advisoriesPerPublication(() => published, (state) => {
    parsed.push(state.sequence);
    if (fail) throw new Error('artifact unreadable');
    return mozillaAdvisories();
  }, none);
  t.is(await provider.data(), none, 'nothing published: no advisory data');
  published = first;
  await t.throwsAsync(async () => provider.data(), { message: 'artifact unreadable' });
  fail = false;
  const data = await provider.data();
  t.is(await provider.data(), data, 'the same object while the publication is the same');
  published = second;
  t.not(await provider.data(), data);
  t.deepEqual(parsed, [1, 1, 2]);
});
