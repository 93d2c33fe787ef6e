import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import pg from 'pg';
import { JsonAdminStore } from '../../src/admin/json-admin-store.ts';
import { PostgresAdminStore } from '../../src/admin/postgres-admin-store.ts';
import type { AdminStore } from '../../src/admin/admin-store.ts';
import { signIn, signInAs } from '../helpers/console.ts';
import { projectRoot } from '../helpers/environment.ts';
import { postgresPerFile } from '../helpers/postgres.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { groupBase, groupDn, peopleBase, serviceDn, startSlapd, userDn, writePasswordFile, type TestSlapd } from '../helpers/slapd.ts';

const run = promisify(execFile);
let slapd: TestSlapd;
let folder: string;
const server = postgresPerFile(test.after);

test.before(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-sign-in-'));
  slapd = await startSlapd([{ uid: 'tanaka', password: 'tanaka-correct-horse', displayName: '田中 太郎' }, { uid: 'sato', password: 'sato-in-no-mapped-group' }], { 'city-a-admins': [userDn('tanaka')], unmapped: [userDn('sato')] });
});
test.after.always(async () => {
  await slapd?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

/** The sign-in form as a browser posts it: the CSRF cookie from GET /sign-in and its hidden field. */
async function postSignIn(url: string, fields: Record<string, string>, options: { csrf?: 'missing' | 'wrong'; address?: string } = {}) {
  const page = await fetch(`${url}/sign-in`);
  const cookie = /(__Host-lgwan-sign-in=[^;]+)/u.exec(page.headers.get('set-cookie') ?? '')![1]!;
  const csrf = /name="_csrf" value="([^"]+)"/u.exec(await page.text())![1]!;
  const form = new URLSearchParams({ ...(options.csrf === 'missing' ? {} : { _csrf: options.csrf === 'wrong' ? `${csrf}x` : csrf }), ...fields });
  return fetch(`${url}/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...(options.address ? { 'x-forwarded-for': options.address } : {}) }, body: form.toString() });
}

test('local accounts made by the CLI sign in; the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict; wrong passwords, CSRF and open redirects are refused; sign-out ends the session', async (t) => {
  const { url, lgwan, environment } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const cli = path.join(projectRoot, 'bin', 'lgwan-mirror.js');
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const created = await run('sh', ['-c', `printf '%s\\n' 'correct horse battery' | node ${JSON.stringify(cli)} accounts add --username yamada --role tenant-admin -c ${JSON.stringify(configFile)}`]);
  t.regex(created.stdout, /account yamada created: tenant-admin of default/u);
  const short = await run('sh', ['-c', `printf 'short\\n' | node ${JSON.stringify(cli)} accounts add --username kato --role tenant-viewer -c ${JSON.stringify(configFile)}`]).catch((error: { code: number; stderr: string }) => error);
  t.regex((short as { stderr: string }).stderr, /password: a password needs at least 12 characters/u);

  const wrong = await postSignIn(url, { username: 'yamada', password: 'correct horse battery!' });
  t.is(wrong.status, 401);
  const wrongPage = await wrong.text();
  t.regex(wrongPage, /ユーザー名またはパスワードが違います/u);
  t.false(wrong.headers.getSetCookie().some((cookie) => cookie.startsWith('__Host-lgwan-session=')), 'no session for a wrong password');
  t.is((await postSignIn(url, { username: 'nobody', password: 'correct horse battery' })).status, 401, 'an unknown name answers the same');
  t.is((await postSignIn(url, { username: 'yamada', password: 'correct horse battery' }, { csrf: 'missing' })).status, 403);
  t.is((await postSignIn(url, { username: 'yamada', password: 'correct horse battery' }, { csrf: 'wrong' })).status, 403);

  const ok = await postSignIn(url, { username: 'yamada', password: 'correct horse battery', next: '//elsewhere.example/' });
  t.is(ok.status, 303);
  t.is(ok.headers.get('location'), '/', 'next=//… would leave the site: the overview instead');
  const cookie = ok.headers.getSetCookie().find((value) => value.startsWith('__Host-lgwan-session='))!;
  t.regex(cookie, /^__Host-lgwan-session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict$/u);
  const session = cookie.split(';')[0]!;
  const overview = await fetch(`${url}/`, { headers: { cookie: session } });
  t.is(overview.status, 200);
  const html = await overview.text();
  t.regex(html, /yamada \(団体管理者\)/u);
  t.is(overview.headers.get('cache-control'), 'no-store');

  // A state change without the session's CSRF token, or from another site, is refused.
  const csrf = /action="\/sign-out"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"/u.exec(html)![1]!;
  const signOut = (fields: Record<string, string>, headers: Record<string, string> = {}) => fetch(`${url}/sign-out`, { method: 'POST', redirect: 'manual', headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  t.is((await signOut({})).status, 403);
  t.is((await signOut({ _csrf: csrf }, { 'sec-fetch-site': 'cross-site' })).status, 403);
  t.is((await fetch(`${url}/api/v1/status`, { headers: { cookie: session } })).status, 200, 'still signed in');
  t.is((await signOut({ _csrf: csrf })).status, 303);
  t.is((await fetch(`${url}/api/v1/status`, { headers: { cookie: session } })).status, 401, 'the session ended');

  // A role change by the CLI applies at the next request, without a restart; a disabled account is out.
  const viewer = await signInAs(url, 'yamada', 'correct horse battery');
  await run('node', [cli, 'accounts', 'set-role', '--username', 'yamada', '--role', 'tenant-viewer', '-c', configFile]);
  t.is((await viewer.post('/agents/tokens', { label: 'x' })).status, 403);
  await run('node', [cli, 'accounts', 'disable', '--username', 'yamada', '-c', configFile]);
  t.is((await viewer.fetch('/api/v1/status')).status, 401);
  t.is((await postSignIn(url, { username: 'yamada', password: 'correct horse battery' })).status, 401);

  const operator = await signIn(lgwan.admin, url);
  const log = await operator.text('/audit.csv');
  for (const line of [/,default,yamada,127\.0\.0\.1,sign-in,failure,,wrong user name or password/u, /,default,yamada,127\.0\.0\.1,sign-in,success,,local account/u, /,default,yamada,127\.0\.0\.1,sign-out,success/u, /,default,cli:[^,]+,local,account-create,success,yamada,/u, /,default,cli:[^,]+,local,role-change,success,yamada,/u, /,default,cli:[^,]+,local,account-disable,success,yamada/u, /,,nobody,127\.0\.0\.1,sign-in,failure/u]) {
    t.regex(log, line);
  }
});

test('sign-in attempts are rate-limited per address and per account name', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  await signIn(lgwan.admin, url, { role: 'operator' }, 'suzuki');
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 8; attempt += 1) statuses.push((await postSignIn(url, { username: 'suzuki', password: `guess-${attempt}-xxxxxxxx` }, { address: `10.0.0.${attempt + 1}` })).status);
  // A burst of five per name; the helper's own sign-in as suzuki used one.
  t.deepEqual(statuses.slice(0, 4), [401, 401, 401, 401]);
  t.true(statuses.slice(4).every((status) => status === 429), `a name guessed from many addresses is slowed: ${statuses.join(' ')}`);
  const addressStatuses: number[] = [];
  for (let attempt = 0; attempt < 12; attempt += 1) addressStatuses.push((await postSignIn(url, { username: `name-${attempt}`, password: 'whatever-password' }, { address: '10.9.0.1' })).status);
  t.true(addressStatuses.slice(10).every((status) => status === 429), `one address trying many names is slowed: ${addressStatuses.join(' ')}`);
  const limited = await postSignIn(url, { username: 'suzuki', password: 'x' }, { address: '10.0.0.99' });
  t.regex(await limited.text(), /サインインの試行が多すぎます/u);
  t.truthy(limited.headers.get('retry-after'));
});

test('an Active Directory / OpenLDAP user signs in against a real slapd; the role comes from the group; role changes are audited', async (t) => {
  const bindPasswordFile = await writePasswordFile(folder, slapd.servicePassword);
  const directory = {
    url: slapd.url, bindDn: serviceDn, bindPasswordFile, userBase: peopleBase, userFilter: '(uid={username})', groupBase,
    groups: [{ dn: groupDn('city-a-admins'), role: 'tenant-admin', tenant: 'a' }, { dn: groupDn('city-a-viewers'), role: 'tenant-viewer', tenant: 'a' }],
  };
  const { url, lgwan } = await publishedRepository(t, { lgwan: { tenants: [{ id: 'a', name: 'A市', networks: ['127.0.0.0/8'] }], directories: [directory] } });
  t.is((await postSignIn(url, { username: 'tanaka', password: 'wrong-password-here' })).status, 401);
  t.is((await postSignIn(url, { username: 'sato', password: 'sato-in-no-mapped-group' })).status, 401, 'a user in no mapped group cannot sign in');
  t.is((await postSignIn(url, { username: '*', password: 'tanaka-correct-horse' })).status, 401);
  const admin = await signInAs(url, 'tanaka', 'tanaka-correct-horse');
  t.regex(await admin.text('/'), /tanaka \(団体管理者\)/u);
  t.is((await admin.post('/agents/tokens', { label: 'by AD admin' })).status, 201);
  t.like(await lgwan.admin.getAccount('tanaka'), { source: 'directory', grants: [{ role: 'tenant-admin', tenant: 'a' }] });
  t.is((await lgwan.admin.getAccount('tanaka'))?.passwordHash, undefined, 'no password is kept for a directory account');

  // The directory moves tanaka from admins to viewers: the next sign-in has the new role, on record.
  await slapd.asAdmin(async (client) => {
    await client.add(groupDn('city-a-viewers'), { objectClass: ['groupOfNames'], cn: 'city-a-viewers', member: [userDn('tanaka')] });
    await client.modify(groupDn('city-a-admins'), [new (await import('ldapts')).Change({ operation: 'replace', modification: new (await import('ldapts')).Attribute({ type: 'member', values: [userDn('sato')] }) })]);
  });
  const viewer = await signInAs(url, 'tanaka', 'tanaka-correct-horse');
  t.regex(await viewer.text('/'), /tanaka \(団体閲覧者\)/u);
  t.is((await viewer.post('/agents/tokens', { label: 'x' })).status, 403);
  const log = await (await signIn(lgwan.admin, url)).text('/audit.csv');
  t.regex(log, /,a,directory,127\.0\.0\.1,role-change,success,tanaka,/u);
  t.regex(log, /,a,tanaka,127\.0\.0\.1,sign-in,success,,directory ldap:/u);

  // The directory down: sign-in says so (503), and no local fallback opens.
  await slapd.stop();
  const down = await postSignIn(url, { username: 'tanaka', password: 'tanaka-correct-horse' });
  t.is(down.status, 503);
  t.regex(await down.text(), /ディレクトリ \(LDAP\/AD\) に接続できません/u);
});

async function auditSurvivesReopen(t: import('ava').ExecutionContext, open: () => Promise<AdminStore>) {
  const first = await open();
  const at = new Date().toISOString();
  await first.appendAudit({ at, tenant: 'a', actor: 'someone', address: '10.0.0.1', action: 'sign-in', outcome: 'success' });
  await first.appendAudit({ at, tenant: 'b', actor: 'other', address: '10.0.0.2', action: 'token-issue', outcome: 'success', subject: 'x' });
  await first.close();
  const second = await open();
  t.teardown(() => second.close());
  t.like(await second.listAudit({ tenant: 'a', offset: 0, limit: 10 }), { total: 1, entries: [{ actor: 'someone', action: 'sign-in' }] });
  t.is((await second.listAudit({ offset: 0, limit: 10 })).total, 2);
}

test('lowdb: the audit log is kept across restarts, one appended line per entry', async (t) => {
  const root = await mkdtemp(path.join(folder, 'json-'));
  await auditSurvivesReopen(t, () => JsonAdminStore.open(root));
});

test('postgresql: the audit log is kept across restarts, and the database refuses to change or delete an entry', async (t) => {
  const url = await (await server()).createDatabase(`audit_${process.pid}`);
  await auditSurvivesReopen(t, () => PostgresAdminStore.open(url));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  await t.throwsAsync(client.query("UPDATE admin_audit SET entry = '{}'"), { message: /append-only/u });
  await t.throwsAsync(client.query('DELETE FROM admin_audit'), { message: /append-only/u });
  t.is((await client.query('SELECT count(*)::int AS count FROM admin_audit')).rows[0].count, 2);
});

test('the sign-in page says so when it is opened over plain HTTP from another host (the Secure cookie would be dropped), and not on this host', async (t) => {
  const { url } = await publishedRepository(t);
  t.false((await (await fetch(`${url}/sign-in`)).text()).includes('id="insecure"'), 'http://127.0.0.1: browsers keep Secure cookies from this host');
  const port = new URL(url).port;
  const remote = await new Promise<string>((resolve, reject) => {
    // The Host header a browser on another PC sends for http://lgwan-mirror.example:<port>/.
    import('node:http').then(({ request }) => {
      const asked = request({ host: '127.0.0.1', port, path: '/sign-in', headers: { host: `lgwan-mirror.example:${port}` } }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(body));
      });
      asked.on('error', reject);
      asked.end();
    }, reject);
  });
  t.regex(remote, /id="insecure">このページは HTTPS ではなく HTTP で開かれています/u);
});

test('a console form that fails says so to the browser as a page in Japanese (what happened, what to do), and to programs as JSON', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  const viewer = await signIn(lgwan.admin, url, { role: 'tenant-viewer', tenant: 'default' });
  const asBrowser = await viewer.fetch('/agents/tokens', { method: 'POST', headers: { accept: 'text/html,application/xhtml+xml', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: viewer.csrf, label: 'x' }).toString() });
  t.is(asBrowser.status, 403);
  t.regex(asBrowser.headers.get('content-type') ?? '', /^text\/html/u);
  const page = await asBrowser.text();
  t.regex(page, /<h2>この操作はできません<\/h2>/u);
  t.regex(page, /前のページに戻って読み込み直し/u);
  t.regex(page, /HTTP 403: this needs the role tenant admin for tenant default/u);
  const stale = await viewer.fetch('/sign-out', { method: 'POST', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=stale' });
  t.is(stale.status, 403);
  t.regex(await stale.text(), /the form has expired; reload the page and try again/u);
  const asProgram = await viewer.post('/agents/tokens', { label: 'x' });
  t.is(asProgram.status, 403);
  t.deepEqual(await asProgram.json(), { error: 'this needs the role tenant admin for tenant default' });
});
