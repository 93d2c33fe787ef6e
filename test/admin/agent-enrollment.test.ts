import test from 'ava';
import { signedCheckInHeaders } from '../../src/admin/agent-auth.ts';
import { nativeIdentitiesPerAddress } from '../../src/admin/client-tenant.ts';
import { enrollAgent, issueEnrollmentToken, signIn } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

const firefox = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];

test('a check-in that is not signed by an enrolled agent is refused and changes nothing', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'pc-001' });
  t.is((await agent.checkIn({ hostname: 'pc-001', installed: firefox })).status, 200);
  await lgwan.inventory.flush();
  const before = JSON.stringify(await lgwan.inventory.listEndpoints({ offset: 0, limit: 100 }));

  const body = JSON.stringify({ agentId: agent.agentId, os: 'windows', hostname: 'evil', installed: [{ ...firefox[0], version: '1.0' }] });
  const post = (headers: Record<string, string>, text = body) => fetch(`${url}/api/v1/agent/checkin`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
  const unsigned = await post({});
  t.is(unsigned.status, 401);
  t.regex(((await unsigned.json()) as { error: string }).error, /not signed: enroll the agent first/u);
  t.is((await post(signedCheckInHeaders(agent.agentId, 'a guessed secret', body))).status, 401, 'a wrong secret');
  t.is((await post(signedCheckInHeaders(agent.agentId, agent.secret, body.replace('evil', 'good')))).status, 401, 'a signature of another body');
  const { 'x-lgwan-nonce': _nonce, ...noNonce } = signedCheckInHeaders(agent.agentId, agent.secret, body);
  const withoutNonce = await post(noNonce);
  t.is(withoutNonce.status, 401);
  t.regex(((await withoutNonce.json()) as { error: string }).error, /no X-Lgwan-Nonce/u);
  const stale = await post(signedCheckInHeaders(agent.agentId, agent.secret, body, { timestamp: String(Math.floor(Date.now() / 1000) - 3600) }));
  t.is(stale.status, 401);
  t.regex(((await stale.json()) as { error: string }).error, /more than 300 s from the repository's clock/u);
  const other = await enrollAgent(lgwan.admin, url);
  t.is((await post({ ...signedCheckInHeaders(other.agentId, other.secret, body), 'x-lgwan-agent': agent.agentId })).status, 401, "another agent's valid signature for this agent's id");
  await lgwan.inventory.flush();
  t.is(JSON.stringify(await lgwan.inventory.listEndpoints({ offset: 0, limit: 100 })), before, 'the record is as the real agent left it');

  // A signed check-in captured on the network and sent again is refused.
  const signed = signedCheckInHeaders(agent.agentId, agent.secret, body);
  t.is((await post(signed)).status, 200);
  const replay = await post(signed);
  t.is(replay.status, 401);
  t.regex(((await replay.json()) as { error: string }).error, /already received \(a replay\)/u);
  // The same body again in the same second, signed afresh (an admin running the agent by hand): accepted.
  t.is((await post(signedCheckInHeaders(agent.agentId, agent.secret, body, { timestamp: signed['x-lgwan-timestamp'] }))).status, 200);
});

test('200 invented agents from one address no longer inflate coverage: without a token nothing is recorded', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  for (let index = 0; index < 200; index += 1) {
    const response = await fetch(`${url}/api/v1/agent/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agentId: `fake-${index}`, os: 'windows', installed: [{ ...firefox[0], version: '131.0' }] }) });
    t.is(response.status, 401);
  }
  await lgwan.inventory.flush();
  t.is(await lgwan.inventory.countEndpoints(), 0);
});

test('enrollment needs a valid token of the tenant, is rate-limited, and a revoked token enrolls nobody', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const enroll = (token: string, address = '10.0.0.1') => fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ token, hostname: 'pc' }) });
  const token = await issueEnrollmentToken(lgwan.admin);
  const tsv = await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/tab-separated-values' }, body: JSON.stringify({ token }) });
  t.is(tsv.status, 201);
  t.regex(await tsv.text(), /^agentId\t[0-9a-f-]{36}\nsecret\t[A-Za-z0-9_-]{43}\ntenant\tdefault\n$/u, 'the sh agent reads lines, not JSON');
  t.is((await enroll('not-a-token-0123456789')).status, 401);
  const operator = await signIn(lgwan.admin, url);
  const [stored] = await lgwan.admin.listEnrollmentTokens('default');
  t.is((await operator.post(`/agents/tokens/${stored!.id}/revoke`)).status, 303);
  const revoked = await enroll(token);
  t.is(revoked.status, 401);
  t.regex(((await revoked.json()) as { error: string }).error, /not valid \(revoked, or never issued\)/u);

  const fresh = await issueEnrollmentToken(lgwan.admin);
  const statuses: number[] = [];
  for (let index = 0; index < 32; index += 1) statuses.push((await enroll(fresh, '10.0.0.2')).status);
  t.deepEqual([...new Set(statuses.slice(0, 30))], [201]);
  t.deepEqual(statuses.slice(30), [429, 429], 'a burst of 30 per address, then slowed');
  t.is((await enroll(fresh, '10.0.0.3')).status, 201, 'another address is not slowed');
  const log = await operator.text('/audit.csv');
  t.regex(log, /,,agent:\(not enrolled\),10\.0\.0\.1,agent-enroll,failure,,unknown token/u);
  t.regex(log, /,default,agent:\(not enrolled\),10\.0\.0\.1,agent-enroll,failure,,token revoked/u);
  t.regex(log, /,default,admin-[^,]+,127\.0\.0\.1,token-revoke,success,/u);
});

test('native updaters are recorded by address and marked unauthenticated; invented freshclam UUIDs from one address are bounded', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const bytecode = lgwan.database.data.published!.artifacts.find((artifact) => artifact.fileName === 'bytecode.cvd')!;
  for (let index = 0; index < nativeIdentitiesPerAddress + 20; index += 1) {
    const uuid = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
    const response = await fetch(`${url}/${bytecode.path}`, { headers: { 'user-agent': `ClamAV/1.4.3 (OS: linux-gnu, ARCH: x86_64, CPU: x86_64, UUID: ${uuid})`, 'x-forwarded-for': '10.5.0.1' } });
    await response.arrayBuffer();
  }
  await lgwan.inventory.flush();
  const endpoints = await lgwan.inventory.listEndpoints({ offset: 0, limit: 1000 });
  t.is(endpoints.filter((endpoint) => endpoint.kind === 'freshclam-uuid').length, nativeIdentitiesPerAddress);
  t.false(endpoints.some((endpoint) => endpoint.kind === 'agent'), 'nothing a native updater sends becomes an agent record');
  const operator = await signIn(lgwan.admin, url);
  t.regex(await operator.text('/endpoints'), /更新機能の問い合わせから（認証なし）/u);
});
