import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { signIn } from '../helpers/console.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function servingRepository(t: ExecutionContext) {
  const { lgwan, url } = await publishedRepository(t, { mozilla: { fileSize: 1024 * 1024 } });
  const operator = await signIn(lgwan.admin, url);
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.fileName === 'firefox-131.0.complete.mar' && candidate.platform === 'win64' && candidate.locale === 'ja')!;
  const whole = new Uint8Array(await (await fetch(`${url}/blobs/sha256/${artifact.sha256}`)).arrayBuffer());
  return { url, operator, artifact, whole, blobUrl: `${url}/blobs/sha256/${artifact.sha256}`, poolUrl: `${url}/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar` };
}

test('a blob is served by digest and by vendor path with exact length, strong ETag and immutable caching', async (t) => {
  const { artifact, whole, blobUrl, poolUrl } = await servingRepository(t);
  t.is(sha256(whole), artifact.sha256);
  for (const url of [blobUrl, poolUrl]) {
    const response = await fetch(url);
    t.is(response.status, 200);
    t.is(response.headers.get('content-length'), String(artifact.size));
    t.is(response.headers.get('etag'), `"sha256-${artifact.sha256}"`);
    t.is(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    t.is(response.headers.get('accept-ranges'), 'bytes');
    t.is(response.headers.get('content-type'), 'application/octet-stream');
    t.truthy(response.headers.get('last-modified'));
    await response.arrayBuffer();
  }
});

test('Range requests return 206 with the exact slice, suffix ranges work, and an unsatisfiable range is 416', async (t) => {
  const { whole, blobUrl, artifact } = await servingRepository(t);
  const middle = await fetch(blobUrl, { headers: { range: 'bytes=1000-299999' } });
  t.is(middle.status, 206);
  t.is(middle.headers.get('content-range'), `bytes 1000-299999/${artifact.size}`);
  t.is(middle.headers.get('content-length'), '299000');
  t.deepEqual(new Uint8Array(await middle.arrayBuffer()), whole.subarray(1000, 300000));

  const open = await fetch(blobUrl, { headers: { range: `bytes=${artifact.size - 10}-` } });
  t.is(open.status, 206);
  t.deepEqual(new Uint8Array(await open.arrayBuffer()), whole.subarray(artifact.size - 10));

  const suffix = await fetch(blobUrl, { headers: { range: 'bytes=-512' } });
  t.is(suffix.status, 206);
  t.deepEqual(new Uint8Array(await suffix.arrayBuffer()), whole.subarray(artifact.size - 512));

  const beyond = await fetch(blobUrl, { headers: { range: `bytes=${artifact.size}-` } });
  t.is(beyond.status, 416);
  t.is(beyond.headers.get('content-range'), `bytes */${artifact.size}`);

  // Multi-range is not required: the whole file is a valid answer.
  const multi = await fetch(blobUrl, { headers: { range: 'bytes=0-1,5-6' } });
  t.is(multi.status, 200);
  t.is((await multi.arrayBuffer()).byteLength, artifact.size);
});

test('HEAD answers the headers of GET without a body', async (t) => {
  const { blobUrl, artifact } = await servingRepository(t);
  const head = await fetch(blobUrl, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(artifact.size));
  t.is((await head.arrayBuffer()).byteLength, 0);
  const ranged = await fetch(blobUrl, { method: 'HEAD', headers: { range: 'bytes=0-511' } });
  t.is(ranged.status, 206);
  t.is(ranged.headers.get('content-length'), '512');
});

test('conditional requests answer 304 for a matching ETag or an unchanged modification time, 200 otherwise', async (t) => {
  const { blobUrl, artifact } = await servingRepository(t);
  const first = await fetch(blobUrl, { method: 'HEAD' });
  const etag = first.headers.get('etag')!;
  const lastModified = first.headers.get('last-modified')!;
  t.is((await fetch(blobUrl, { headers: { 'if-none-match': etag } })).status, 304);
  t.is((await fetch(blobUrl, { headers: { 'if-none-match': '"sha256-other", ' + etag } })).status, 304);
  t.is((await fetch(blobUrl, { headers: { 'if-modified-since': lastModified } })).status, 304);
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const changed = await fetch(blobUrl, { headers: { 'if-modified-since': older } });
  t.is(changed.status, 200);
  t.is((await changed.arrayBuffer()).byteLength, artifact.size);
  t.is((await fetch(blobUrl, { headers: { 'if-none-match': '"sha256-other"', 'if-modified-since': lastModified } })).status, 200, 'If-None-Match wins over If-Modified-Since');
  const stale = await fetch(blobUrl, { headers: { range: 'bytes=0-9', 'if-range': '"sha256-other"' } });
  t.is(stale.status, 200, 'If-Range with another validator sends the whole file');
  await stale.arrayBuffer();
});

test('paths outside the published state are 404, never a file from disk', async (t) => {
  const { url, operator } = await servingRepository(t);
  for (const path of [
    '/blobs/sha256/' + '0'.repeat(64),
    '/blobs/sha256/../../state.json',
    '/pool/demo-firefox/131.0/win64/ja/..%2F..%2F..%2Fstate.json',
    '/pool/%2e%2e/%2e%2e/state.json',
    '/clamav/bytecode.cld',
    '/clamav/daily.cvd',
    '/apt/debian/dists/bookworm-updates/Release',
  ]) {
    // fetch normalises '..', so some of these arrive as /state.json: a console path, which
    // needs a session (issue 14). Signed in, every one is 404; without a session, none is a file.
    const response = await operator.fetch(path);
    t.is(response.status, 404, path);
    const anonymous = await fetch(`${url}${path}`, { redirect: 'manual' });
    const body = await anonymous.text();
    t.true(anonymous.status === 404 || (anonymous.status === 303 && anonymous.headers.get('location')!.startsWith('/sign-in?')), `${path} without a session: ${anonymous.status}`);
    t.false(body.includes('"published"') || body.includes('"firstPublished"'), `${path}: no state file content`);
  }
  t.is((await fetch(`${url}/pool/%E0%A4%A`)).status, 400, 'malformed percent-encoding');
  t.is((await fetch(`${url}/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar`, { method: 'DELETE' })).status, 405);
});

test('the JSON API lists products, releases and the latest release per product, platform and locale', async (t) => {
  const { url, operator } = await servingRepository(t);
  // The product list is the console's (issue 14); the latest releases and a product's releases stay open to endpoints.
  t.is((await fetch(`${url}/api/v1/products`)).status, 401);
  const products = (await (await operator.fetch('/api/v1/products')).json()) as { products: { id: string; trust: string; latestPublished: { version: string } }[] };
  t.deepEqual(products.products.map((product) => [product.id, product.trust, product.latestPublished.version]), [
    ['demo-clamav-bytecode', 'vendor-signature', '268'],
    ['demo-debian-bookworm-updates', 'vendor-signature', '20261120.021110'],
    ['demo-firefox', 'signed-hash-list', '131.0'],
  ]);
  const filtered = (await (await fetch(`${url}/api/v1/latest?product=demo-firefox&platform=linux-x86_64&locale=ja`)).json()) as { latest: { version: string; artifacts: { fileName: string }[] }[] };
  t.is(filtered.latest.length, 1);
  t.deepEqual(filtered.latest[0]!.artifacts.map((artifact) => artifact.fileName).sort(), ['firefox-131.0.complete.mar', 'firefox-131.0.tar.xz']);
  t.is((await fetch(`${url}/api/v1/products/nope/releases`)).status, 404);
  const openapi = (await (await fetch(`${url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  t.is(openapi.openapi, '3.1.0');
  t.truthy(openapi.paths['/api/v1/latest']);
});
