import test from 'ava';
import { publishedRepository } from '../helpers/published-repository.ts';

type Latest = { latest: { productId: string; version: string; artifacts: { fileName: string }[] }[] };

test('the listings are answered from memory with an ETag and 304, per filter, and change with the next publication', async (t) => {
  const { lgwan, url } = await publishedRepository(t);
  const first = await fetch(`${url}/api/v1/latest`);
  t.is(first.status, 200);
  t.is(first.headers.get('content-type'), 'application/json; charset=utf-8');
  const etag = first.headers.get('etag')!;
  t.regex(etag, /^"[A-Za-z0-9_-]{27}"$/u);
  const body = (await first.json()) as Latest;
  t.true(body.latest.some((entry) => entry.productId === 'demo-firefox'));

  const again = await fetch(`${url}/api/v1/latest`);
  t.is(again.headers.get('etag'), etag, 'the same bytes for the same publication');
  t.deepEqual(await again.json(), body);
  const unchanged = await fetch(`${url}/api/v1/latest`, { headers: { 'if-none-match': etag } });
  t.is(unchanged.status, 304);
  t.is((await unchanged.arrayBuffer()).byteLength, 0);

  // A filter is its own answer, with its own ETag.
  const filtered = await fetch(`${url}/api/v1/latest?product=demo-firefox&platform=win64&locale=ja`);
  const filteredBody = (await filtered.json()) as Latest;
  t.not(filtered.headers.get('etag'), etag);
  t.deepEqual([...new Set(filteredBody.latest.map((entry) => entry.productId))], ['demo-firefox']);
  t.deepEqual(await fetch(`${url}/api/v1/latest?product=nothing-like-it`).then((response) => response.json()), { latest: [] });

  const releases = await fetch(`${url}/api/v1/products/demo-firefox/releases`);
  const releasesEtag = releases.headers.get('etag')!;
  const releasesBody = (await releases.json()) as { product: string; releases: { version: string }[] };
  t.is(releasesBody.product, 'demo-firefox');
  t.is((await fetch(`${url}/api/v1/products/demo-firefox/releases`, { headers: { 'if-none-match': `"other", ${releasesEtag}` } })).status, 304);
  t.is((await fetch(`${url}/api/v1/products/nope/releases`)).status, 404);

  // More filter variants than are kept per publication: each still gets its own right answer.
  for (let index = 0; index < 300; index += 1) {
    const response = await fetch(`${url}/api/v1/latest?product=demo-firefox&locale=x${index}`);
    t.deepEqual(await response.json(), { latest: [] });
  }
  t.is((await fetch(`${url}/api/v1/latest`)).headers.get('etag'), etag, 'the unfiltered answer is still the kept one');

  // The importer replaces the published object when it publishes: the next answer follows it.
  const published = lgwan.database.data.published!;
  lgwan.database.data.published = { ...published, artifacts: published.artifacts.filter((artifact) => artifact.productId !== 'demo-firefox') };
  const next = await fetch(`${url}/api/v1/latest`, { headers: { 'if-none-match': etag } });
  t.is(next.status, 200, 'the old ETag no longer matches');
  t.not(next.headers.get('etag'), etag);
  t.false(((await next.json()) as Latest).latest.some((entry) => entry.productId === 'demo-firefox'));
  const nextReleases = await fetch(`${url}/api/v1/products/demo-firefox/releases`, { headers: { 'if-none-match': releasesEtag } });
  t.is(nextReleases.status, 200);
  t.deepEqual(((await nextReleases.json()) as { releases: unknown[] }).releases, []);
});
