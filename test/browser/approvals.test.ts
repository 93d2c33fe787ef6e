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
