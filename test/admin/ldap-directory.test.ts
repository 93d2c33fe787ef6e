import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Change, Attribute, Client } from 'ldapts';
import { authenticateWithDirectory, directoryConfigSchema, normalizeDn, type DirectoryConfig } from '../../src/admin/ldap-directory.ts';
import type { Grant } from '../../src/admin/roles.ts';
import { LgwanMirrorError } from '../../src/core/errors.ts';
import { freePort } from '../helpers/processes.ts';
import { groupBase, groupDn, peopleBase, serviceDn, startSlapd, userDn, writePasswordFile, type TestSlapd } from '../helpers/slapd.ts';

const cityBAdmins = 'CN=City-B-Admins,OU=Groups,DC=example,DC=lg,DC=jp';

let slapd: TestSlapd;
let folder: string;
let bindPasswordFile: string;

test.before(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-directory-'));
  slapd = await startSlapd(
    [
      { uid: 'tanaka', password: 'tanaka-correct-horse', displayName: '田中 太郎' },
      { uid: 'suzuki', password: 'suzuki-battery-staple' },
      { uid: 'sato', password: 'sato-in-no-mapped-group' },
      { uid: 'takahashi', password: 'takahashi-moves-around' },
      { uid: 'ito', password: 'ito-keeps-city-a-viewers-non-empty' },
      { uid: 'kobayashi', password: 'kobayashi-alone', ou: 'solo' },
      { uid: 'watanabe', password: 'watanabe-twice' },
      { uid: 'watanabe', password: 'watanabe-twice', ou: 'annex' },
      // Active Directory's shape: the name in sAMAccountName, the groups in memberOf on the user.
      { uid: 'yamada', password: 'yamada-from-ad', samAccountName: 'Yamada', memberOf: [cityBAdmins] },
    ],
    {
      'mirror-operators': [userDn('tanaka')],
      'city-a-admins': [userDn('tanaka')],
      // groupOfNames needs one member at least: ito stays when takahashi leaves.
      'city-a-viewers': [userDn('takahashi'), userDn('ito')],
      'city-b-viewers': [userDn('suzuki')],
      unmapped: [userDn('sato')],
    },
  );
  bindPasswordFile = await writePasswordFile(folder, slapd.servicePassword);
});

test.after.always(async () => {
  await slapd?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

const config = (overrides: Partial<DirectoryConfig> = {}): DirectoryConfig => ({
  url: slapd.url,
  bindDn: serviceDn,
  bindPasswordFile,
  userBase: peopleBase,
  userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
  groupBase,
  groups: [
    { dn: groupDn('mirror-operators'), role: 'operator' },
    { dn: groupDn('city-a-admins'), role: 'tenant-admin', tenant: 'city-a' },
    { dn: groupDn('city-a-viewers'), role: 'tenant-viewer', tenant: 'city-a' },
    { dn: groupDn('city-b-viewers'), role: 'tenant-viewer', tenant: 'city-b' },
    // Written as an admin would, matched against AD's capitalised memberOf value.
    { dn: 'cn=city-b-admins, ou=groups, dc=example, dc=lg, dc=jp', role: 'tenant-admin', tenant: 'city-b' },
  ],
  timeoutSeconds: 5,
  ...overrides,
});

const sorted = (grants: Grant[] | undefined) => [...(grants ?? [])].sort((a, b) => `${a.role}/${a.tenant}`.localeCompare(`${b.role}/${b.tenant}`));
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, 'gu'))?.length ?? 0;

