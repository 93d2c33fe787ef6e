import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { chromium, type Page } from 'playwright-core';
import type { ExposureReport, ProductExposure } from '../../src/exposure/compute-exposure.ts';
import { hashPassword } from '../../src/admin/passwords.ts';
import { createAccount, signInInBrowser } from '../helpers/browser-console.ts';
import { enrollAgent } from '../helpers/console.ts';
import { exposureRepository } from '../exposure/exposure-repository.ts';
import { mozillaAdvisories } from '../exposure/fixtures.ts';
import { projectRoot } from '../helpers/environment.ts';

const screenshots = path.join(projectRoot, 'test-results');

/*
 * Exposure to advisories (issue 16) in a real headless Chromium: the overview's headline, the
 * product and endpoint pages, and the advisory text show the figures the JSON API and the CSV
 * give; hostile advisory strings stay text; a product without advisory data says so; a tenant's
 * admin sees only that tenant's endpoints. No request leaves the repository.
 */
const tenants = [
  { id: 'a', name: 'A市', networks: ['10.1.0.0/16'] },
  { id: 'b', name: 'B町', networks: ['10.2.0.0/16'] },
];

const hostileTitle = '<img src=x onerror="document.title=1">Security Vulnerabilities fixed in Firefox 131';
const hostileText = '</pre><script>document.title="owned"</script>\nA compromised content process could have allowed for the arbitrary loading of cross-origin pages.';

async function launch(t: ExecutionContext, url: string) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  const origin = new URL(url).origin;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`request to another host: ${request.url()}`);
  });
  return { page, problems };
}

/** A JSON or CSV answer as the signed-in browser gets it. */
async function answer(page: Page, url: string): Promise<string> {
  const response = await page.request.get(url);
  if (response.status() !== 200) throw new Error(`${url} answered ${response.status()}`);
  return response.text();
}

const text = async (page: Page, selector: string) => (await page.locator(selector).first().textContent())?.trim();

