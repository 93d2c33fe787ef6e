import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { InventoryObservation, InventoryStore } from '../../src/coverage/inventory.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createRepositoryApp, hotPathCounts, requestListener, type RepositoryOptions } from '../../src/repository/app.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Issue 18: update checks, listings and small blobs are answered by a hot path outside Koa.
 * It must answer exactly as the Koa app does. Two repositories over the same published state,
 * one with the hot path and one without, are asked the same questions in the same order; every
 * answer (status, headers but the connection's own, body) and every inventory record must be
 * the same, and the questions the hot path is for must have been answered by it.
 */

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function ask(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // One Host for both repositories: update answers carry the URL the client used.
    const client = httpRequest(`${base}${path}`, { method: options.method ?? 'GET', headers: { host: 'mirror.lg.test', ...options.headers }, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: comparable(response.headers), body: Buffer.concat(chunks).toString('latin1') }));
      response.on('error', reject);
    });
    client.on('error', reject);
    client.end();
  });
}

/** Every header but those of the connection and the clock. */
function comparable(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name)) kept[name] = String(value);
  return kept;
}

const tenants = [
  { id: 'a', name: 'A市', networks: ['10.0.0.0/8'], rings: [{ id: 'pilot', networks: ['10.1.0.0/16'] }, { id: 'general' }], policies: { 'demo-firefox': { general: 'approval' } } },
  { id: 'b', name: 'B町', networks: ['172.16.0.0/12'], products: ['demo-firefox'] },
];

async function twoRepositories(t: ExecutionContext, overrides: Partial<RepositoryOptions> = {}) {
  const published = await publishedRepository(t, { lgwan: { tenants }, mozilla: { fileSize: 64 * 1024 } });
  const { lgwan } = published;
  const start = async (hot: boolean) => {
    const records: InventoryObservation[] = [];
    // Only what protocol routes call: record, and health for nothing here.
    const inventory = { backend: 'lowdb', record: (observation: InventoryObservation) => void records.push(structuredClone(observation)), health: () => ({ backend: 'lowdb', pending: 0, lastWriteAt: null, lastError: null }) } as unknown as InventoryStore;
    const decisionListeners: ((tenant: string) => void)[] = [];
    const app = createRepositoryApp({
      database: lgwan.database, store: lgwan.store, logger: silentLogger, console: { store: lgwan.admin, tenants: lgwan.tenants }, inventory,
      trustProxy: true, accelRedirectPrefix: '/internal-blobs/', onDecisionsChanged: (listener) => decisionListeners.push(listener), ...overrides,
    });
    const server = createServer(requestListener(app, { hot }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => void server.close());
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, records, counts: hotPathCounts(app)!, decided: (tenant: string) => decisionListeners.forEach((listener) => listener(tenant)) };
  };
  return { lgwan, hot: await start(true), koa: await start(false) };
}

const update = (version: string, extra = '') => `/mozilla/update/6/Firefox/${version}/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0.0.0/ISET:SSE4_2/default/default/update.xml${extra}`;

