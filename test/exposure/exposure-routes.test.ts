import test from 'ava';
import type { ExposureReport, ProductExposure } from '../../src/exposure/compute-exposure.ts';
import type { InventoryStore } from '../../src/coverage/inventory.ts';
import type { RepositoryStatus } from '../../src/repository/status-model.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { exposureRepository } from './exposure-repository.ts';
import { mozillaAdvisories } from './fixtures.ts';

const demo = { firefox: 'demo-firefox' };

/** CSV rows as arrays (the files here hold no quoted commas). */
const csvRows = (text: string) => text.replace(/^\uFEFF/u, '').trim().split('\r\n').map((line) => line.split(','));

test('the JSON API, the CSV, /metrics and the overview give the same exposure figures', async (t) => {
  const { url, lgwan } = await exposureRepository(t, { advisories: mozillaAdvisories(demo, new Date().toISOString()) });
  const old = await enrollAgent(lgwan.admin, url, { hostname: 'somu-01' });
  const current = await enrollAgent(lgwan.admin, url, { hostname: 'somu-02' });
  await old.checkIn({ hostname: 'somu-01', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] });
  await current.checkIn({ hostname: 'somu-02', installed: [{ product: 'demo-firefox', version: '131.0', platform: 'win64', locale: 'ja' }, { product: 'demo-clamav-bytecode', version: '335', platform: 'win64', locale: 'ja' }] });
  await lgwan.inventory.flush();
  const admin = await signIn(lgwan.admin, url);

  const report = await admin.json<ExposureReport>('/api/v1/exposure');
  t.deepEqual(report.endpoints, { active: 2, exposed: 2, kev: 2, kevOverdue: 2 });
  t.deepEqual(report.cves, { affectingEndpoints: 5, kev: 1, kevOverdue: 1 });
  t.deepEqual(report.mostExposed.map((entry) => [entry.endpoint, entry.hostname, entry.cves, entry.kev, entry.earliestDue]), [[`agent:${old.agentId}`, 'somu-01', 5, 1, '2024-11-05'], [`agent:${current.agentId}`, 'somu-02', 1, 1, '2024-11-05']]);
  const firefox = report.products.find((product) => product.productId === 'demo-firefox')!;
  t.like(firefox, { advisoryData: 'versions', exposedEndpoints: 2, kevEndpoints: 2, cvesAffectingEndpoints: 5 });
  t.is(report.products.find((product) => product.productId === 'demo-clamav-bytecode')!.advisoryData, 'none');

  const csv = csvRows(await admin.text('/api/v1/exposure.csv'));
  t.deepEqual(csv[0]!.slice(0, 6), ['product', 'name', 'advisory_data', 'sources', 'active_endpoints', 'exposed_endpoints']);
  t.deepEqual(csv[1], ['*', '', 'versions', 'mozilla-advisories cisa-kev', '2', '2', '2', '2', '5', '1']);
  t.deepEqual(csv.find((row) => row[0] === 'demo-firefox')!.slice(2), ['versions', 'mozilla-advisories', '', '2', '2', '2', '5', '1']);
  t.deepEqual(csv.find((row) => row[0] === 'demo-clamav-bytecode')!.slice(2), ['none', '', '', '', '', '', '', ''], 'no advisory data is empty, never 0');

  const metrics = await admin.text('/metrics');
  t.true(metrics.includes('lgwan_mirror_exposed_endpoints{level="kev"} 2'));
  t.true(metrics.includes('lgwan_mirror_exposed_endpoints{level="any"} 2'));
  t.true(metrics.includes('lgwan_mirror_product_exposed_endpoints{product="demo-firefox",level="any"} 2'));
  t.false(metrics.includes('lgwan_mirror_product_exposed_endpoints{product="demo-clamav-bytecode"'));

  const overview = await admin.text('/');
  t.regex(overview, /data-field="exposed-kev">2</u);
  t.regex(overview, /data-field="exposed-any">2</u);
  t.regex(overview, /<table id="most-exposed">(?:(?!<\/table>)[\s\S])*<strong>somu-01<\/strong> <code>agent:/u, 'the most exposed are named by host name');
  t.regex(overview, /<tr data-product="demo-clamav-bytecode">(?:(?!<\/tr>)[\s\S])*data-field="no-advisory-data"/u);

  const product = await admin.json<ProductExposure>('/api/v1/products/demo-firefox/exposure');
  t.deepEqual(product.releases, [{ version: '131.0', cves: ['CVE-2024-9403', 'CVE-2024-9401', 'CVE-2024-9396', 'CVE-2024-9392'], kev: 0 }]);
  const endpoint = await admin.json<{ cves: Array<{ cve: string }>; kev: number; earliestDue: string }>(`/api/v1/endpoints/${encodeURIComponent(`agent:${old.agentId}`)}/exposure`);
  t.is(endpoint.cves.length, 5);
  t.is(endpoint.kev, 1);
  const endpointPage = await admin.text(`/endpoints/${encodeURIComponent(`agent:${old.agentId}`)}`);
  t.true(endpointPage.includes('この端末は 5 件の CVE の影響を受けています（うち CISA KEV 1 件、期限 2024-11-05）。'));
  t.true(endpointPage.includes(`href="/advisories/mozilla-advisories/mfsa2024-51"`));

  // The KEV entry is long past its due date and affects both endpoints: an alarm where alarms go.
  const status = await admin.json<RepositoryStatus>('/api/v1/status');
  t.deepEqual(status.alarms.filter((alarm) => alarm.kind === 'kev-overdue').map((alarm) => [alarm.subject, alarm.detail]), [['CVE-2024-9680', '2 endpoints (demo-firefox); KEV due 2024-11-05']]);
  t.deepEqual(status.alarms.filter((alarm) => alarm.kind === 'advisories-stale'), []);
});

