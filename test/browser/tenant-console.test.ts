import test from 'ava';
import { chromium } from 'playwright-core';
import { hashPassword } from '../../src/admin/passwords.ts';
import { enrollAgent } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * The console in a real headless Chromium: the sign-in form (no cookie injected), the tenant
 * admin's pages, another tenant's endpoint as 404, and sign-out. Chromium enforces what the
 * cookie says (__Host-, Secure, HttpOnly, SameSite=Strict); http://127.0.0.1 counts as a
 * secure origin for it, as for every current browser.
 */
test('in a real browser: sign in with the form, see only your tenant, get 404 for the other, sign out', async (t) => {
  const tenants = [
    { id: 'a', name: 'A市', networks: ['10.1.0.0/16'] },
    { id: 'b', name: 'B町', networks: ['10.2.0.0/16'] },
  ];
  const { url, lgwan } = await publishedRepository(t, { lgwan: { tenants } });
  const agentA = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-somu-01' });
  const agentB = await enrollAgent(lgwan.admin, url, { tenant: 'b', hostname: 'b-kaikei-01' });
  for (const agent of [agentA, agentB]) await agent.checkIn({ hostname: agent === agentA ? 'a-somu-01' : 'b-kaikei-01', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] });
  await lgwan.inventory.flush();
  await lgwan.admin.putAccount({ username: 'a-admin', source: 'local', passwordHash: await hashPassword('a admin password 1'), grants: [{ role: 'tenant-admin', tenant: 'a' }], createdAt: new Date().toISOString() });

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  const scripts: string[] = [];
  // The 401 of a wrong password and the 404s asked for on purpose are logged as failed loads; a script error would be a page error.
  page.on('pageerror', (error) => scripts.push(error.message));

  // Not signed in: the page is the sign-in form, in Japanese.
  await page.goto(`${url}/endpoints`);
  t.is(new URL(page.url()).pathname, '/sign-in');
  t.is(await page.locator('h2').first().textContent(), 'サインイン');
  t.false((await page.content()).includes('a-somu-01'));

  await page.fill('input[name="username"]', 'a-admin');
  await page.fill('input[name="password"]', 'wrong password!!');
  await page.click('button[type="submit"]');
  t.is(await page.locator('[role="alert"]').textContent(), 'ユーザー名またはパスワードが違います。');

  await page.fill('input[name="username"]', 'a-admin');
  await page.fill('input[name="password"]', 'a admin password 1');
  await page.click('button[type="submit"]');
  await page.waitForURL(`${url}/endpoints`);
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === '__Host-lgwan-session');
  t.like(session, { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' }, 'Chromium stored the session cookie as sent');
  const listing = await page.content();
  t.true(listing.includes('a-somu-01'));
  t.false(listing.includes('b-kaikei-01'));
  t.is(await page.locator('.console-bar .tenant').textContent(), 'A市');
  t.is(await page.evaluate('document.cookie'), '', 'no script can read the session cookie');

  const other = await page.goto(`${url}/endpoints/${encodeURIComponent(`agent:${agentB.agentId}@b`)}`);
  t.is(other?.status(), 404);
  t.false((await page.content()).includes('b-kaikei-01'));
  const otherApi = await page.goto(`${url}/api/v1/endpoints?tenant=b`);
  t.is(otherApi?.status(), 404);

  // The admin issues an enrollment token in the console; it is shown once.
  await page.goto(`${url}/agents`);
  await page.fill('input[name="label"]', '総務課');
  await page.click('form[action="/agents/tokens"] button');
  const token = await page.locator('#new-token').textContent();
  t.regex(token ?? '', /^[A-Za-z0-9_-]{43}$/u);
  await page.goto(`${url}/agents`);
  t.is(await page.locator('#new-token').count(), 0, 'shown once');

  await page.click('form[action="/sign-out"] button');
  await page.waitForURL(`${url}/sign-in`);
  await page.goto(`${url}/endpoints`);
  t.is(new URL(page.url()).pathname, '/sign-in', 'signed out');
  t.deepEqual(scripts, [], 'no page errors');
});
