import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { IntegrityError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createRepositoryApp, requestListener } from '../../src/repository/app.ts';
import { SmallBlobCache } from '../../src/repository/serve-file.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const blob = (text: string) => {
  const bytes = Buffer.from(text);
  return { bytes, digest: sha256(bytes) };
};

test('the small-blob cache is bounded in count and bytes, drops the least recently used first, and keeps no file over its entry limit', (t) => {
  const cache = new SmallBlobCache({ maxEntryBytes: 10, maxBytes: 20, maxEntries: 3 });
  const [a, b, c, d] = ['aaaaaaa', 'bbbbbbb', 'ccccccc', 'ddd'].map(blob);
  cache.fill(a!.digest, a!.bytes, 'a');
  cache.fill(b!.digest, b!.bytes, 'b');
  t.deepEqual(cache.size, { entries: 2, bytes: 14 });
  t.truthy(cache.get(a!.digest), 'a is now the most recently used');
  cache.fill(c!.digest, c!.bytes, 'c');
  // 21 bytes > 20: the least recently used (b) goes.
  t.deepEqual(cache.size, { entries: 2, bytes: 14 });
  t.is(cache.get(b!.digest), undefined);
  t.truthy(cache.get(a!.digest));
  cache.fill(d!.digest, d!.bytes, 'd');
  t.deepEqual(cache.size, { entries: 3, bytes: 17 });
  const big = blob('x'.repeat(11));
  cache.fill(big.digest, big.bytes, 'big');
  t.is(cache.get(big.digest), undefined, 'over maxEntryBytes: never kept');
  const many = new SmallBlobCache({ maxEntryBytes: 10, maxBytes: 1000, maxEntries: 3 });
  for (const text of ['1', '2', '3', '4', '5']) many.fill(blob(text).digest, blob(text).bytes, text);
  t.deepEqual(many.size, { entries: 3, bytes: 3 });
  t.truthy(many.get(blob('5').digest));
  t.is(many.get(blob('1').digest), undefined);
});

test('the small-blob cache refuses bytes that do not hash to their name, naming the file', (t) => {
  const cache = new SmallBlobCache();
  const error = t.throws(() => cache.fill(blob('right').digest, Buffer.from('wrong'), '/store/sha256/ab/abc'), { instanceOf: IntegrityError });
  t.regex(error!.message, /\/store\/sha256\/ab\/abc: the stored file does not match its name/u);
  t.deepEqual(cache.size, { entries: 0, bytes: 0 });
});

test('a small blob is served from memory with Range, HEAD and 304 as from disk, and a damaged file on disk is refused rather than sent', async (t) => {
  const { lgwan, url } = await publishedRepository(t, { mozilla: { fileSize: 64 * 1024 } });
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.fileName === 'firefox-131.0.complete.mar' && candidate.platform === 'win64' && candidate.locale === 'ja')!;
  t.true(artifact.size <= 256 * 1024, 'small enough for the default cache');
  const blobUrl = `${url}/blobs/sha256/${artifact.sha256}`;
  const whole = new Uint8Array(await (await fetch(blobUrl)).arrayBuffer());
  t.is(sha256(whole), artifact.sha256);

  // The file on disk is damaged after the first read: the cached answer is still the named bytes.
  const file = lgwan.store.pathOf(artifact.sha256);
  await chmod(file, 0o644);
  await writeFile(file, Buffer.alloc(artifact.size, 0x41));
  const again = await fetch(blobUrl);
  t.is(again.status, 200);
  t.is(sha256(new Uint8Array(await again.arrayBuffer())), artifact.sha256);
  const ranged = await fetch(blobUrl, { headers: { range: 'bytes=100-199' } });
  t.is(ranged.status, 206);
  t.is(ranged.headers.get('content-range'), `bytes 100-199/${artifact.size}`);
  t.deepEqual(new Uint8Array(await ranged.arrayBuffer()), whole.subarray(100, 200));
  const head = await fetch(blobUrl, { method: 'HEAD' });
  t.is(head.headers.get('content-length'), String(artifact.size));
  t.is((await head.arrayBuffer()).byteLength, 0);
  t.is((await fetch(blobUrl, { headers: { 'if-none-match': `"sha256-${artifact.sha256}"` } })).status, 304);
  t.is((await fetch(blobUrl, { headers: { range: `bytes=${artifact.size}-` } })).status, 416);

  // A repository that has not read it yet (a restart) refuses the damaged file instead of sending it.
  const fresh = createServer(requestListener(createRepositoryApp({ database: lgwan.database, store: lgwan.store, logger: silentLogger, console: { store: lgwan.admin, tenants: lgwan.tenants } })));
  await new Promise<void>((resolve) => fresh.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void fresh.close());
  const refused = await fetch(`http://127.0.0.1:${(fresh.address() as AddressInfo).port}/blobs/sha256/${artifact.sha256}`);
  t.is(refused.status, 500);
  t.false(new Uint8Array(await refused.arrayBuffer()).includes(0x41), 'none of the damaged bytes');
});

test('a large blob is streamed without leaking file handles when clients go away mid-download', async (t) => {
  const { lgwan, url } = await publishedRepository(t, { mozilla: { fileSize: 32 * 1024 * 1024 } });
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.fileName === 'firefox-131.0.complete.mar' && candidate.platform === 'win64' && candidate.locale === 'ja')!;
  const blobUrl = new URL(`${url}/blobs/sha256/${artifact.sha256}`);
  const whole = new Uint8Array(await (await fetch(blobUrl)).arrayBuffer());
  t.is(sha256(whole), artifact.sha256);
  const openFiles = () => readdirSync('/proc/self/fd').length;
  // A file handle left open is closed by the garbage collector with this warning: not good enough.
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const before = openFiles();
  for (let index = 0; index < 10; index += 1) {
    await new Promise<void>((resolve, reject) => {
      const client = request(blobUrl, { agent: false }, (response) => {
        response.once('data', () => {
          // One chunk in, then the client stops reading (the server is held mid-file by
          // backpressure) and hangs up.
          response.pause();
          setTimeout(() => {
            client.destroy();
            resolve();
          }, 50);
        });
      });
      client.once('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(error)));
      client.end();
    });
  }
  // The server notices each hang-up on its next write; give it a moment.
  let after = openFiles();
  for (let attempt = 0; attempt < 50 && after > before + 2; attempt += 1) {
    await sleep(100);
    after = openFiles();
  }
  t.true(after <= before + 2, `open descriptors: ${before} before, ${after} after 10 aborted downloads`);
  globalThis.gc?.();
  await sleep(200);
  t.deepEqual(warnings.filter((warning) => /garbage collection/u.test(warning)), []);
  const complete = await fetch(blobUrl, { headers: { range: 'bytes=5000000-5999999' } });
  t.is(complete.status, 206);
  t.deepEqual(new Uint8Array(await complete.arrayBuffer()), whole.subarray(5_000_000, 6_000_000));
});
