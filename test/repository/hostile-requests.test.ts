import { request } from 'node:http';
import test from 'ava';
import { enrollAgent, signIn } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/** A raw request on its own connection, so nothing normalises the path or limits the headers before the server sees them. */
function raw(url: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ hostname, port, path, method, agent: false, headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

test('hostile requests get clear 4xx answers and change nothing', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  const published = structuredClone(lgwan.database.data.published);
  const endpointsBefore = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).length;

  for (const path of ['/pool/../state.json', '/pool/%2e%2e/%2e%2e/state.json', '/pool/%252e%252e/state.json', '/apt/debian/../../../etc/passwd', '/clamav/..%2fstate.json', '/blobs/sha256/..%2f..%2fstate.json', '/pool/demo-firefox/131.0/win64/ja/%00', '/pool/C:%5cWindows%5cwin.ini']) {
    const response = await raw(url, path);
    t.true(response.status === 404 || response.status === 400, `${path}: ${response.status}`);
    t.false(response.body.includes('"published"'), 'no state file content');
  }
  t.is((await raw(url, '/pool/%E0%A4%A')).status, 400, 'malformed percent-encoding');

  const huge = await raw(url, '/api/v1/status', { 'x-filler': 'a'.repeat(64 * 1024) });
  t.is(huge.status, 431, 'oversized headers are refused before any handler runs');

  const checkIn = (body: string) => raw(url, '/api/v1/agent/checkin', {}, 'POST', body);
  t.is((await checkIn('{"agentId":')).status, 400);
  t.is((await checkIn(JSON.stringify({ agentId: '../../x', os: 'windows', installed: [] }))).status, 400);
  t.is((await checkIn(JSON.stringify({ agentId: 'pc-1', os: 'windows', installed: [{ product: 'demo-firefox', version: '<script>' }] }))).status, 400);
  t.is((await checkIn(JSON.stringify({ agentId: 'pc-1', os: 'windows', installed: Array.from({ length: 501 }, () => ({ product: 'x', version: '1' })) }))).status, 400);
  t.is((await raw(url, '/api/v1/agent/checkin', { 'content-length': String(10 * 1024 * 1024), 'content-type': 'application/json' }, 'POST')).status, 413);
  // Issue 14: a well-formed check-in under an agent id, without that agent's signature, is refused too.
  t.is((await checkIn(JSON.stringify({ agentId: 'pc-1', os: 'windows', installed: [{ product: 'demo-firefox', version: '130.0' }] }))).status, 401);
  const update = await raw(url, '/mozilla/update/6/Firefox/%3Cscript%3E/1/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml');
  t.is(update.status, 400);
  t.regex(update.body, /is not a Firefox or Thunderbird version/u);
  t.is((await raw(url, '/winget/manifestSearch', {}, 'POST', '{oops')).status, 400);
  t.is((await raw(url, '/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar', {}, 'PUT', 'x')).status, 405, 'endpoint routes are read-only');
  // The status API is the console's: without a session any method is 401; signed in, DELETE is 405.
  t.is((await raw(url, '/api/v1/status', {}, 'DELETE')).status, 401);
  const operator = await signIn(lgwan.admin, url);
  t.is((await raw(url, '/api/v1/status', { cookie: operator.cookie }, 'DELETE')).status, 405);

  t.deepEqual(lgwan.database.data.published, published, 'the published state is unchanged');
  t.is((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).length, endpointsBefore, 'no inventory record from a refused request');
});

test('check-ins are rate-limited per agent with a Retry-After', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  const loop = await enrollAgent(lgwan.admin, url, { hostname: 'pc-loop' });
  const other = await enrollAgent(lgwan.admin, url, { hostname: 'pc-other' });
  const answers: Response[] = [];
  // Each check-in differs (agentVersion), so that none is refused as a replay of a signed one.
  for (let index = 0; index < 12; index += 1) answers.push(await loop.checkIn({ os: 'linux', agentVersion: `1.0.${index}`, installed: [] }));
  t.deepEqual(answers.slice(0, 10).map((answer) => answer.status), Array.from({ length: 10 }, () => 200));
  t.is(answers.at(-1)!.status, 429);
  t.regex(answers.at(-1)!.headers.get('retry-after') ?? '', /^\d+$/u);
  t.is((await other.checkIn({ os: 'linux', installed: [] })).status, 200, 'other agents are not affected');
});

