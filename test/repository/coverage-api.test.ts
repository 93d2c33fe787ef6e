import test, { type ExecutionContext } from 'ava';
import { enrollAgent, signIn, type TestAgent } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/** Three enrolled agents (host names pc-1, pc-2, pc-3) have checked in; an operator is signed in to read the console. */
async function repositoryWithEndpoints(t: ExecutionContext) {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const agents: Record<string, TestAgent> = {};
  for (const [hostname, version] of [['pc-1', '131.0'], ['pc-2', '130.0'], ['pc-3', '=cmd|calc']] as const) {
    const agent = (agents[hostname] = await enrollAgent(lgwan.admin, url, { hostname }));
    const response = await agent.checkIn({ os: 'windows', installed: [{ product: 'demo-firefox', version: version.replace(/[^A-Za-z0-9.]/gu, ''), platform: 'win64', locale: 'ja' }] });
    t.is(response.status, 200, await response.text());
  }
  return { url, lgwan, agents, operator: await signIn(lgwan.admin, url) };
}

test('the coverage API, the CSV export and /metrics report the same figures', async (t) => {
  const { operator } = await repositoryWithEndpoints(t);
  const api = (await (await operator.fetch('/api/v1/coverage')).json()) as { endpoints: { total: number }; products: { productId: string; endpoints: number; current: number; share: number; behindCount: number; newestPublished: string }[] };
  const firefox = api.products.find((product) => product.productId === 'demo-firefox')!;
  t.like(firefox, { endpoints: 3, current: 1, behindCount: 2, newestPublished: '131.0' });
  t.is(api.endpoints.total, 3);

  const csvResponse = await operator.fetch('/api/v1/coverage.csv');
  t.regex(csvResponse.headers.get('content-type') ?? '', /^text\/csv/u);
  const bytes = Buffer.from(await csvResponse.arrayBuffer());
  t.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 with a byte-order mark for Excel on Japanese Windows');
  const csv = bytes.subarray(3).toString('utf8');
  t.true(csv.startsWith('product,name,vendor_newest,lgwan_newest'));
  const rows = csv.trim().split('\r\n').map((line) => line.split(','));
  t.is(rows.length, 1 + api.products.length);
  const firefoxRow = rows.find((row) => row[0] === 'demo-firefox')!;
  t.deepEqual([firefoxRow[3], firefoxRow[5], firefoxRow[6], firefoxRow[7], firefoxRow[8]], ['131.0', '3', '1', '33.3', '2']);

  const metrics = await operator.text('/metrics');
  t.regex(metrics, /^# TYPE lgwan_mirror_product_current_ratio gauge$/mu);
  const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'mu').exec(metrics)?.[1]);
  t.is(value('lgwan_mirror_product_endpoints', 'product="demo-firefox"'), 3);
  t.is(value('lgwan_mirror_product_current_ratio', 'product="demo-firefox"'), firefox.share);
  t.is(value('lgwan_mirror_product_behind_endpoints', 'product="demo-firefox"'), 2);
  t.is(value('lgwan_mirror_product_up_to_date', 'product="demo-clamav-bytecode"'), 1);
  t.is(Number(/^lgwan_mirror_transfer_sequence (\d+)$/mu.exec(metrics)?.[1]), 1);
});

test('product and endpoint views page through long lists and answer 404 for unknown names', async (t) => {
  const { agents, operator } = await repositoryWithEndpoints(t);
  const product = (await (await operator.fetch('/api/v1/products/demo-firefox/coverage?limit=1&offset=1')).json()) as { behindCount: number; behind: { endpoint: string }[]; histogram: { version: string; count: number }[] };
  t.is(product.behindCount, 2);
  t.is(product.behind.length, 1);
  t.deepEqual(product.histogram.map((entry) => entry.version), ['131.0', '130.0', 'cmdcalc']);
  const endpoints = (await (await operator.fetch('/api/v1/endpoints?limit=2')).json()) as { total: number; endpoints: { id: string }[] };
  t.is(endpoints.total, 3);
  t.is(endpoints.endpoints.length, 2);
  const one = (await (await operator.fetch(`/api/v1/endpoints/agent:${agents['pc-2']!.agentId}`)).json()) as { products: Record<string, { version: string }> };
  t.is(one.products['demo-firefox/win64']?.version, '130.0');
  t.is((await operator.fetch('/api/v1/endpoints/agent:nobody')).status, 404);
  t.is((await operator.fetch('/api/v1/products/nothing/coverage')).status, 404);
  const page = await operator.fetch('/products/nothing');
  t.is(page.status, 404);
  t.regex(await page.text(), /この製品は公開されていません。/u);
  const endpointPage = await operator.text(`/endpoints/agent%3A${agents['pc-2']!.agentId}?lang=en`);
  // The catalog's product name, linked to its page, not the id.
  t.regex(endpointPage, /<td><a href="\/products\/demo-firefox\?lang=en">Firefox \(demo\)<\/a><\/td><td>130\.0<\/td><td>131\.0<\/td>/u);
  t.regex(endpointPage, /badge warn">behind/u);
  t.regex(endpointPage, /<time datetime="[^"]+">[^<]+ JST<\/time>/u, 'times say their zone');
  const listing = await operator.text('/endpoints');
  t.regex(listing, /Firefox \(demo\) 130\.0/u);
  t.notRegex(listing, /<td>demo-firefox 130\.0/u);
  t.regex(listing, /最近確認あり/u);
});

test('an empty table says なし (None in English) instead of bare headings', async (t) => {
  const { layout } = await import('../../src/repository/pages/layout.ts');
  const empty = '<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>';
  t.regex(layout({ title: 'x', language: 'ja', path: '/', body: empty }), /<tbody><tr class="empty"><td colspan="99">なし<\/td><\/tr><\/tbody>/u);
  t.regex(layout({ title: 'x', language: 'en', path: '/', body: empty }), /<td colspan="99">none<\/td>/u);
  t.notRegex(layout({ title: 'x', language: 'ja', path: '/', body: '<table><tbody><tr><td>1</td></tr></tbody></table>' }), /class="empty"/u);
});