/** A TCP server that accepts and never answers: a directory that hangs. Counts connections and closes. */
async function silentServer() {
  const sockets = new Set<Socket>();
  let connections = 0;
  let closed = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Read (and drop) what arrives: a paused socket never notices the other side closing.
    socket.resume();
    socket.on('close', () => {
      closed += 1;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ldap://127.0.0.1:${port}`,
    connections: () => connections,
    closed: () => closed,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitUntil(condition: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return condition();
}

test.serial('an empty password is never sent, although this server would accept it as a successful bind', async (t) => {
  // The trap is armed: a DN with an empty password binds successfully on this server.
  const raw = new Client({ url: slapd.url, timeout: 5000 });
  await t.notThrowsAsync(raw.bind(userDn('tanaka'), ''));
  await raw.unbind();

  const before = slapd.log();
  t.is(await authenticateWithDirectory(config(), 'tanaka', ''), undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(count(slapd.log(), /ACCEPT from/) - count(before, /ACCEPT from/), 0, 'no connection was opened');

  const silent = await silentServer();
  t.teardown(silent.close);
  t.is(await authenticateWithDirectory(config({ url: silent.url }), 'tanaka', ''), undefined);
  t.is(silent.connections(), 0);
});

test.serial('every connection is unbound and closed, after a sign-in, a wrong password and an unknown name', async (t) => {
  const before = slapd.log();
  t.truthy(await authenticateWithDirectory(config(), 'tanaka', 'tanaka-correct-horse'));
  t.is(await authenticateWithDirectory(config(), 'tanaka', 'wrong'), undefined);
  t.is(await authenticateWithDirectory(config(), 'nobody', 'whatever'), undefined);
  const since = () => slapd.log().slice(before.length);
  t.is(count(since(), /ACCEPT from/), 3);
  t.true(await waitUntil(() => count(since(), /UNBIND/) === 3 && count(since(), / closed/) === 3), since());
});

test('the right password signs in with the grants of every mapped group: operator and one tenant admin', async (t) => {
  const user = await authenticateWithDirectory(config(), 'tanaka', 'tanaka-correct-horse');
  t.like(user, { username: 'tanaka', dn: userDn('tanaka'), displayName: '田中 太郎' });
  t.deepEqual(sorted(user?.grants), [{ role: 'operator' }, { role: 'tenant-admin', tenant: 'city-a' }]);
});

test("a second tenant's group maps to that tenant", async (t) => {
  const user = await authenticateWithDirectory(config(), 'suzuki', 'suzuki-battery-staple');
  t.deepEqual(user, { username: 'suzuki', dn: userDn('suzuki'), grants: [{ role: 'tenant-viewer', tenant: 'city-b' }] });
});

test('a wrong password is refused by the directory and gives undefined', async (t) => {
  t.is(await authenticateWithDirectory(config(), 'tanaka', 'tanaka-correct-horsf'), undefined);
  t.regex(slapd.log(), /conn=(\d+) op=\d+ BIND dn="uid=tanaka,[^"]*" method=128[\s\S]*?conn=\1 op=\d+ RESULT tag=97 err=49/u, 'the user bind was tried and answered invalidCredentials');
});

test('an unknown name gives undefined', async (t) => {
  t.is(await authenticateWithDirectory(config(), 'nakamura', 'any-password'), undefined);
});

test('a name that matches two entries gives undefined, even with the right password', async (t) => {
  t.is(await authenticateWithDirectory(config(), 'watanabe', 'watanabe-twice'), undefined);
});

test('a user in no mapped group cannot sign in, even with the right password', async (t) => {
  t.is(await authenticateWithDirectory(config(), 'sato', 'sato-in-no-mapped-group'), undefined);
  t.truthy(await authenticateWithDirectory(config({ groups: [{ dn: groupDn('unmapped'), role: 'tenant-viewer', tenant: 'city-c' }] }), 'sato', 'sato-in-no-mapped-group'), 'control: the password is right');
});

test('filter metacharacters in the name never widen the search', async (t) => {
  // Under ou=solo one user matches any wildcard: a filter built by concatenation would sign
  // these names in as kobayashi.
  const solo = config({ userBase: `ou=solo,${peopleBase}`, groups: [{ dn: groupDn('mirror-operators'), role: 'operator' }], groupBase: undefined });
  await slapd.asAdmin((client) => client.modify(groupDn('mirror-operators'), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn('kobayashi', 'solo')] }) })));
  t.teardown(() => slapd.asAdmin((client) => client.modify(groupDn('mirror-operators'), new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [userDn('kobayashi', 'solo')] }) }))));
  const withGroups = { ...solo, groupBase };
  t.like(await authenticateWithDirectory(withGroups, 'kobayashi', 'kobayashi-alone'), { dn: userDn('kobayashi', 'solo') }, 'control: the real name signs in');
  for (const name of ['*', 'k*', ')(uid=*', '*)(|(uid=*', 'kobayashi)(|(uid=*', '\\2a', '\\', 'kobayashi\u0000', '(uid=kobayashi)']) {
    t.is(await authenticateWithDirectory(withGroups, name, 'kobayashi-alone'), undefined, JSON.stringify(name));
  }
  // slapd logs the filter it received: the star arrived as a value, not as a wildcard.
  t.regex(slapd.log(), /filter="\(&\(objectClass=inetOrgPerson\)\(uid=\\2A\)\)"/u);
  t.regex(slapd.log(), /filter="\(&\(objectClass=inetOrgPerson\)\(uid=\\29\\28uid=\\2A\)\)"/u);
});

test("Active Directory's shape: sAMAccountName, groups from memberOf alone, the directory's spelling of the name", async (t) => {
  const ad = config({ userFilter: '(sAMAccountName={username})', groupBase: undefined });
  t.deepEqual(await authenticateWithDirectory(ad, 'yamada', 'yamada-from-ad'), {
    username: 'Yamada',
    dn: userDn('yamada'),
    grants: [{ role: 'tenant-admin', tenant: 'city-b' }],
  });
});