test('the hot path answers update checks, listings and small blobs exactly as the Koa app does, and leaves the rest to it', async (t) => {
  const { lgwan, hot, koa } = await twoRepositories(t);
  const state = lgwan.database.data;
  const mar = state.published!.artifacts.find((artifact) => artifact.fileName === 'firefox-131.0.complete.mar' && artifact.platform === 'win64' && artifact.locale === 'ja')!;
  const blob = `/blobs/sha256/${mar.sha256}`;
  const pool = `/${mar.path}`;
  const lastModified = new Date(state.firstPublished[mar.productId]![mar.version]!);
  const pilot = { 'x-forwarded-for': '10.1.2.3' };
  const general = { 'x-forwarded-for': '10.9.2.3' };

  // Each question: what it is, and whether the hot path is to answer it (once what it needs is in memory).
  const questions: [name: string, path: string, options: { method?: string; headers?: Record<string, string> }, hotAnswers: boolean][] = [
    ['update, pilot (offered)', update('130.0'), { headers: pilot }, true],
    ['update, general (needs approval)', update('130.0'), { headers: general }, true],
    ['update, current client', update('131.0'), { headers: pilot }, true],
    ['update, HEAD', update('130.0'), { method: 'HEAD', headers: pilot }, true],
    ['update, pin', update('130.0', '?pin=130.'), { headers: pilot }, true],
    ['update, two pins (not a pin)', update('130.0', '?pin=131.&pin=130.'), { headers: pilot }, true],
    ['update, edge cache host and scheme', update('130.0'), { headers: { ...pilot, 'x-forwarded-host': 'mirror.example.lg.jp, other', 'x-forwarded-proto': 'HTTPS' } }, true],
    ['update, tenant prefix', `/t/b${update('130.0')}`, {}, true],
    ['update, no tenant claims the address', update('130.0'), { headers: { 'x-forwarded-for': '192.0.2.1' } }, true],
    ['update, unknown tenant prefix', `/t/zzz${update('130.0')}`, {}, false],
    ['update, malformed percent-encoding', update('130.0').replace('%2010', '%E0%A4%A'), { headers: pilot }, false],
    ['update, not a version', update('banana'), { headers: pilot }, false],
    ['update, not an update check', '/mozilla/update/6/Firefox/130.0/update.xml', { headers: pilot }, false],
    ['update, POST', update('130.0'), { method: 'POST', headers: pilot }, false],
    ['update, host with userinfo', update('130.0'), { headers: { ...pilot, host: 'user@mirror.example.lg.jp' } }, false],
    ['latest', '/api/v1/latest', {}, true],
    ['latest, filtered', '/api/v1/latest?product=demo-firefox&platform=win64&locale=ja', {}, true],
    ['latest, repeated filter', '/api/v1/latest?product=demo-firefox&product=other', {}, true],
    ['latest, tenant prefix (catalog subset)', '/t/b/api/v1/latest', {}, true],
    ['latest, HEAD', '/api/v1/latest', { method: 'HEAD' }, true],
    ['latest, other case (the router is case-insensitive)', '/API/V1/LATEST', {}, false],
    ['latest, trailing slash', '/api/v1/latest/', {}, false],
    ['releases', '/api/v1/products/demo-firefox/releases', {}, true],
    ['releases, unknown product', '/api/v1/products/nothing/releases', {}, false],
    ['blob', blob, {}, true],
    ['blob, HEAD', blob, { method: 'HEAD' }, true],
    ['blob, If-None-Match', blob, { headers: { 'if-none-match': `W/"x", "sha256-${mar.sha256}"` } }, true],
    ['blob, If-Modified-Since later', blob, { headers: { 'if-modified-since': new Date(lastModified.getTime() + 1000).toUTCString() } }, true],
    ['blob, If-Modified-Since earlier', blob, { headers: { 'if-modified-since': new Date(lastModified.getTime() - 1000).toUTCString() } }, true],
    ['blob, through the nginx front', blob, { headers: { 'x-lgwan-mirror-front': 'sendfile' } }, true],
    ['blob, Range', blob, { headers: { range: 'bytes=10-19' } }, false],
    ['blob, not published', `/blobs/sha256/${'0'.repeat(64)}`, {}, false],
    ['blob, tenant b (offered)', `/t/b${blob}`, {}, true],
    ['pool', pool, {}, true],
    ['pool, not published', '/pool/nothing/1.0/file.mar', {}, false],
    ['pool, percent-encoded', pool.replace('firefox-131.0', 'firefox%2D131.0'), {}, false],
  ];

  // Ask everything once so that each side has read the decisions and filled its caches, then
  // again: the second round is where the hot path answers.
  for (const round of [1, 2]) {
    for (const [name, path, options, hotAnswers] of questions) {
      const before = hot.counts.answered;
      const ours = await ask(hot.url, path, options);
      const theirs = await ask(koa.url, path, options);
      t.deepEqual(ours, theirs, `${name} (round ${round}): the same answer`);
      if (round === 2) t.is(hot.counts.answered - before, hotAnswers ? 1 : 0, `${name}: ${hotAnswers ? 'answered by the hot path' : 'left to the app'}`);
    }
  }
  t.deepEqual(hot.records, koa.records, 'the same inventory records, in the same order');
  t.true(hot.records.some((record) => record.tenant === 'a' && record.ring === 'pilot' && record.version === '130.0'));
  t.true(hot.records.some((record) => record.tenant === 'b'));

  // The answers themselves are right, not only alike.
  t.regex((await ask(hot.url, update('130.0'), { headers: pilot })).body, /displayVersion="131\.0"/u, 'pilot is offered 131.0');
  t.notRegex((await ask(hot.url, update('130.0'), { headers: general })).body, /<update /u, 'general waits for approval');
  t.regex((await ask(hot.url, update('130.0'), { headers: { ...pilot, 'x-forwarded-host': 'mirror.example.lg.jp', 'x-forwarded-proto': 'https' } })).body, /URL="https:\/\/mirror\.example\.lg\.jp\/pool\//u);
  const accel = await ask(hot.url, blob, { headers: { 'x-lgwan-mirror-front': 'sendfile' } });
  t.is(accel.headers['x-accel-redirect'], `/internal-blobs/sha256/${mar.sha256.slice(0, 2)}/${mar.sha256}`);
  const head = await ask(hot.url, blob, { method: 'HEAD' });
  t.is(head.headers['content-length'], String(mar.size));
  t.is(head.body, '');
  t.is(head.headers['content-security-policy'], (await ask(koa.url, '/sign-in', {})).headers['content-security-policy']);
});

test('a decision and a new publication count on the hot path at the next request', async (t) => {
  const { lgwan, hot, koa } = await twoRepositories(t);
  const general = { 'x-forwarded-for': '10.9.2.3' };
  const offered = async (url: string) => /displayVersion="([^"]+)"/u.exec((await ask(url, update('130.0'), { headers: general })).body)?.[1];
  for (const side of [hot, koa]) t.is(await offered(side.url), undefined, 'general: not approved yet');
  t.is(await offered(hot.url), undefined);
  const before = hot.counts.answered;
  await lgwan.admin.putDecision({ tenant: 'a', kind: 'approve', product: 'demo-firefox', version: '131.0', ring: 'general', at: new Date().toISOString(), by: 'test' });
  // As when another worker or replica tells this one that tenant a decided.
  hot.decided('a');
  koa.decided('a');
  t.is(await offered(hot.url), '131.0', 'approved: offered at the next request');
  t.is(await offered(koa.url), '131.0');
  t.is(await offered(hot.url), '131.0');
  t.true(hot.counts.answered > before, 'and the hot path answers it again once the decisions are read');

  const latestBefore = await ask(hot.url, '/api/v1/latest', {});
  const state = lgwan.database.data;
  // An import switches the published object: here a publication without 131.0.
  state.published = { ...state.published!, artifacts: state.published!.artifacts.filter((artifact) => artifact.version !== '131.0') };
  t.is(await offered(hot.url), undefined, 'the new publication holds no 131.0');
  const latestAfter = await ask(hot.url, '/api/v1/latest', {});
  t.not(latestAfter.headers.etag, latestBefore.headers.etag);
  t.false(latestAfter.body.includes('"131.0"'));
  t.deepEqual(latestAfter, await ask(koa.url, '/api/v1/latest', {}));
});

test('without trustProxy the hot path ignores forwarding headers as the app does', async (t) => {
  const { hot, koa } = await twoRepositories(t, { trustProxy: false });
  const headers = { 'x-forwarded-for': '10.1.2.3', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
  for (const round of [1, 2]) {
    const ours = await ask(hot.url, update('130.0'), { headers });
    t.deepEqual(ours, await ask(koa.url, update('130.0'), { headers }), `round ${round}`);
    t.false(ours.body.includes('evil.example'));
  }
  t.deepEqual(hot.records, koa.records);
  t.true(hot.records.every((record) => record.endpoint.id === '127.0.0.1'), 'recorded under the peer, not the header');
});
