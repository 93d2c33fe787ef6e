import test, { type ExecutionContext } from 'ava';
import { enrollAgent, signIn, type SignedIn } from '../helpers/console.ts';
import { postgresPerFile } from '../helpers/postgres.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Two municipalities on one LGWAN-ASP: A (10.1.0.0/16, every product) and B (10.2.0.0/16 and
 * the URL prefix /t/b/, Firefox only). Each admin sees their own tenant and nothing of the
 * other: another tenant's endpoint, product, agent or log is "not found" (404), never
 * "forbidden". The same test runs on the embedded store and on a real PostgreSQL.
 */

const server = postgresPerFile(test.after);
let databases = 0;
const tenants = [
  { id: 'a', name: 'A市', networks: ['10.1.0.0/16'] },
  { id: 'b', name: 'B町', networks: ['10.2.0.0/16'], products: ['demo-firefox'] },
];

const updateCheck = (version: string) => `/mozilla/update/6/Firefox/${version}/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`;

async function twoTenants(t: ExecutionContext, store: 'lowdb' | 'postgresql') {
  let inventory: Record<string, unknown> = {};
  if (store === 'postgresql') {
    inventory = { store: 'postgresql', url: await (await server()).createDatabase(`isolation_${process.pid}_${(databases += 1)}`), flushSeconds: 0.2 };
  }
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, tenants, inventory } });
  const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
  for (const [path, address] of [[updateCheck('130.0'), '10.1.0.5'], [updateCheck('130.0'), '10.2.0.7'], [`/t/b${updateCheck('131.0')}`, '10.9.9.9'], [updateCheck('130.0'), '10.9.9.8']] as const) {
    t.is((await fetch(`${url}${path}`, from(address))).status, 200, `update check ${path} from ${address}`);
  }
  const agentA = await enrollAgent(lgwan.admin, url, { tenant: 'a', hostname: 'a-pc-1' });
  const agentB = await enrollAgent(lgwan.admin, url, { tenant: 'b', hostname: 'b-pc-1' });
  for (const agent of [agentA, agentB]) t.is((await agent.checkIn({ installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] })).status, 200);
  await lgwan.inventory.flush();
  const adminA = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'a' });
  const adminB = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'b' });
  const viewerA = await signIn(lgwan.admin, url, { role: 'tenant-viewer', tenant: 'a' });
  const operator = await signIn(lgwan.admin, url, { role: 'operator' });
  return { url, lgwan, agentA, agentB, adminA, adminB, viewerA, operator };
}

const endpointIds = async (session: SignedIn, query = '') => ((await session.json<{ total: number; endpoints: { id: string; kind: string; tenant?: string }[] }>(`/api/v1/endpoints${query}`)).endpoints.map((endpoint) => `${endpoint.kind}:${endpoint.id}`).sort());

