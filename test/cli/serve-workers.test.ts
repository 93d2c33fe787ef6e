import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { signedCheckInHeaders } from '../../src/admin/agent-auth.ts';
import { hashPassword } from '../../src/admin/passwords.ts';
import { issueEnrollmentToken, signInAs } from '../helpers/console.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { freePort, startCli } from '../helpers/processes.ts';

const run = promisify(execFile);

/*
 * Issue 18, point 3: `serve` on every core. Two worker processes answer; the primary owns the
 * stores. Whatever worker a request reaches: no observation is lost (every endpoint and both
 * versions each reported are in the inventory after a clean stop), a session made through one
 * worker holds on the others, and a check-in replayed to another worker is still a replay.
 */

test('serve with two workers: every observation reaches the one inventory, sessions and the replay guard are shared', async (t) => {
  const environment = await createEnvironment({ lgwan: { trustProxy: true, workers: 2 } });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const side = await environment.openLgwan();
  await side.importOnce();
  const password = 'correct horse battery staple';
  await side.admin.putAccount({ username: 'operator', source: 'local', passwordHash: await hashPassword(password), grants: [{ role: 'operator' }], createdAt: new Date().toISOString() });
  const token = await issueEnrollmentToken(side.admin);
  await side.close();

  const port = await freePort();
  const serve = startCli(['serve', '--config', `${environment.root}/lgwan-mirror.yaml`, '--port', String(port)]);
  t.teardown(() => void serve.stop());
  await serve.waitFor(/serving http:\/\/[^/]+\//u, 30_000);
  // Children that are Node processes: tsx (when dist/ is not current) may run its esbuild service beside them.
  const { stdout } = await run('ps', ['-o', 'comm=', '--ppid', String(serve.child.pid)]);
  t.is(stdout.trim().split('\n').filter((command) => command.trim() === 'node').length, 2, `two worker processes (${stdout.trim().split('\n').join(', ')})`);
  const url = `http://127.0.0.1:${port}`;

  // 300 endpoints, each checking twice (130.0, then 131.0 once updated), in parallel.
  const endpoints = 300;
  const check = (index: number, version: string) =>
    fetch(`${url}/mozilla/update/6/Firefox/${version}/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`, { headers: { 'x-forwarded-for': `10.7.${index >> 8}.${index & 0xff}` } }).then((response) => response.status);
  const statuses = await Promise.all([...Array(endpoints).keys()].map(async (index) => [await check(index, '130.0'), await check(index, '131.0')]));
  t.deepEqual(new Set(statuses.flat()), new Set([200]));

  // A session made through one worker is known to the next request, wherever it lands.
  const operator = await signInAs(url, 'operator', password);
  for (let asked = 0; asked < 6; asked += 1) t.is((await operator.fetch('/endpoints')).status, 200);

  // One signed check-in sent twice: the second is a replay on whichever worker it reaches.
  const enrolled = (await (await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, hostname: 'pc-1' }) })).json()) as { agentId: string; secret: string };
  const body = JSON.stringify({ agentId: enrolled.agentId, os: 'windows', installed: [] });
  const headers = { 'content-type': 'application/json', ...signedCheckInHeaders(enrolled.agentId, enrolled.secret, body) };
  const answers = [];
  for (let sent = 0; sent < 4; sent += 1) answers.push((await fetch(`${url}/api/v1/agent/checkin`, { method: 'POST', headers, body })).status);
  t.deepEqual(answers, [200, 401, 401, 401]);

  t.is(await serve.stop(), 0, 'stops cleanly on SIGTERM');
  const after = await environment.openLgwan();
  const records = (await after.inventory.listEndpoints({ offset: 0, limit: 10_000 })).filter((record) => record.kind === 'address');
  t.is(records.length, endpoints, 'every endpoint, once');
  t.true(records.every((record) => record.products['demo-firefox/win64/release']?.version === '131.0' && Object.keys(record.products['demo-firefox/win64/release']!.firstSeen).sort().join() === '130.0,131.0'), 'both reports of each');
});
