import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { AdminStore } from '../../src/admin/admin-store.ts';
import { signedCheckInHeaders } from '../../src/admin/agent-auth.ts';
import { JsonAdminStore } from '../../src/admin/json-admin-store.ts';
import { PostgresAdminStore } from '../../src/admin/postgres-admin-store.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { postgresPerFile } from '../helpers/postgres.ts';

/* One contract, two stores: what the console keeps behaves the same on lowdb files and on PostgreSQL. */
const server = postgresPerFile(test.after);
let folder: string;
let databases = 0;
test.before(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-admin-store-'));
});
test.after.always(async () => {
  await rm(folder, { recursive: true, force: true });
});

const stores: Record<string, () => Promise<{ open(): Promise<AdminStore> }>> = {
  lowdb: async () => {
    const root = await mkdtemp(path.join(folder, 'json-'));
    return { open: () => JsonAdminStore.open(root) };
  },
  postgresql: async () => {
    const url = await (await server()).createDatabase(`admin_${process.pid}_${(databases += 1)}`);
    return { open: () => PostgresAdminStore.open(url) };
  },
};

for (const [name, make] of Object.entries(stores)) {
  test(`${name}: accounts, tokens, agents and sessions are kept across a reopen, and revocations are per tenant`, async (t) => {
    const factory = await make();
    const first = await factory.open();
    const at = new Date().toISOString();
    await first.putAccount({ username: 'sato', source: 'local', passwordHash: '$argon2id$x', grants: [{ role: 'tenant-admin', tenant: 'a' }], createdAt: at });
    await first.putAccount({ username: 'sato', source: 'local', passwordHash: '$argon2id$y', grants: [{ role: 'tenant-viewer', tenant: 'a' }], createdAt: at });
    await first.addEnrollmentToken({ id: 't1', tenant: 'a', tokenHash: 'h1', label: 'one', createdAt: at, createdBy: 'sato' });
    await first.addAgent({ agentId: 'agent-1', tenant: 'a', secret: 's', tokenId: 't1', enrolledAt: at, address: '10.0.0.1' });
    await t.throwsAsync(first.addAgent({ agentId: 'agent-1', tenant: 'b', secret: 'other', tokenId: 't1', enrolledAt: at, address: '10.0.0.2' }), { message: /already enrolled/u });
    await first.putSession({ idHash: 'session-1', username: 'sato', grants: [], tenant: 'a', csrfToken: 'c', createdAt: at, lastSeenAt: at, address: '10.0.0.1' });
    t.false(await first.revokeAgent('agent-1', 'b', at), "tenant b cannot revoke a's agent");
    t.false(await first.revokeEnrollmentToken('t1', 'b', at));
    await first.close();

    const second = await factory.open();
    t.teardown(() => second.close());
    t.like(await second.getAccount('sato'), { passwordHash: '$argon2id$y', grants: [{ role: 'tenant-viewer', tenant: 'a' }] }, 'the second write replaced the first');
    t.is((await second.listAccounts()).length, 1);
    t.like(await second.findEnrollmentToken('h1'), { id: 't1', tenant: 'a' });
    t.is(await second.findEnrollmentToken('h2'), undefined);
    t.like(await second.getAgent('agent-1'), { tenant: 'a', secret: 's' });
    t.is((await second.getAgent('agent-1'))?.revokedAt, undefined);
    t.true(await second.revokeAgent('agent-1', 'a', at));
    t.true(await second.revokeEnrollmentToken('t1', 'a', at));
    t.is((await second.getAgent('agent-1'))?.revokedAt, at);
    t.deepEqual((await second.listAgents('b')), []);
    t.deepEqual((await second.listEnrollmentTokens('a')).map((token) => token.revokedAt), [at]);
    // Sessions: the embedded store keeps them in memory (a restart signs everyone out); PostgreSQL shares them.
    t.is((await second.getSession('session-1')) !== undefined, name === 'postgresql');
  });

  test(`${name}: 200 enrollments at once all land, and a refused one among them leaves nothing of itself`, async (t) => {
    const store = await (await make()).open();
    t.teardown(() => store.close());
    const at = new Date().toISOString();
    const agent = (index: number, tenant = 'a') => ({ agentId: `agent-${index}`, tenant, secret: `s${index}`, tokenId: 't1', enrolledAt: at, address: `10.0.${index >> 8}.${index & 0xff}` });
    await store.addAgent(agent(0));
    // A floor of PCs enrolling at once (group policy), one of them under agent-0's id again.
    const outcomes = await Promise.allSettled([...Array(200).keys()].map((index) => store.addAgent(index === 100 ? agent(0, 'b') : agent(index + 1))));
    t.deepEqual(outcomes.map((outcome, index) => (outcome.status === 'rejected' ? index : -1)).filter((index) => index >= 0), [100], 'only the duplicate was refused');
    t.regex(String((outcomes[100] as PromiseRejectedResult).reason), /already enrolled/u);
    const agents = await store.listAgents('a');
    t.is(agents.length, 200, 'agent-0 and the 199 others');
    t.is((await store.getAgent('agent-0'))?.tenant, 'a', 'the refused enrollment changed nothing');
    t.deepEqual(await store.listAgents('b'), []);
  });

  test(`${name}: an approval's deadline and windows, and agents' install results (the latest per agent and product), are kept across a reopen, per tenant`, async (t) => {
    const factory = await make();
    const first = await factory.open();
    const schedule = { deadline: '2026-12-08T09:00:00.000Z', windows: [{ days: [1, 2, 3, 4, 5], start: 720, end: 780 }], timeZone: 'Asia/Tokyo' };
    await first.putDecision({ tenant: 'a', kind: 'approve', product: 'firefox', version: '131.0', ring: 'general', at: '2026-12-01T00:00:00.000Z', by: 'sato', schedule });
    const result = (agentId: string, outcome: 'installed' | 'failed', exitCode: number, reportedAt: string) => ({ tenant: 'a', agentId, ring: 'general', product: 'firefox', version: '131.0', outcome, exitCode, message: `exit ${exitCode}`, reportedAt });
    await first.putInstallResults('a', [result('agent-1', 'failed', 1603, '2026-12-07T03:00:00.000Z'), result('agent-2', 'installed', 0, '2026-12-07T03:00:00.000Z')]);
    // Two results of one product in one check-in (two files): the last counts.
    await first.putInstallResults('a', [result('agent-1', 'failed', 1, '2026-12-07T04:00:00.000Z'), result('agent-1', 'installed', 0, '2026-12-07T04:00:00.000Z')]);
    await first.putInstallResults('a', []);
    await first.close();

    const second = await factory.open();
    t.teardown(() => second.close());
    t.deepEqual((await second.listDecisions('a'))[0]?.schedule, schedule);
    const results = (await second.listInstallResults('a')).sort((x, y) => x.agentId.localeCompare(y.agentId));
    t.deepEqual(results, [result('agent-1', 'installed', 0, '2026-12-07T04:00:00.000Z'), result('agent-2', 'installed', 0, '2026-12-07T03:00:00.000Z')], 'the newer result of agent-1 replaced its failure');
    t.deepEqual(await second.listInstallResults('b'), []);
  });
}

