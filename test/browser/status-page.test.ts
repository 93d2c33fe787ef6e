import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import type { LgwanSide } from '../../src/sides/lgwan.ts';
import { createAccount, signInInBrowser } from '../helpers/browser-console.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { projectRoot } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

const screenshots = path.join(projectRoot, 'test-results');

/** Simulated endpoints: Firefox update checks from several PCs (behind the edge cache, by X-Forwarded-For) and enrolled agents. */
async function simulateEndpoints(url: string, lgwan: LgwanSide) {
  const firefox = [
    ['10.0.0.1', '131.0'],
    ['10.0.0.2', '131.0'],
    ['10.0.0.3', '130.0'],
    ['10.0.0.4', '129.0'],
    ['10.0.0.5', '131.0'],
  ];
  for (const [address, version] of firefox) {
    const response = await fetch(`${url}/mozilla/update/6/Firefox/${version}/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`, { headers: { 'x-forwarded-for': address! } });
    await response.text();
  }
  for (const [hostname, version] of [['pc-101', '131.0'], ['pc-102', '130.0']] as const) {
    const agent = await enrollAgent(lgwan.admin, url, { hostname });
    const response = await agent.checkIn({ os: 'linux', installed: [{ product: 'demo-firefox', version, platform: 'linux-x86_64', locale: 'ja' }] });
    if (response.status !== 200) throw new Error(`check-in of ${hostname} answered ${response.status}: ${await response.text()}`);
  }
}

test('the status page in a real headless Chromium shows the same coverage figures as the API, in Japanese and English, with no request leaving the repository', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  await simulateEndpoints(url, lgwan);

  const api = (await (await (await signIn(lgwan.admin, url)).fetch('/api/v1/coverage')).json()) as { endpoints: { total: number }; products: { productId: string; endpoints: number; current: number; share: number | null; behindCount: number }[] };
  const firefox = api.products.find((product) => product.productId === 'demo-firefox')!;
  t.like(firefox, { endpoints: 7, current: 4, behindCount: 3 }, 'five PCs by address and two agents; four run 131.0, the newest published');

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const problems: string[] = [];
  const origin = new URL(url).origin;
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`request to another host: ${request.url()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });

  const tableFigures = () =>
    page.$$eval('#coverage-table tbody tr', (rows) =>
      rows.map((row) => ({
        product: row.getAttribute('data-product'),
        endpoints: row.querySelector('[data-field="endpoints"]')?.textContent?.trim(),
        share: row.querySelector('[data-field="share"] .share')?.textContent?.trim(),
        behind: row.querySelector('[data-field="behind"]')?.textContent?.trim(),
      })),
    );
  const expected = api.products.map((product) => ({
    product: product.productId,
    endpoints: String(product.endpoints),
    share: product.share === null ? '—' : `${Math.round(product.share * 100)} %`,
    behind: String(product.behindCount),
  }));

  // Signed in as an operator through the real form: the console needs a session (issue 14).
  await signInInBrowser(page, url, await createAccount(lgwan.admin));
  t.is(new URL(page.url()).pathname, '/');
  t.is(await page.getAttribute('html', 'lang'), 'ja');
  t.is(await page.textContent('h1'), 'LGWAN パッチミラー 状況');
  t.deepEqual(await tableFigures(), expected);
  t.is(await page.textContent('[data-field="endpoints-total"]'), String(api.endpoints.total));
  t.true(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), 'fits a 1366×768 office screen without scrolling sideways');
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: path.join(screenshots, 'status-ja.png'), fullPage: true });

  await page.click('#language');
  await page.waitForURL(/lang=en/u);
  t.is(await page.getAttribute('html', 'lang'), 'en');
  t.is(await page.textContent('h1'), 'LGWAN patch mirror status');
  t.deepEqual(await tableFigures(), expected);
  await page.screenshot({ path: path.join(screenshots, 'status-en.png'), fullPage: true });

  // The product page draws its charts inline and agrees with the API as well.
  await page.click('a[href^="/products/demo-firefox"]');
  t.is(await page.textContent('dd[data-field="endpoints"]').then((text) => text?.split(' ')[0]), String(firefox.endpoints));
  t.deepEqual(await page.$$eval('svg.chart', (charts) => charts.map((chart) => chart.getAttribute('aria-label'))), ['Endpoints by version', 'Patch latency']);
  t.is(await page.locator('svg.chart >> nth=0 >> rect').count(), 3, 'one bar per version in use: 131.0, 130.0, 129.0');
  await page.screenshot({ path: path.join(screenshots, 'product-en.png'), fullPage: true });
  await page.goto(`${url}/endpoints`);
  t.is(await page.locator('main table tbody tr').count(), 7);
  await page.goto(`${url}/catalog?lang=en`);
  t.is(await page.locator('main table tbody tr').count(), 3);

  t.deepEqual(problems, []);
});
