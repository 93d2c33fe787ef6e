import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { fixtures } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { freshclam } from '../helpers/real-clients.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');



test('the real freshclam updates bytecode.cvd from the repository, then finds it current with a 304', async (t) => {
  const { environment, lgwan, url, requests } = await publishedRepository(t);
  const first = await freshclam(environment.root, `${url}/clamav`);
  t.is(first.code, 0, first.output);
  t.regex(first.output, /bytecode\.cvd updated \(version: 268/u);
  const fixture = await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'));
  t.is(sha256(await readFile(path.join(first.database, 'bytecode.cvd'))), sha256(fixture));

  // What the real client asked: .cld first (404, so it takes the signed .cvd), a header probe, then the file.
  const clamav = requests.filter((request) => request.url.startsWith('/clamav/'));
  t.like(clamav[0], { url: '/clamav/bytecode.cld', status: 404 });
  t.true(clamav.some((request) => request.url === '/clamav/bytecode.cvd' && request.range === 'bytes=0-511' && request.status === 206));
  t.true(clamav.some((request) => request.url === '/clamav/bytecode.cvd' && request.range === undefined && request.status === 200));
  t.false(requests.some((request) => request.status === 403), 'never 403: freshclam would back off for a day');

  requests.length = 0;
  const second = await freshclam(environment.root, `${url}/clamav`);
  t.is(second.code, 0, second.output);
  t.regex(second.output, /bytecode\.cvd database is up-to-date \(version: 268/u);
  const probe = requests.find((request) => request.url === '/clamav/bytecode.cvd');
  t.truthy(probe?.ifModifiedSince, 'freshclam sent the build time of its copy');
  t.is(probe?.status, 304, 'If-Modified-Since is compared with the CVD header build time');
  t.false(requests.some((request) => request.url === '/clamav/bytecode.cvd' && request.status === 200), 'nothing downloaded again');

  // The User-Agent's persistent UUID identifies the endpoint.
  await lgwan.inventory.flush();
  const endpoint = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).find((candidate) => candidate.kind === 'freshclam-uuid');
  t.regex(endpoint?.id ?? '', /^[0-9a-f-]{36}$/u);
  t.like(endpoint?.products.clamav, { product: 'clamav', version: '1.4.6', source: 'freshclam' });
  t.like(endpoint?.products['demo-clamav-bytecode/bytecode'], { product: 'demo-clamav-bytecode', version: '268' }, 'the database version it holds, for coverage');
});

test('the real freshclam also updates through DatabaseMirror with DNS off', async (t) => {
  const { environment, url, requests } = await publishedRepository(t);
  const result = await freshclam(environment.root, `${url}/clamav`, 'DatabaseMirror');
  t.is(result.code, 0, result.output);
  t.regex(result.output, /bytecode\.cvd updated \(version: 268/u);
  t.false(requests.some((request) => request.url.endsWith('.cld') && request.status === 200));
  t.is(sha256(await readFile(path.join(result.database, 'bytecode.cvd'))), sha256(await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'))));
});

test('a tampered CVD forced onto the repository is refused by the real freshclam too', async (t) => {
  const { environment, lgwan, url } = await publishedRepository(t);
  // Simulate an operator bypassing the importer: the importer itself refuses this (see importer-refusals).
  const original = await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'));
  const tampered = Buffer.from(original);
  tampered[tampered.length - 100]! ^= 0xff;
  const digest = sha256(tampered);
  await mkdir(path.dirname(lgwan.store.pathOf(digest)), { recursive: true });
  await writeFile(lgwan.store.pathOf(digest), tampered);
  const published = lgwan.database.data.published!;
  lgwan.database.data.published = {
    ...published,
    artifacts: published.artifacts.map((artifact) => (artifact.path === 'clamav/bytecode.cvd' ? { ...artifact, sha256: digest } : artifact)),
  };
  t.is(sha256(Buffer.from(await (await fetch(`${url}/clamav/bytecode.cvd`)).arrayBuffer())), digest, 'the repository now serves the tampered file');

  const result = await freshclam(environment.root, `${url}/clamav`);
  t.not(result.code, 0, result.output);
  t.regex(result.output, /(MD5|signature|verification|Verification)/u);
  t.false((await readdir(result.database)).includes('bytecode.cvd'), 'no database was installed');
});