test('advisory data older than lgwan.advisoryMaxAgeHours is an alarm; new data replaces the report', async (t) => {
  const old = new Date(Date.now() - 80 * 3_600_000).toISOString();
  const { url, lgwan, provider } = await exposureRepository(t, { advisories: mozillaAdvisories(demo, old), advisoryMaxAgeHours: 72 });
  const admin = await signIn(lgwan.admin, url);
  const stale = await admin.json<RepositoryStatus>('/api/v1/status');
  t.deepEqual(stale.alarms.filter((alarm) => alarm.kind === 'advisories-stale').map((alarm) => alarm.subject), ['mozilla-advisories', 'cisa-kev']);
  provider.current = mozillaAdvisories(demo, new Date().toISOString());
  const fresh = await admin.json<RepositoryStatus>('/api/v1/status');
  t.deepEqual(fresh.alarms.filter((alarm) => alarm.kind === 'advisories-stale'), []);
});

test('each tenant sees its own endpoints\' exposure only; the advisory text needs a session and is escaped', async (t) => {
  const tenants = [
    { id: 'a', name: 'A市', networks: ['10.1.0.0/16'] },
    { id: 'b', name: 'B町', networks: ['10.2.0.0/16'] },
  ];
  const advisories = mozillaAdvisories(demo, new Date().toISOString());
  advisories.advisories[0]!.title = '<script>alert(1)</script> & "quoted"';
  advisories.advisories[0]!.text = '</pre><img src=x onerror=alert(2)>\nline two';
  advisories.advisories[0]!.url = 'javascript:alert(3)';
  const { url, lgwan } = await exposureRepository(t, { advisories, tenants });
  const agentA = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-01' });
  const agentB = await enrollAgent(lgwan.admin, url, { tenant: 'b', hostname: 'b-01' });
  await agentA.checkIn({ hostname: 'a-01', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] });
  await agentB.checkIn({ hostname: 'b-01', installed: [{ product: 'demo-firefox', version: '131.0', platform: 'win64', locale: 'ja' }] });
  await lgwan.inventory.flush();
  const a = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'a' });
  const reportA = await a.json<ExposureReport>('/api/v1/exposure');
  t.deepEqual(reportA.endpoints, { active: 1, exposed: 1, kev: 1, kevOverdue: 1 });
  t.deepEqual(reportA.mostExposed.map((entry) => entry.endpoint), [`agent:${agentA.agentId}@a`]);
  t.is((await a.fetch(`/api/v1/endpoints/${encodeURIComponent(`agent:${agentB.agentId}@b`)}/exposure`)).status, 404);
  const b = await signIn(lgwan.admin, url, { role: 'tenant-viewer', tenant: 'b' });
  const reportB = await b.json<ExposureReport>('/api/v1/exposure');
  t.deepEqual(reportB.endpoints, { active: 1, exposed: 1, kev: 1, kevOverdue: 1 });
  t.is(reportB.cves.affectingEndpoints, 1);

  t.is((await fetch(`${url}/advisories/mozilla-advisories/mfsa2024-46`, { redirect: 'manual' })).status, 303, 'no session: sent to sign in');
  const page = await a.text('/advisories/mozilla-advisories/mfsa2024-46');
  t.false(page.includes('<script>alert(1)'));
  t.false(page.includes('<img src=x'));
  t.false(page.includes('href="javascript:'));
  t.true(page.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;'));
  t.true(page.includes('&lt;/pre&gt;&lt;img src=x onerror=alert(2)&gt;'));
  t.true(page.includes('<code id="publisher-url">javascript:alert(3)</code>'), 'the URL is text, not a link');
  t.is((await a.fetch('/advisories/mozilla-advisories/mfsa1999-99')).status, 404);

  // The approval view says what each release fixes.
  const approvals = await a.text('/approvals');
  t.regex(approvals, /<tr data-version="131\.0"><td>131\.0<br><small data-field="release-fixes"><span data-field="release-fixes-count">4<\/span> CVE/u);
});

test('when the exposure report cannot be computed, the status and the approval view still answer', async (t) => {
  // An inventory whose exposure query fails (the database went away mid-way), everything else working.
  const failing = (store: InventoryStore) =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'versionProfiles') return async () => Promise.reject(new Error('database away'));
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  const tenants = [{ id: 'a', name: 'A市', networks: ['10.1.0.0/16'] }];
  const { url, lgwan } = await exposureRepository(t, { advisories: mozillaAdvisories(demo, new Date().toISOString()), tenants, inventory: failing });
  const admin = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'a' });
  const status = await admin.fetch('/api/v1/status');
  t.is(status.status, 200);
  t.deepEqual(((await status.json()) as RepositoryStatus).alarms.filter((alarm) => alarm.kind === 'kev-overdue'), []);
  const approvals = await admin.fetch('/approvals');
  t.is(approvals.status, 200);
  t.false((await approvals.text()).includes('data-field="release-fixes"'));
  t.is((await admin.fetch('/api/v1/exposure')).status, 500, 'the exposure API itself says it failed');
});