for (const store of ['lowdb', 'postgresql'] as const) {
  test(`${store}: each tenant admin sees exactly their own endpoints; the other tenant's are 404 in the API and on the pages`, async (t) => {
    const { agentA, agentB, adminA, adminB, operator } = await twoTenants(t, store);
    t.deepEqual(await endpointIds(adminA), [`address:10.1.0.5`, `agent:${agentA.agentId}`].sort());
    t.deepEqual(await endpointIds(adminB), [`address:10.2.0.7`, `address:10.9.9.9`, `agent:${agentB.agentId}`].sort(), 'B: its network, its URL prefix, its agent');
    t.deepEqual(await endpointIds(operator), [...(await endpointIds(adminA)), ...(await endpointIds(adminB))].sort(), 'the operator sees both; an address no tenant claims (10.9.9.8) is not recorded');
    t.deepEqual(await endpointIds(operator, '?tenant=a'), await endpointIds(adminA));

    const keyB = `agent:${agentB.agentId}@b`;
    t.is((await adminB.fetch(`/api/v1/endpoints/${encodeURIComponent(keyB)}`)).status, 200);
    for (const path of [`/api/v1/endpoints/${encodeURIComponent(keyB)}`, `/endpoints/${encodeURIComponent(keyB)}`, '/api/v1/endpoints?tenant=b', '/endpoints?tenant=b', '/api/v1/coverage?tenant=b', '/agents?tenant=b', '/audit?tenant=b', '/audit.csv?tenant=b', '/metrics?tenant=b', '/?tenant=b']) {
      const response = await adminA.fetch(path);
      t.is(response.status, 404, `A asks for ${path}`);
      const body = await response.text();
      t.false(body.includes(agentB.agentId) || body.includes('b-pc-1') || body.includes('10.2.0.7'), `nothing of B in the answer to ${path}`);
    }
    const listing = await adminA.text('/endpoints');
    t.true(listing.includes('a-pc-1'));
    t.false(listing.includes('b-pc-1') || listing.includes('10.2.0.7') || listing.includes('10.9.9.9'));
  });

  test(`${store}: coverage, CSV, metrics and product views count only the tenant's endpoints and its catalog subset`, async (t) => {
    const { adminA, adminB, operator } = await twoTenants(t, store);
    const firefoxOf = async (session: SignedIn) => (await session.json<{ products: { productId: string; endpoints: number; current: number }[] }>('/api/v1/coverage')).products.find((product) => product.productId === 'demo-firefox');
    t.like(await firefoxOf(adminA), { endpoints: 2, current: 0 });
    t.like(await firefoxOf(adminB), { endpoints: 3, current: 1 }, 'B: two on 130.0, the prefixed check on 131.0');
    t.like(await firefoxOf(operator), { endpoints: 5, current: 1 });

    const csvB = await adminB.text('/api/v1/coverage.csv');
    const rowsB = csvB.trim().split('\r\n').slice(1);
    t.deepEqual(rowsB.map((row) => row.split(',')[0]), ['demo-firefox'], "B's CSV has B's catalog only");
    t.is(rowsB[0]!.split(',')[5], '3');
    t.regex(await adminA.text('/metrics'), /lgwan_mirror_product_endpoints\{product="demo-firefox"\} 2\n/u);
    t.regex(await adminB.text('/metrics'), /lgwan_mirror_product_endpoints\{product="demo-firefox"\} 3\n/u);

    const productsB = (await adminB.json<{ products: { id: string }[] }>('/api/v1/products')).products.map((product) => product.id);
    t.deepEqual(productsB, ['demo-firefox']);
    const aptProduct = 'demo-debian-bookworm-updates';
    t.is((await adminA.fetch(`/products/${aptProduct}`)).status, 200);
    t.is((await adminB.fetch(`/products/${aptProduct}`)).status, 404, 'a product outside the tenant catalog is not found');
    t.is((await adminB.fetch(`/api/v1/products/${aptProduct}/coverage`)).status, 404);
  });

  test(`${store}: roles: a viewer reads but cannot issue tokens; an admin cannot touch another tenant's agents; the operator can`, async (t) => {
    const { url, lgwan, agentA, agentB, adminA, viewerA, operator } = await twoTenants(t, store);
    t.is((await viewerA.fetch('/agents')).status, 200);
    t.false((await viewerA.text('/agents')).includes('action="/agents/tokens"'), 'no issue form for a viewer');
    t.is((await viewerA.post('/agents/tokens', { label: 'x' })).status, 403);
    t.is((await viewerA.post(`/agents/${agentA.agentId}/revoke`)).status, 403);

    t.is((await adminA.post(`/agents/${agentB.agentId}/revoke`)).status, 404, "another tenant's agent is not found");
    t.is((await agentB.checkIn({ installed: [] })).status, 200, 'and keeps working');
    t.is((await operator.post(`/agents/${agentB.agentId}/revoke?tenant=b`)).status, 303);
    const refused = await agentB.checkIn({ installed: [] });
    t.is(refused.status, 401);
    t.regex(((await refused.json()) as { error: string }).error, /was revoked/u);

    const issued = await adminA.post('/agents/tokens', { label: '3階の PC' });
    t.is(issued.status, 201);
    const token = /<code id="new-token">([^<]+)<\/code>/u.exec(await issued.text())![1]!;
    const enrolled = await enrollAgent(lgwan.admin, url, { token });
    t.is((await enrolled.checkIn({ installed: [] })).status, 200);
    const auditA = await adminA.text('/audit.csv');
    t.regex(auditA, /,a,admin-[^,]+,127\.0\.0\.1,token-issue,success,[0-9a-f]{12},3階の PC\r\n/u);
    t.regex(auditA, /,a,agent:[0-9a-f-]+,127\.0\.0\.1,agent-enroll,success,/u);
    t.false(auditA.includes(',b,'), "A's log holds nothing of B");
    t.regex(await operator.text('/audit.csv?tenant=b'), /,b,admin-[^,]+,127\.0\.0\.1,agent-revoke,success,/u);
  });
}

test('a protocol request under an unknown tenant prefix is 404, and a tenant catalog subset holds for its endpoints', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, tenants } });
  t.is((await fetch(`${url}/t/nobody${updateCheck('130.0')}`)).status, 404);
  t.is((await fetch(`${url}/t/b/endpoints`)).status, 404, 'the prefix carries protocol routes only');
  const apt = lgwan.database.data.published!.artifacts.find((artifact) => artifact.productId === 'demo-debian-bookworm-updates')!;
  t.is((await fetch(`${url}/${apt.path}`, { headers: { 'x-forwarded-for': '10.1.0.9' } })).status, 200, 'A is offered the apt suite');
  t.is((await fetch(`${url}/${apt.path}`, { headers: { 'x-forwarded-for': '10.2.0.9' } })).status, 404, "B's catalog has no apt suite");
  t.is((await fetch(`${url}/t/b/${apt.path}`)).status, 404);
  t.is((await fetch(`${url}/t/a/${apt.path}`)).status, 200);
});
