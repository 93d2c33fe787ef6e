import { request } from 'node:http';
import test from 'ava';
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
  const update = await raw(url, '/mozilla/update/6/Firefox/%3Cscript%3E/1/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml');
  t.is(update.status, 400);
  t.regex(update.body, /is not a Firefox or Thunderbird version/u);
  t.is((await raw(url, '/winget/manifestSearch', {}, 'POST', '{oops')).status, 400);
  t.is((await raw(url, '/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar', {}, 'PUT', 'x')).status, 405, 'endpoint routes are read-only');
  t.is((await raw(url, '/api/v1/status', {}, 'DELETE')).status, 405);

  t.deepEqual(lgwan.database.data.published, published, 'the published state is unchanged');
  t.is((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).length, endpointsBefore, 'no inventory record from a refused request');
});

test('check-ins are rate-limited per agent with a Retry-After', async (t) => {
  const { url } = await publishedRepository(t);
  const body = JSON.stringify({ agentId: 'pc-loop', os: 'linux', installed: [] });
  const statuses: number[] = [];
  for (let index = 0; index < 12; index += 1) statuses.push((await raw(url, '/api/v1/agent/checkin', {}, 'POST', body)).status);
  t.deepEqual(statuses.slice(0, 10), Array.from({ length: 10 }, () => 200));
  t.is(statuses.at(-1), 429);
  const other = await raw(url, '/api/v1/agent/checkin', {}, 'POST', JSON.stringify({ agentId: 'pc-other', os: 'linux', installed: [] }));
  t.is(other.status, 200, 'other agents are not affected');
});