// Issue 13, item 12: methods such as PROPFIND and TRACE answered 501; like other unsupported
// methods they get 405 with Allow.
// Console routes ('/', the status API) need a session for any method (issue 14); with one, they answer the same.
test('PROPFIND, TRACE and other methods the repository does not serve answer 405 with Allow', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  const operator = await signIn(lgwan.admin, url);
  for (const [path, headers] of [['/', { cookie: operator.cookie }], ['/api/v1/status', { cookie: operator.cookie }], ['/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar', {}], ['/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml', {}]] as const) {
    for (const method of ['PROPFIND', 'TRACE', 'MKCOL', 'PUT']) {
      const { hostname, port } = new URL(url);
      const answer = await new Promise<{ status: number; allow: string | undefined }>((resolve, reject) => {
        const outgoing = request({ hostname, port, path, method, agent: false, headers }, (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, allow: response.headers.allow }));
        });
        outgoing.on('error', reject);
        outgoing.end();
      });
      t.is(answer.status, 405, `${method} ${path}`);
      t.regex(answer.allow ?? '', /\bGET\b/u, `${method} ${path}: Allow names what is served`);
    }
  }
});

// Issue 13, item 10: 5,000 Firefox update checks with invented channels made one address hold
// 5,000 product records; with trustProxy on, a client that reached the repository directly set
// its own address with X-Forwarded-For.
test('update checks with invented channels or platforms add no inventory records, and one address holds a bounded number of records', async (t) => {
  const { url, lgwan } = await publishedRepository(t);
  for (let index = 0; index < 200; index += 1) {
    await raw(url, `/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/invented-${index}/x/y/z/w/update.xml`);
    await raw(url, `/mozilla/update/6/Firefox/130.0/20240101000000/Invented_${index}-gcc3/ja/release/x/y/z/w/update.xml`);
  }
  await raw(url, '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml');
  await lgwan.inventory.flush();
  const endpoints = await lgwan.inventory.listEndpoints({ offset: 0, limit: 100 });
  t.is(endpoints.length, 1);
  t.deepEqual(Object.keys(endpoints[0]!.products), ['demo-firefox/win64/release'], 'only the known channel and platform are recorded');
});

test('an endpoint record holds at most a bounded number of products, whatever it reports', async (t) => {
  const { applyObservation, maxProductsPerEndpoint } = await import('../../src/coverage/inventory.ts');
  const endpoints = {};
  for (let index = 0; index < 5000; index += 1) applyObservation(endpoints, { endpoint: { kind: 'agent', id: 'pc-1' }, source: 'agent', product: `product-${index}`, version: '1.0' }, new Date().toISOString());
  const record = Object.values(endpoints)[0] as { products: Record<string, unknown> };
  t.is(Object.keys(record.products).length, maxProductsPerEndpoint);
});

test('X-Forwarded-For is honoured only from a configured proxy address', async (t) => {
  const spoofed = await publishedRepository(t, { lgwan: { trustProxy: true, trustedProxies: ['192.0.2.1'] } });
  await raw(spoofed.url, '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml', { 'x-forwarded-for': '10.66.66.66' });
  await spoofed.lgwan.inventory.flush();
  t.deepEqual((await spoofed.lgwan.inventory.listEndpoints({ offset: 0, limit: 10 })).map((endpoint) => endpoint.id), ['127.0.0.1'], 'a client that reaches the repository directly cannot choose its address');

  const behindProxy = await publishedRepository(t, { lgwan: { trustProxy: true, trustedProxies: ['127.0.0.1', '::1'] } });
  // The client sent its own X-Forwarded-For; the proxy appended the address it saw.
  await raw(behindProxy.url, '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml', { 'x-forwarded-for': '10.66.66.66, 10.1.2.3' });
  await behindProxy.lgwan.inventory.flush();
  t.deepEqual((await behindProxy.lgwan.inventory.listEndpoints({ offset: 0, limit: 10 })).map((endpoint) => endpoint.id), ['10.1.2.3'], 'the address the trusted proxy saw, not what the client claimed');
});