test('two replicas sharing PostgreSQL share sign-ins, enrollments and revocations at once', async (t) => {
  const url = await (await server()).createDatabase(`replicas_${process.pid}`);
  const environment = await createEnvironment({ lgwan: { inventory: { store: 'postgresql', url, flushSeconds: 0.2 } } });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const first = await environment.openLgwan();
  await first.importOnce();
  // The second replica: its own data root and spool copy, the same database.
  const storage = path.join(environment.root, 'replica-b');
  await cp(path.join(environment.root, 'lgwan', 'keys'), path.join(storage, 'keys'), { recursive: true });
  await cp(path.join(environment.root, 'lgwan', 'vendor-keys'), path.join(storage, 'vendor-keys'), { recursive: true });
  await cp(environment.config.lgwan.transferPublicKey, path.join(storage, 'transfer-key.pub.pem'));
  const configFile = path.join(environment.root, 'replica-b.yaml');
  await writeFile(configFile, JSON.stringify({ lgwan: { storage, keys: [path.join(storage, 'keys'), path.join(storage, 'vendor-keys')], spool: environment.config.internet.spool, port: 0, inventory: { store: 'postgresql', url, flushSeconds: 0.2 } } }));
  const second = await openLgwanSide((await loadConfig(configFile)).lgwan, silentLogger);
  t.teardown(() => second.close());
  await second.importOnce();
  const [a, b] = await Promise.all([first.listen(0), second.listen(0)]);
  t.teardown(() => {
    a.server.close();
    b.server.close();
  });

  const operator = await signIn(first.admin, a.url);
  const onB = await fetch(`${b.url}/api/v1/status`, { headers: { cookie: operator.cookie } });
  t.is(onB.status, 200, 'a session opened on replica A is valid on replica B');
  const agent = await enrollAgent(first.admin, a.url, { hostname: 'pc-shared' });
  const body = JSON.stringify({ agentId: agent.agentId, os: 'linux', installed: [] });
  const checkInOnB = () => fetch(`${b.url}/api/v1/agent/checkin`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedCheckInHeaders(agent.agentId, agent.secret, body) }, body });
  const signedOnB = await checkInOnB();
  t.is(signedOnB.status, 200, 'enrolled on A, accepted on B');
  t.is((await operator.post(`/agents/${agent.agentId}/revoke`)).status, 303);
  const refusedOnB = await checkInOnB();
  t.is(refusedOnB.status, 401, 'revoked on A, refused on B at its next check-in');
  await fetch(`${a.url}/sign-out`, { method: 'POST', headers: { cookie: operator.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: operator.csrf }).toString() });
  t.is((await fetch(`${b.url}/api/v1/status`, { headers: { cookie: operator.cookie } })).status, 401, 'signed out on A: out on B too');
});