test('a change of group membership between two sign-ins gives the new grants: nothing is cached', async (t) => {
  const member = (operation: 'add' | 'delete', cn: string) =>
    slapd.asAdmin((client) => client.modify(groupDn(cn), new Change({ operation, modification: new Attribute({ type: 'member', values: [userDn('takahashi')] }) })));
  t.deepEqual((await authenticateWithDirectory(config(), 'takahashi', 'takahashi-moves-around'))?.grants, [{ role: 'tenant-viewer', tenant: 'city-a' }]);
  await member('add', 'city-b-viewers');
  await member('delete', 'city-a-viewers');
  t.deepEqual((await authenticateWithDirectory(config(), 'takahashi', 'takahashi-moves-around'))?.grants, [{ role: 'tenant-viewer', tenant: 'city-b' }]);
  await member('delete', 'city-b-viewers');
  t.is(await authenticateWithDirectory(config(), 'takahashi', 'takahashi-moves-around'), undefined);
});

test('a wrong service password is a typed error naming the directory, not a wrong user password', async (t) => {
  const wrong = await writePasswordFile(folder, 'not-the-service-password');
  const error = await t.throwsAsync(authenticateWithDirectory(config({ bindPasswordFile: wrong }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  t.is(error?.code, 'E_DIRECTORY_UNAVAILABLE');
  t.like(error?.details, { url: slapd.url, action: 'service bind' });
  t.true(error?.message.includes(slapd.url));
  t.false(error?.message.includes('not-the-service-password'));
});

test('an empty service password file is refused before any bind (it would be an unauthenticated bind)', async (t) => {
  const empty = path.join(folder, 'empty-password');
  await writeFile(empty, '\n');
  const silent = await silentServer();
  t.teardown(silent.close);
  const error = await t.throwsAsync(authenticateWithDirectory(config({ url: silent.url, bindPasswordFile: empty }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  t.is(error?.code, 'E_CONFIG_INVALID');
  t.like(error?.details, { file: empty });
  t.is(silent.connections(), 0);
});

test('a directory that is down is a typed error naming its URL', async (t) => {
  const url = `ldap://127.0.0.1:${await freePort()}`;
  const error = await t.throwsAsync(authenticateWithDirectory(config({ url }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  t.is(error?.code, 'E_DIRECTORY_UNAVAILABLE');
  t.like(error?.details, { url });
});

test('a directory that accepts connections but never answers fails within the timeout and the connection is closed', async (t) => {
  const silent = await silentServer();
  t.teardown(silent.close);
  const started = Date.now();
  const error = await t.throwsAsync(authenticateWithDirectory(config({ url: silent.url, timeoutSeconds: 0.5 }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  const elapsed = Date.now() - started;
  t.is(error?.code, 'E_DIRECTORY_UNAVAILABLE');
  t.like(error?.details, { url: silent.url, action: 'service bind' });
  t.true(elapsed >= 400 && elapsed < 2000, `${elapsed} ms`);
  t.true(await waitUntil(() => silent.connections() === 1 && silent.closed() === 1));
});

test('the default timeout is 5 seconds', async (t) => {
  const silent = await silentServer();
  t.teardown(silent.close);
  const started = Date.now();
  await t.throwsAsync(authenticateWithDirectory(config({ url: silent.url, timeoutSeconds: undefined }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  const elapsed = Date.now() - started;
  t.true(elapsed >= 4900 && elapsed < 7000, `${elapsed} ms`);
});

test('an abort signal stops a sign-in that waits on the directory, and closes the connection', async (t) => {
  const silent = await silentServer();
  t.teardown(silent.close);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('request gone')), 200);
  const started = Date.now();
  await t.throwsAsync(authenticateWithDirectory(config({ url: silent.url }), 'tanaka', 'tanaka-correct-horse', { signal: controller.signal }), { message: 'request gone' });
  t.true(Date.now() - started < 2000);
  t.true(await waitUntil(() => silent.closed() === 1));
});

test('StartTLS with the CA file signs in over TLS', async (t) => {
  const before = slapd.log().length;
  t.like(await authenticateWithDirectory(config({ startTls: true, caFile: slapd.caFile }), 'tanaka', 'tanaka-correct-horse'), { dn: userDn('tanaka') });
  const log = slapd.log().slice(before);
  t.regex(log, /EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037/u);
  t.regex(log, /BIND dn="uid=tanaka,[^"]*" mech=SIMPLE bind_ssf=0 ssf=(?!0)\d+/u, 'the user bind ran inside TLS');
});

test('ldaps with the CA file signs in', async (t) => {
  t.like(await authenticateWithDirectory(config({ url: slapd.ldapsUrl, caFile: slapd.caFile }), 'tanaka', 'tanaka-correct-horse'), { dn: userDn('tanaka') });
});

test.serial('a certificate from a CA that is not trusted is a typed error, for StartTLS and ldaps, and no password is sent', async (t) => {
  const before = slapd.log().length;
  const startTls = await t.throwsAsync(authenticateWithDirectory(config({ startTls: true }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  t.like(startTls, { code: 'E_DIRECTORY_UNAVAILABLE' });
  t.like(startTls?.details, { url: slapd.url, action: 'StartTLS' });
  const ldaps = await t.throwsAsync(authenticateWithDirectory(config({ url: slapd.ldapsUrl }), 'tanaka', 'tanaka-correct-horse'), { instanceOf: LgwanMirrorError });
  t.like(ldaps?.details, { url: slapd.ldapsUrl });
  t.notRegex(slapd.log().slice(before), /BIND dn="uid=tanaka/u);
});

test('the config schema fills defaults and accepts an Active Directory over ldaps', (t) => {
  const parsed = directoryConfigSchema.parse({
    url: 'ldaps://dc01.city.example.lg.jp',
    bindDn: 'CN=svc-lgwan-mirror,OU=Service Accounts,DC=city,DC=example,DC=lg,DC=jp',
    bindPasswordFile: 'secrets/directory-password',
    userBase: 'OU=Staff,DC=city,DC=example,DC=lg,DC=jp',
    userFilter: '(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))',
    groups: [{ dn: 'CN=LGWAN-Mirror-Admins,OU=Groups,DC=city,DC=example,DC=lg,DC=jp', role: 'tenant-admin', tenant: 'city' }],
    caFile: 'city-ca.pem',
  });
  t.is(parsed.startTls, false);
  t.is(parsed.timeoutSeconds, 5);
});

test('the config schema refuses what would be unsafe or could never match', (t) => {
  const valid = { url: 'ldap://ldap.city.example.lg.jp', startTls: true, bindDn: serviceDn, bindPasswordFile: 'p', userBase: peopleBase, userFilter: '(uid={username})', groups: [{ dn: groupDn('a'), role: 'operator' }] };
  t.true(directoryConfigSchema.safeParse(valid).success);
  const refused = (change: Record<string, unknown>, field: string) => {
    const result = directoryConfigSchema.safeParse({ ...valid, ...change });
    t.false(result.success, JSON.stringify(change));
    t.true(result.error?.issues.some((issue) => issue.path.includes(field)), `${JSON.stringify(change)}: ${JSON.stringify(result.error?.issues)}`);
  };
  refused({ startTls: false }, 'url');
  refused({ url: 'ldaps://ldap.city.example.lg.jp' }, 'startTls');
  refused({ url: 'http://ldap.city.example.lg.jp' }, 'url');
  refused({ userFilter: '(uid=*{username}*)' }, 'userFilter');
  refused({ userFilter: '(uid=tanaka)' }, 'userFilter');
  refused({ userFilter: '(uid={username}' }, 'userFilter');
  refused({ groups: [] }, 'groups');
  refused({ groups: [{ dn: groupDn('a'), role: 'operator', tenant: 'city-a' }] }, 'tenant');
  refused({ groups: [{ dn: groupDn('a'), role: 'tenant-admin' }] }, 'tenant');
  refused({ groups: [{ dn: groupDn('a'), role: 'approver', tenant: 'x' }] }, 'role');
  const inline = directoryConfigSchema.safeParse({ ...valid, bindPassword: 'inline' });
  t.deepEqual(inline.error?.issues.map((issue) => issue.code), ['unrecognized_keys'], 'the password itself is not a config key');
  t.true(directoryConfigSchema.safeParse({ ...valid, url: 'ldap://127.0.0.1:3389', startTls: false }).success, 'plain ldap:// to this host');
});

test('group DNs compare as the directory compares them: case, spaces and escapes do not matter', (t) => {
  t.is(normalizeDn('CN=City-B-Admins, OU=Groups,DC=example'), normalizeDn('cn=city-b-admins,ou=groups,dc=example'));
  t.is(normalizeDn('cn=Sales\\, Tokyo,dc=example'), normalizeDn('CN=sales\\2C tokyo,DC=example'));
  t.not(normalizeDn('cn=a\\,b,dc=example'), normalizeDn('cn=a,cn=b,dc=example'));
  t.is(normalizeDn('cn=総務課,dc=example'), normalizeDn('cn=\\E7\\B7\\8F\\E5\\8B\\99\\E8\\AA\\B2,dc=example'));
});
