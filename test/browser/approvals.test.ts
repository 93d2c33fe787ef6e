import test from 'ava';
import { chromium } from 'playwright-core';
import { hashPassword } from '../../src/admin/passwords.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Issue 15, point 7, in a real headless Chromium: an admin approves a release for the pilot
 * ring on the approvals page; a pilot endpoint is then offered it and a general one is not;
 * after the approval for general, it is. The endpoints are Firefox update checks (the request
 * shape of AppUpdateURL) from each ring's addresses.
 */
test('in a real browser: approve for pilot, pilot is offered the release and general is not; approve for general, general is too', async (t) => {
  const tenants = [
    {
      id: 'a',
      name: 'A市',
      networks: ['10.1.0.0/16'],
      rings: [{ id: 'pilot', networks: ['10.1.5.0/24'] }, { id: 'general' }],
      policies: { 'demo-firefox': { pilot: 'approval', general: 'approval' } },
    },
  ];
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, tenants } });
  const offeredTo = async (address: string) => {
    const response = await fetch(`${url}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`, { headers: { 'x-forwarded-for': address } });
    return /displayVersion="([^"]+)"/u.exec(await response.text())?.[1];
  };
  await lgwan.admin.putAccount({ username: 'a-admin', source: 'local', passwordHash: await hashPassword('a admin password 1'), grants: [{ role: 'tenant-admin', tenant: 'a' }], createdAt: new Date().toISOString() });
  t.is(await offeredTo('10.1.5.7'), undefined, 'pilot: nothing before an approval');
  t.is(await offeredTo('10.1.9.7'), undefined, 'general: nothing before an approval');

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${url}/approvals`);
  await page.fill('input[name="username"]', 'a-admin');
  await page.fill('input[name="password"]', 'a admin password 1');
  await page.click('button[type="submit"]');
  await page.waitForURL(`${url}/approvals`);

  const approve = async (ring: string) => {
    const form = page.locator('tr[data-version="131.0"] form[action^="/approvals/approve"]');
    await form.locator('select[name="ring"]').selectOption(ring);
    await Promise.all([page.waitForURL(/\/approvals/u), form.locator('button[type="submit"]').click()]);
  };
  await approve('pilot');
  t.is(await offeredTo('10.1.5.7'), '131.0', 'pilot is offered the approved release');
  t.is(await offeredTo('10.1.9.7'), undefined, 'general is not');
  await approve('general');
  t.is(await offeredTo('10.1.9.7'), '131.0', 'after the approval for general, general is offered it too');
  t.regex(await page.locator('tr[data-version="131.0"]').innerText(), /pilot/u);
  t.deepEqual(errors, []);
  // The CSV is a download for the browser; the same session reads it through the page's own request context.
  const audit = await (await page.request.get(`${url}/audit.csv`)).text();
  t.is(audit.match(/release-approve,success,demo-firefox 131\.0/gu)?.length, 2, 'both approvals are in the audit log');
});

/*
 * Issue 15, points 4 and 7: in Chromium, an approver approves a release for the general ring
 * with a deadline and a maintenance window (Asia/Tokyo). A general endpoint's agent is told to
 * wait for the window; it never installs. Once the repository's clock is past the deadline, the
 * page lists that endpoint as past its deadline.
 */
test('in a real browser: approve with a deadline and a window; the agent waits for the window; past the deadline the page shows the endpoint', async (t) => {
  const { clockedRepository } = await import('../helpers/clocked-repository.ts');
  const { enrollAgent } = await import('../helpers/console.ts');
  const tenants = [{ id: 'a', name: 'A市', networks: ['10.1.0.0/16'], rings: [{ id: 'pilot', networks: ['10.1.5.0/24'] }, { id: 'general' }], policies: { 'demo-firefox': { general: 'approval' } } }];
  const { lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, tenants } });
  // Monday 2026-12-07, 09:00 JST.
  const repository = await clockedRepository(t, lgwan, { at: Date.UTC(2026, 11, 7, 0), trustProxy: true });
  const url = repository.url;
  await lgwan.admin.putAccount({ username: 'a-approver', source: 'local', passwordHash: await hashPassword('a approver password 1'), grants: [{ role: 'tenant-admin', tenant: 'a' }], createdAt: new Date().toISOString() });
  const agent = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-soumu-042' });
  const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
  const checkIn = async () => (await (await agent.checkIn({ installed }, { 'x-forwarded-for': '10.1.9.42' })).json()) as { actions: unknown[]; waiting: { notBefore: string; deadline: string }[] };
  t.like(await checkIn(), { actions: [], waiting: [] }, 'general: not approved yet');

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const signInThere = async () => {
    await page.fill('input[name="username"]', 'a-approver');
    await page.fill('input[name="password"]', 'a approver password 1');
    await Promise.all([page.waitForURL(`${url}/approvals`), page.click('button[type="submit"]')]);
  };
  await page.goto(`${url}/approvals`);
  await signInThere();

  const form = page.locator('tr[data-version="131.0"] form[action^="/approvals/approve"]');
  await form.locator('select[name="ring"]').selectOption('general');
  await form.locator('input[name="deadline"]').fill('2026-12-08T18:00');
  await form.locator('input[name="windows"]').fill('mon-fri 12:00-13:00');
  t.regex(await form.innerText(), /Asia\/Tokyo/u, 'the form says which zone its times are in');
  await Promise.all([page.waitForURL(/\/approvals/u), form.locator('button[type="submit"]').click()]);
  t.regex(await page.locator('tr[data-version="131.0"]').innerText(), /承認済み（期限 2026-12-08 18:00 \(Asia\/Tokyo\), 時間帯 mon,tue,wed,thu,fri 12:00-13:00（Asia\/Tokyo）/u);
  t.regex(await page.locator('#past-deadline').innerText(), /期限を過ぎた端末はありません/u);

  // Monday 09:00: the window opens at noon JST; the agent is told to wait until then.
  t.like((await checkIn()).waiting, [{ notBefore: '2026-12-07T03:00:00.000Z', deadline: '2026-12-08T09:00:00.000Z' }]);

  // Wednesday 09:00 JST: past Tuesday's 18:00 deadline, and the endpoint still runs 130.0.
  repository.setClock(Date.UTC(2026, 11, 9, 0));
  await lgwan.inventory.flush();
  await page.goto(`${url}/approvals`);
  // Two days later the session has long expired (12 hours at most): the approver signs in again.
  t.regex(page.url(), /\/sign-in/u);
  await signInThere();
  const past = page.locator('#past-deadline');
  t.regex(await past.innerText(), /a-soumu-042/u);
  t.regex(await past.locator(`tr[data-endpoint="${agent.agentId}"]`).innerText(), /general\s+demo-firefox\s+130\.0\s+131\.0/u);
  t.deepEqual(errors, []);
});
