import { createPrivateKey } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { chromium, type Page } from 'playwright-core';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { createAccount, signInInBrowser } from '../helpers/browser-console.ts';
import { manifestOf, readTar, resign, writeTar } from '../helpers/bundle-surgery.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { createEnvironment } from '../helpers/environment.ts';

/*
 * Issue 13, item 5: outside text must stay inert. Escaping holds; the Content-Security-Policy
 * is the second line. A script goes into every field a bundle (signed with a stolen transfer
 * key), a vendor feed (a source's error text travels in the bundle) or an endpoint can set,
 * and a real Chromium must run none of it; then a page is altered on its way to the browser
 * to carry an inline script, as if escaping had failed, and the policy must stop that too.
 */

const payload = (field: string) => `<script>window.__ran=(window.__ran||[]).concat(${JSON.stringify(field)})</script><img src=x onerror="window.__ran=(window.__ran||[]).concat(${JSON.stringify(field)})">`;

async function ran(page: Page): Promise<unknown> {
  return page.evaluate('window.__ran ?? []');
}

test('scripts put into every field a bundle, a vendor feed or an endpoint can set never run on any page, and the policy forbids inline script', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await lgwan.importOnce();

  // Bundle 2, edited and signed with the stolen transfer key: every free-text field of the manifest.
  const second = await internet.send({ force: true });
  const held = path.join(environment.root, 'held.tar');
  await rename((second as { file: string }).file, held);
  const entries = await readTar(held);
  const manifest = manifestOf(entries);
  for (const product of manifest.products) {
    product.name = payload(`name ${product.id}`);
    product.vendor = payload(`vendor ${product.id}`);
    product.sourceHealth = { ...product.sourceHealth, lastError: payload(`lastError ${product.id}`), lastErrorAt: new Date().toISOString(), consecutiveFailures: 5 };
    if (product.winget) product.winget = { ...product.winget, publisher: payload('winget publisher'), shortDescription: payload('winget description'), license: payload('winget license') };
  }
  const key = createPrivateKey(await readFile(environment.config.internet.transferKey));
  await writeTar(path.join(environment.config.lgwan.spool, bundleFileName(2)), resign(entries, manifest, key));
  // A refused bundle whose reason quotes the hostile value.
  const refused = structuredClone(manifest);
  refused.sequence = 5;
  refused.products[0]!.latestSeen = { version: payload('refusal reason'), firstSeenAt: new Date().toISOString() };
  await writeTar(path.join(environment.config.lgwan.spool, bundleFileName(5)), resign(entries, refused, key));
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published', 'refused']);

  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  // Endpoints report what they may: an agent's tokens are validated, so the check-in carries the
  // most a client can send; Firefox sends its channel and locale in the path.
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'pc-1' });
  t.is((await agent.checkIn({ os: 'windows', installed: [{ product: 'demo-firefox', version: '131.0', platform: 'win64', locale: 'ja' }] })).status, 200);
  await fetch(`${url}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/${encodeURIComponent(payload('locale'))}/${encodeURIComponent(payload('channel'))}/x/y/z/w/update.xml`).then((response) => response.text());
  await fetch(`${url}/clamav/daily.cvd`, { headers: { 'user-agent': `ClamAV/1.4.1 (OS: linux-gnu, ARCH: x86_64, CPU: x86_64, UUID: ${payload('uuid')})` } }).then((response) => response.text());
  // Anyone can try to sign in: a failed attempt's user name goes into the audit log (kept to 64 characters, hence a short payload).
  const signInPage = await fetch(`${url}/sign-in`);
  const signInCookie = /(__Host-lgwan-sign-in=[^;]+)/u.exec(signInPage.headers.get('set-cookie') ?? '')![1]!;
  const formCsrf = /name="_csrf" value="([^"]+)"/u.exec(await signInPage.text())![1]!;
  const failed = await fetch(`${url}/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: signInCookie }, body: new URLSearchParams({ _csrf: formCsrf, username: `<img src=x onerror=window.__ran=['sign-in']>`, password: 'wrong' }).toString() });
  t.is(failed.status, 401);
  await lgwan.inventory.flush();

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  // The pages are the console's: signed in as an operator through the real form (issue 14).
  await signInInBrowser(page, url, await createAccount(lgwan.admin));
  const products = lgwan.database.data.published!.products.map((product) => `/products/${encodeURIComponent(product.id)}`);
  const pages = ['/', '/?lang=en', '/catalog', '/catalog?lang=en', '/endpoints', '/endpoints?lang=en', '/agents', '/agents?lang=en', '/audit', '/audit?lang=en', ...products, ...products.map((product) => `${product}?lang=en`)];
  for (const pathname of pages) {
    const response = await page.goto(`${url}${pathname}`);
    t.regex(response?.headers()['content-security-policy'] ?? '', /script-src 'none'/u, `${pathname}: the policy forbids script`);
    t.deepEqual(await ran(page), [], `${pathname}: no outside text ran`);
  }
  const operator = await signIn(lgwan.admin, url);
  t.true((await operator.text('/?lang=en')).includes('&lt;script&gt;'), 'the hostile text is on the page, escaped');
  t.true((await operator.text('/audit?lang=en')).includes('&lt;img src=x'), 'the failed sign-in\'s user name is in the audit log, escaped');

  // The second line: as if escaping had failed, an inline script and handler reach the browser.
  await page.route(`${url}/`, async (route) => {
    const original = await route.fetch();
    const body = (await original.text()).replace('<main>', `<main>${payload('unescaped')}`);
    await route.fulfill({ response: original, body });
  });
  await page.goto(`${url}/`);
  t.is(await page.locator('main img[src="x"]').count(), 1, 'the injected markup is in the page');
  t.deepEqual(await ran(page), [], 'the Content-Security-Policy stopped it');
});
