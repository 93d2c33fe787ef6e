import test, { type ExecutionContext } from 'ava';
import { PostgresAdminStore } from '../../src/admin/postgres-admin-store.ts';
import { clockedRepository } from '../helpers/clocked-repository.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { postgresPerFile } from '../helpers/postgres.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Issue 15, first slice: two rings in tenant A — pilot (10.1.5.0/24, or agents tagged
 * "pilot") and general (everyone else) — with demo-firefox automatic for pilot and under
 * approval for general. What each ring is offered by Firefox's update.xml and by the agent
 * check-in follows the admin's decisions made on the console, on both stores.
 */

const server = postgresPerFile(test.after);
let databases = 0;
const tenants = [
  {
    id: 'a',
    name: 'A市',
    networks: ['10.1.0.0/16'],
    rings: [{ id: 'pilot', networks: ['10.1.5.0/24'], agentTags: ['pilot'] }, { id: 'general' }],
    policies: { 'demo-firefox': { pilot: 'automatic', general: 'approval' } },
  },
  { id: 'b', name: 'B町', networks: ['10.2.0.0/16'] },
];

/** A Monday in late November of next year (a deadline in December is then always ahead, and within the two years the form allows). */
const year = new Date().getUTCFullYear() + 1;
const monday = Array.from({ length: 7 }, (_, index) => 22 + index).find((day) => new Date(Date.UTC(year, 10, day)).getUTCDay() === 1)!;

const pilotAddress = '10.1.5.20';
const generalAddress = '10.1.9.30';
const updateCheck = (version: string) => `/mozilla/update/6/Firefox/${version}/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`;

async function rings(t: ExecutionContext, store: 'lowdb' | 'postgresql') {
  let inventory: Record<string, unknown> = {};
  if (store === 'postgresql') inventory = { store: 'postgresql', url: await (await server()).createDatabase(`rings_${process.pid}_${(databases += 1)}`), flushSeconds: 0.2 };
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, tenants, inventory } });
  /** The version update.xml offers to a Firefox 130.0 at `address`, or undefined for an empty <updates>. */
  const offeredTo = async (address: string) => {
    const response = await fetch(`${url}${updateCheck('130.0')}`, { headers: { 'x-forwarded-for': address } });
    t.is(response.status, 200);
    return /displayVersion="([^"]+)"/u.exec(await response.text())?.[1];
  };
  const adminA = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'a' });
  return { url, lgwan, offeredTo, adminA };
}