test('in a real browser: the exposure headline, product, endpoint and advisory pages show the API\'s figures, per tenant, with hostile advisory strings as text', async (t) => {
  const advisories = mozillaAdvisories({ firefox: 'demo-firefox' }, new Date().toISOString());
  advisories.advisories[0]!.title = hostileTitle;
  advisories.advisories[0]!.text = hostileText;
  advisories.advisories[0]!.vulnerabilities[0]!.severity = '<b>high</b>';
  advisories.advisories[0]!.vulnerabilities[0]!.title = hostileTitle;
  const { url, lgwan } = await exposureRepository(t, { advisories, tenants });
  const runs: Array<[string, 'a' | 'b', string]> = [['a-somu-01', 'a', '130.0'], ['a-somu-02', 'a', '131.0'], ['a-somu-03', 'a', '131.0'], ['b-kaikei-01', 'b', '130.0']];
  const agents = new Map<string, string>();
  for (const [hostname, tenant, version] of runs) {
    const agent = await enrollAgent(lgwan.admin, url, { tenant, hostname });
    agents.set(hostname, `agent:${agent.agentId}@${tenant}`);
    const response = await agent.checkIn({ hostname, installed: [{ product: 'demo-firefox', version, platform: 'win64', locale: 'ja' }, { product: 'demo-clamav-bytecode', version: '335', platform: 'win64', locale: 'ja' }] });
    if (response.status !== 200) throw new Error(`check-in of ${hostname} answered ${response.status}`);
  }
  await lgwan.inventory.flush();
  await lgwan.admin.putAccount({ username: 'a-admin', source: 'local', passwordHash: await hashPassword('a admin password 1'), grants: [{ role: 'tenant-admin', tenant: 'a' }], createdAt: new Date().toISOString() });

  const { page, problems } = await launch(t, url);
  await signInInBrowser(page, url, { username: 'a-admin', password: 'a admin password 1' });
  const api = JSON.parse(await answer(page, `${url}/api/v1/exposure`)) as ExposureReport;
  t.deepEqual(api.endpoints, { active: 3, exposed: 3, kev: 3, kevOverdue: 3 }, 'tenant A: three endpoints, all on versions before 131.0.2');
  t.deepEqual(api.cves, { affectingEndpoints: 5, kev: 1, kevOverdue: 1 });
  const csv = (await answer(page, `${url}/api/v1/exposure.csv`)).replace(/^\uFEFF/u, '').trim().split('\r\n').map((line) => line.split(','));
  t.deepEqual(csv[1]!.slice(4), [api.endpoints.active, api.endpoints.exposed, api.endpoints.kev, api.endpoints.kevOverdue, api.cves.affectingEndpoints, api.cves.kev].map(String));

  // The overview's headline: the same figures, and only tenant A's endpoints among the most exposed.
  await page.goto(`${url}/`);
  t.is(await text(page, '[data-field="exposed-kev"]'), String(api.endpoints.kev));
  t.is(await text(page, '[data-field="exposed-any"]'), String(api.endpoints.exposed));
  t.is(await text(page, '[data-field="exposed-kev-overdue"]'), String(api.endpoints.kevOverdue));
  t.is(await text(page, '[data-field="cves-affecting"]'), String(api.cves.affectingEndpoints));
  const mostExposed = await page.$$eval('#most-exposed tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim())));
  t.deepEqual(mostExposed, api.mostExposed.map((entry) => [`${entry.hostname} ${entry.endpoint}`, String(entry.cves), String(entry.kev), String(entry.kevOverdue), entry.earliestDue ?? '—']));
  t.false((await page.content()).includes(agents.get('b-kaikei-01')!), "tenant B's endpoint is not shown");
  t.is(await text(page, 'tr[data-product="demo-firefox"] [data-field="exposed-endpoints"]'), '3');
  t.is(await text(page, 'tr[data-product="demo-clamav-bytecode"] [data-field="no-advisory-data"]'), '脆弱性情報なし');
  t.is(await page.locator('[data-alarm="kev-overdue"]').count(), 1, 'the overdue KEV entry is an alarm');
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: path.join(screenshots, 'exposure-overview-ja.png'), fullPage: true });

  await page.goto(`${url}/?lang=en`);
  t.regex((await text(page, '#exposure-headline .headline')) ?? '', /^3 Endpoints exposed to CISA KEV \(known exploited\) vulnerabilities/u);
  t.is(await text(page, 'tr[data-product="demo-clamav-bytecode"] [data-field="no-advisory-data"]'), 'no advisory data');

  // The product page: every CVE with the severity as the advisory states it (escaped) and its endpoint count.
  const product = JSON.parse(await answer(page, `${url}/api/v1/products/demo-firefox/exposure`)) as ProductExposure;
  await page.goto(`${url}/products/demo-firefox`);
  const cveRows = await page.$$eval('#product-cves tbody tr', (rows) => rows.map((row) => ({ cve: row.getAttribute('data-cve'), severity: row.children[1]?.textContent, endpoints: row.querySelector('[data-field="cve-endpoints"]')?.textContent })));
  t.deepEqual(cveRows, product.cves.map((cve) => ({ cve: cve.cve, severity: [...new Set(cve.statements.map((statement) => statement.severity ?? '記載なし'))].join(' / '), endpoints: String(cve.endpoints) })));
  t.is(cveRows.find((row) => row.cve === 'CVE-2024-9392')!.severity, '<b>high</b>', 'markup in a severity is shown as text');
  t.is(await page.locator('#product-cves b').count(), 0);
  t.is(await text(page, '#release-fixes tr[data-release="131.0"] [data-field="release-fixes-count"]'), '4');
  // The hostile title is an attribute value (a tooltip), never markup.
  t.is(await page.locator('#product-exposure img').count(), 0);
  t.is(await page.locator('#product-cves tr[data-cve="CVE-2024-9392"] a[href="/advisories/mozilla-advisories/mfsa2024-46"]').getAttribute('title'), hostileTitle);

  // A product no advisory source covers says so.
  await page.goto(`${url}/products/demo-clamav-bytecode`);
  t.is(await text(page, '#product-exposure [data-field="no-advisory-data"]'), '脆弱性情報なし（この製品を扱う情報源がありません）');

  // The endpoint page: "exposed to 5 CVEs, 1 of them in KEV, due …", CVE by CVE, linked to the local advisory text.
  const key = agents.get('a-somu-01')!;
  const exposure = JSON.parse(await answer(page, `${url}/api/v1/endpoints/${encodeURIComponent(key)}/exposure`)) as { cves: Array<{ cve: string }>; kev: number };
  await page.goto(`${url}/endpoints/${encodeURIComponent(key)}`);
  t.is(await page.getAttribute('[data-field="endpoint-summary"]', 'data-cves'), String(exposure.cves.length));
  t.is(await text(page, '[data-field="endpoint-summary"]'), `この端末は ${exposure.cves.length} 件の CVE の影響を受けています（うち CISA KEV ${exposure.kev} 件、期限 2024-11-05）。`);
  await page.screenshot({ path: path.join(screenshots, 'exposure-endpoint-ja.png'), fullPage: true });
  t.deepEqual(await page.$$eval('#endpoint-cves tbody tr', (rows) => rows.map((row) => row.getAttribute('data-cve'))), exposure.cves.map((cve) => cve.cve));
  await page.click('#endpoint-cves tr[data-cve="CVE-2024-9392"] a[href="/advisories/mozilla-advisories/mfsa2024-46"]');
  await page.waitForURL(`${url}/advisories/mozilla-advisories/mfsa2024-46`);
  t.is(await page.textContent('#advisory-text'), hostileText, 'the advisory text is shown as it came, as text');
  t.is(await page.locator('main script, main img').count(), 0);
  t.not(await page.title(), 'owned');
  t.not(await page.title(), '1');

  // Tenant B's endpoint is not found for tenant A, on the page and in the API.
  const other = await page.goto(`${url}/endpoints/${encodeURIComponent(agents.get('b-kaikei-01')!)}`);
  t.is(other?.status(), 404);
  t.is((await page.request.get(`${url}/api/v1/endpoints/${encodeURIComponent(agents.get('b-kaikei-01')!)}/exposure`)).status(), 404);

  // The operator sees both tenants.
  const operator = await launch(t, url);
  await signInInBrowser(operator.page, url, await createAccount(lgwan.admin));
  await operator.page.goto(`${url}/`);
  t.is(await text(operator.page, '[data-field="exposed-any"]'), '4');
  t.deepEqual([...problems, ...operator.problems], []);
});