for (const store of ['lowdb', 'postgresql'] as const) {
  test(`${store}: pilot is offered 131.0 at once, general only after an admin approves it on the console`, async (t) => {
    const { offeredTo, adminA, lgwan } = await rings(t, store);
    t.is(await offeredTo(pilotAddress), '131.0', 'pilot: automatic');
    t.is(await offeredTo(generalAddress), undefined, 'general: 131.0 is not approved yet, 130.0 is what it runs');

    const page = await adminA.text('/approvals');
    t.regex(page, /<tr data-version="131\.0">/u);
    t.true(page.includes('このリングに承認'), 'Japanese first');
    t.true((await adminA.text('/approvals?lang=en')).includes('Approve for ring'));

    const approved = await adminA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general' });
    t.is(approved.status, 303);
    t.is(await offeredTo(generalAddress), '131.0', 'the next request after the approval, without a restart');
    t.is(await offeredTo(pilotAddress), '131.0');

    const decisions = await lgwan.admin.listDecisions('a');
    t.like(decisions[0], { kind: 'approve', product: 'demo-firefox', version: '131.0', ring: 'general', tenant: 'a' });
    const csv = await adminA.text('/audit.csv');
    t.regex(csv, /release-approve,success,demo-firefox 131\.0,ring general/u);
  });

  test(`${store}: an approval and a decline can be withdrawn on the console; each takes effect at the next request and is audited`, async (t) => {
    const { offeredTo, adminA } = await rings(t, store);
    t.is((await adminA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
    t.is(await offeredTo(generalAddress), '131.0');
    t.true((await adminA.text('/approvals')).includes('承認を取り消す (general)'));
    t.is((await adminA.post('/approvals/withdraw-approval', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
    t.is(await offeredTo(generalAddress), undefined, 'the approval is gone');
    t.is((await adminA.post('/approvals/withdraw-approval', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 404, 'nothing left to withdraw');

    t.is((await adminA.post('/approvals/decline', { product: 'demo-firefox', version: '131.0' })).status, 303);
    t.is(await offeredTo(pilotAddress), undefined);
    t.is((await adminA.post('/approvals/withdraw-decline', { product: 'demo-firefox', version: '131.0' })).status, 303);
    t.is(await offeredTo(pilotAddress), '131.0', 'pilot (automatic) is offered it again');
    const csv = await adminA.text('/audit.csv');
    t.regex(csv, /release-withdraw,success,demo-firefox 131\.0,approval for ring general withdrawn/u);
    t.regex(csv, /release-withdraw,success,demo-firefox 131\.0,decline withdrawn/u);
  });

  test(`${store}: a declined release is offered to no ring, even one that approved it`, async (t) => {
    const { offeredTo, adminA } = await rings(t, store);
    t.is((await adminA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
    t.is((await adminA.post('/approvals/decline', { product: 'demo-firefox', version: '131.0' })).status, 303);
    t.is(await offeredTo(pilotAddress), undefined, 'declined: not even the automatic ring');
    t.is(await offeredTo(generalAddress), undefined, 'declined wins over an approval');
    t.regex(await adminA.text('/audit.csv'), /release-decline,success,demo-firefox 131\.0/u);
    t.true((await adminA.text('/approvals')).includes('配信拒否'));
  });

  test(`${store}: a viewer cannot decide (403), another tenant's admin gets 404, a forged form 403`, async (t) => {
    const { url, lgwan, offeredTo, adminA } = await rings(t, store);
    const viewerA = await signIn(lgwan.admin, url, { role: 'tenant-viewer', tenant: 'a' });
    const adminB = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'b' });
    const fields = { product: 'demo-firefox', version: '131.0', ring: 'general' };
    t.is((await viewerA.post('/approvals/approve', fields)).status, 403);
    t.false((await viewerA.text('/approvals')).includes('action="/approvals/approve'), 'a viewer sees no forms');
    t.is((await adminB.post('/approvals/approve?tenant=a', fields)).status, 404);
    t.is((await adminB.fetch('/approvals?tenant=a')).status, 404);
    const forged = await adminA.fetch('/approvals/approve', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, _csrf: 'wrong' }).toString() });
    t.is(forged.status, 403);
    t.is((await adminA.post('/approvals/approve', { ...fields, ring: 'nonexistent' })).status, 400);
    t.is((await adminA.post('/approvals/approve', { ...fields, version: '99.0' })).status, 404);
    t.is((await adminA.post('/approvals/decline', { product: 'demo-clamav-bytecode', version: '268' })).status, 400, 'antivirus signatures are always automatic');
    t.is((await adminA.post('/approvals/approve', { ...fields, product: 'no-such-product' })).status, 404);
    t.is(await offeredTo(generalAddress), undefined, 'none of these approved anything');
    t.deepEqual(await lgwan.admin.listDecisions('a'), []);
    t.deepEqual(await lgwan.admin.listDecisions('b'), [], 'B\'s admin decided nothing for its own tenant either');
  });

  test(`${store}: an approver decides what the rings are offered and nothing else`, async (t) => {
    const { url, lgwan, offeredTo } = await rings(t, store);
    const approverA = await signIn(lgwan.admin, url, { role: 'tenant-approver', tenant: 'a' });
    t.true((await approverA.text('/approvals')).includes('action="/approvals/approve'), 'the approver sees the forms');
    t.is((await approverA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
    t.is(await offeredTo(generalAddress), '131.0');
    t.like((await lgwan.admin.listAudit({ tenant: 'a', offset: 0, limit: 10 })).entries.find((entry) => entry.action === 'release-approve'), { actor: approverA.username });
    t.is((await approverA.post('/agents/tokens', { label: 'floor 3' })).status, 403, 'no enrollment tokens');
    t.deepEqual(await lgwan.admin.listEnrollmentTokens('a'), []);
  });

  test(`${store}: an agent tagged pilot and one without tags get different actions; the page counts them per ring; a hold keeps a ring at its version`, async (t) => {
    const { url, lgwan, adminA } = await rings(t, store);
    const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
    const pilot = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-pilot-1' });
    const general = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-general-1' });
    const actions = async (response: Response) => {
      t.is(response.status, 200);
      return ((await response.json()) as { actions: { product: string; version: string }[] }).actions.map((action) => `${action.product} ${action.version}`);
    };
    t.deepEqual(await actions(await pilot.checkIn({ installed, tags: ['pilot'] })), ['demo-firefox 131.0']);
    t.deepEqual(await actions(await general.checkIn({ installed, tags: ['finance'] })), [], 'general: not approved yet');
    t.is((await pilot.checkIn({ installed, tags: ['bad tag!'] })).status, 400, 'tags are bounded tokens');

    // The pilot installed it and says so; the page counts who runs the release, per ring.
    t.deepEqual(await actions(await pilot.checkIn({ installed: [{ ...installed[0]!, version: '131.0' }], tags: ['pilot'] })), []);
    await lgwan.inventory.flush();
    const page = await adminA.text('/approvals');
    const row = /<tr data-version="131\.0">(.*?)<\/tr>/su.exec(page)?.[1] ?? '';
    t.regex(row, /pilot: 1<br>general: 0/u, 'one pilot endpoint runs 131.0, no general one');
    t.regex(row, /pilot: 配信中<br>general: 未承認/u);

    t.is((await adminA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
    t.deepEqual(await actions(await general.checkIn({ installed })), ['demo-firefox 131.0']);
    t.is((await adminA.post('/approvals/hold', { product: 'demo-firefox', version: '130.0', ring: 'pilot' })).status, 303);
    t.deepEqual(await actions(await pilot.checkIn({ installed, tags: ['pilot'] })), [], 'pilot held at 130.0');
    t.regex(await adminA.text('/audit.csv'), /product-hold,success,demo-firefox 130\.0,ring pilot/u);
    t.is((await adminA.post('/approvals/release-hold', { product: 'demo-firefox', ring: 'pilot' })).status, 303);
    t.deepEqual(await actions(await pilot.checkIn({ installed, tags: ['pilot'] })), ['demo-firefox 131.0']);
  });

  test(`${store}: an approval can carry a deadline and maintenance windows (Asia/Tokyo); they are stored, audited and shown; malformed ones are refused`, async (t) => {
    const { url, lgwan, adminA } = await rings(t, store);
    const fields = { product: 'demo-firefox', version: '131.0', ring: 'general' };
    for (const [extra, message] of [
      [{ deadline: 'next week' }, /field "deadline": a date and time/u],
      [{ deadline: '2020-01-01T12:00' }, /field "deadline": 2020-01-01 12:00 \(Asia\/Tokyo\) has already passed/u],
      [{ windows: 'weekdays 12:00-13:00' }, /field "windows": "weekdays" is not a day/u],
    ] as const) {
      const refused = await adminA.fetch('/approvals/approve', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ _csrf: adminA.csrf, ...fields, ...extra }).toString() });
      t.is(refused.status, 400);
      t.regex(((await refused.json()) as { error: string }).error, message);
    }
    t.deepEqual(await lgwan.admin.listDecisions('a'), [], 'nothing was approved by a refused form');

    t.is((await adminA.post('/approvals/approve', { ...fields, deadline: `${year}-12-01T18:00`, windows: 'mon-fri 12:00-13:00; sat 09:00-17:00' })).status, 303);
    const [decision] = await lgwan.admin.listDecisions('a');
    t.deepEqual(decision?.schedule, { deadline: `${year}-12-01T09:00:00.000Z`, windows: [{ days: [1, 2, 3, 4, 5], start: 720, end: 780 }, { days: [6], start: 540, end: 1020 }], timeZone: 'Asia/Tokyo' });
    t.true((await adminA.text('/audit.csv')).includes(`release-approve,success,demo-firefox 131.0,"ring general; deadline ${year}-12-01 18:00 (Asia/Tokyo); windows mon,tue,wed,thu,fri 12:00-13:00; sat 09:00-17:00 (Asia/Tokyo)"`));
    const row = /<tr data-version="131\.0">(.*?)<\/tr>/su.exec(await adminA.text('/approvals'))?.[1] ?? '';
    t.true(row.includes(`general: 配信中 <small>承認済み（期限 ${year}-12-01 18:00 (Asia/Tokyo), 時間帯 mon,tue,wed,thu,fri 12:00-13:00; sat 09:00-17:00（Asia/Tokyo））</small>`), row);
    t.regex(row, /<input type="datetime-local" name="deadline"/u);

    // Approving again with only a window replaces the schedule, and keeps when it was first approved.
    t.is((await adminA.post('/approvals/approve', { ...fields, windows: 'sun 00:00-24:00' })).status, 303);
    const [again] = await lgwan.admin.listDecisions('a');
    t.is(again?.at, decision?.at);
    t.deepEqual(again?.schedule, { windows: [{ days: [0], start: 0, end: 1440 }], timeZone: 'Asia/Tokyo' });

    // What agents report about their installs is kept per agent and product, in this store.
    const agent = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-pc-1' });
    const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
    const report = (exitCode: number) => ({ product: 'demo-firefox', version: '131.0', outcome: exitCode === 0 ? 'installed' : 'failed', exitCode, message: `exit ${exitCode}` });
    t.is((await agent.checkIn({ installed, results: [report(1603)] })).status, 200);
    t.is((await agent.checkIn({ installed, results: [report(0)] })).status, 200);
    t.like(await lgwan.admin.listInstallResults('a'), [{ agentId: agent.agentId, hostname: 'a-pc-1', outcome: 'installed', exitCode: 0, message: 'exit 0', ring: 'general' }]);
    t.deepEqual(await lgwan.admin.listInstallResults('b'), []);

    // Past a deadline (put in the store: the form refuses a past one), the page lists the agent
    // that still runs 130.0 with its last result; what the agent said is escaped.
    const stale = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-pc-2' });
    t.is((await stale.checkIn({ installed, results: [{ ...report(1603), message: '<img src=x onerror=alert(1)> disk full' }] })).status, 200);
    await lgwan.admin.putDecision({ ...again!, schedule: { windows: [], deadline: '2026-01-05T00:00:00.000Z', timeZone: 'Asia/Tokyo' } });
    await lgwan.inventory.flush();
    // Written past the console, so the app sees it once its decision cache (2 s) has expired.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const past = /<section id="past-deadline">(.*?)<\/section>/su.exec(await adminA.text('/approvals?lang=en'))?.[1] ?? '';
    t.true(past.includes(`<tr data-endpoint="${stale.agentId}">`), past);
    t.true(past.includes('failed 131.0 (exit code 1603): &lt;img src=x onerror=alert(1)&gt; disk full'), past);
    t.false(past.includes('<img'));
  });

  test(`${store}: the check-in bounds and validates the AD placement and install results an agent reports`, async (t) => {
    const { url, lgwan } = await rings(t, store);
    const agent = await enrollAgent(lgwan.admin, url, { tenant: 'a' });
    const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
    const refusedField = async (body: Record<string, unknown>) => {
      const response = await agent.checkIn({ installed, ...body });
      t.is(response.status, 400, JSON.stringify(body).slice(0, 80));
      return ((await response.json()) as { error: string }).error;
    };
    t.regex(await refusedField({ directory: { ou: 'Pilot' } }), /^field "directory\.ou": an OU distinguished name/u);
    t.regex(await refusedField({ directory: { ou: `OU=${'x'.repeat(1100)},DC=city` } }), /^field "directory\.ou"/u);
    t.regex(await refusedField({ directory: { ou: 'OU=a\u0007b,DC=city' } }), /^field "directory\.ou"/u);
    t.regex(await refusedField({ directory: { groups: Array.from({ length: 101 }, (_, index) => `g${index}`) } }), /^field "directory\.groups"/u);
    t.regex(await refusedField({ directory: { groups: ['x'.repeat(257)] } }), /^field "directory\.groups\.0"/u);
    t.regex(await refusedField({ results: [{ product: 'demo-firefox', version: '131.0', outcome: 'maybe', exitCode: 0 }] }), /^field "results\.0\.outcome"/u);
    t.regex(await refusedField({ results: [{ product: 'demo-firefox', version: '131.0', outcome: 'failed', exitCode: 1, message: 'x'.repeat(301) }] }), /^field "results\.0\.message"/u);
    t.regex(await refusedField({ results: [{ product: 'demo-firefox', version: '131.0', outcome: 'failed', exitCode: 1, message: 'line\nbreak' }] }), /^field "results\.0\.message": no control characters/u);
    t.regex(await refusedField({ results: Array.from({ length: 51 }, () => ({ product: 'demo-firefox', version: '131.0', outcome: 'failed', exitCode: 1 })) }), /^field "results"/u);
    t.deepEqual(await lgwan.admin.listInstallResults('a'), [], 'nothing of a refused check-in is kept');
    // A result for a product the repository does not know is not kept either.
    t.is((await agent.checkIn({ installed, results: [{ product: 'no-such-product', version: '1.0', outcome: 'failed', exitCode: 1 }] })).status, 200);
    t.deepEqual(await lgwan.admin.listInstallResults('a'), []);
  });
}

/*
 * Point 6: two repository replicas share one PostgreSQL. An approval with a window, made on the
 * console of one, is obeyed by the other's check-in answers once its decision cache (here
 * 500 ms; 2 s by default) has expired, without a restart; so is its withdrawal.
 */
test('postgresql: two replicas share decisions; one obeys an approval with a window made through the other within its cache time', async (t) => {
  const { url, lgwan, adminA } = await rings(t, 'postgresql');
  const cacheMs = 500;
  const replicaStore = await PostgresAdminStore.open((lgwan.config.inventory as { url: string }).url);
  t.teardown(() => replicaStore.close());
  // The replica's clock: a Monday, 09:00 JST, before the approved window opens.
  const replica = await clockedRepository(t, lgwan, { at: Date.UTC(year, 10, monday, 0), store: replicaStore, decisionCacheMs: cacheMs, trustProxy: true });
  const agent = await enrollAgent(lgwan.admin, replica.url, { tenant: 'a', hostname: 'a-general-7' });
  const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
  const answer = async () => (await (await agent.checkIn({ installed })).json()) as { actions: { version: string; install: { reason: string } }[]; waiting: { version: string; notBefore: string }[] };
  t.deepEqual(await answer(), { actions: [], waiting: [], unknownProducts: [], resultsRecorded: 0, checkInIntervalSeconds: 3600 } as never, 'general: not approved yet');

  const approved = await adminA.post('/approvals/approve', { product: 'demo-firefox', version: '131.0', ring: 'general', windows: 'mon 10:00-11:00', deadline: `${year}-12-01T12:00` });
  t.is(approved.status, 303, await approved.text());
  t.true(url !== replica.url);
  await new Promise((resolve) => setTimeout(resolve, cacheMs + 300));
  t.deepEqual((await answer()).waiting, [{ product: 'demo-firefox', installedVersion: '130.0', version: '131.0', reason: 'outside-window', notBefore: new Date(Date.UTC(year, 10, monday, 1)).toISOString(), deadline: `${year}-12-01T03:00:00.000Z` }] as never);
  replica.setClock(Date.UTC(year, 10, monday, 1, 30));
  t.like((await answer()).actions, [{ version: '131.0', install: { reason: 'in-window' } }]);

  t.is((await adminA.post('/approvals/withdraw-approval', { product: 'demo-firefox', version: '131.0', ring: 'general' })).status, 303);
  await new Promise((resolve) => setTimeout(resolve, cacheMs + 300));
  t.like(await answer(), { actions: [], waiting: [] }, 'the withdrawal too');
});

test('without rings nothing changes: one ring "all", automatic', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const response = await fetch(`${url}${updateCheck('130.0')}`, { headers: { 'x-forwarded-for': '10.7.7.7' } });
  t.regex(await response.text(), /displayVersion="131\.0"/u);
  const operator = await signIn(lgwan.admin, url);
  const page = await operator.text('/approvals');
  t.regex(page, /all: 自動/u);
});
