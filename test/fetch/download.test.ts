import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { Downloader } from '../../src/fetch/download.ts';
import { createHttpClient, defaultHttpPolicy } from '../../src/fetch/http-client.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';

interface Origin {
  url: string;
  requests: { range?: string; userAgent?: string; path?: string }[];
  server: Server;
}

/** An origin that cuts the first response half-way and, optionally, ignores Range. */
async function origin(body: Buffer, behaviour: { cutFirst?: boolean; stallFirst?: boolean; ignoreRange?: boolean; failFirst?: number; gzip?: boolean }): Promise<Origin> {
  const requests: Origin['requests'] = [];
  let failures = behaviour.failFirst ?? 0;
  const server = createServer((request, response) => {
    requests.push({ range: request.headers.range, userAgent: request.headers['user-agent'], path: request.url });
    if (request.url === '/moved.bin') {
      response.writeHead(302, { location: '/file.bin' }).end();
      return;
    }
    if (request.url !== '/file.bin') {
      response.writeHead(404).end();
      return;
    }
    if (failures > 0) {
      failures -= 1;
      response.writeHead(503).end();
      return;
    }
    const range = /^bytes=(\d+)-$/u.exec(request.headers.range ?? '');
    if (range && !behaviour.ignoreRange) {
      const start = Number(range[1]);
      response.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      response.end(body.subarray(start));
      return;
    }
    response.writeHead(200, { 'content-length': body.length, ...(behaviour.gzip ? { 'content-encoding': 'gzip' } : {}) });
    if (behaviour.cutFirst && requests.length === 1) {
      response.write(body.subarray(0, body.length / 2), () => response.destroy());
      return;
    }
    if (behaviour.stallFirst && requests.length === 1) {
      // Half the body, then silence with the connection left open: only an idle timeout ends it.
      response.write(body.subarray(0, body.length / 2));
      return;
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`, requests, server };
}

async function downloaderIn(t: { teardown(fn: () => Promise<void>): void }, policy = defaultHttpPolicy) {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-download-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = new BlobStore(root);
  const downloader = new Downloader({ client: createHttpClient(policy), policy, store, logger: silentLogger, backoffMs: 5 });
  return { store, downloader };
}

// Larger than two 4 MiB write batches, so that a cut half-way leaves whole batches on disk to resume from.
const body = deterministicBytes('download-test', 11 * 1024 * 1024 + 17);
const expected = { sha256: createHash('sha256').update(body).digest('hex'), sha512: createHash('sha512').update(body).digest('hex') };

test('a connection cut half-way is resumed with Range and the hashes cover every byte exactly once', async (t) => {
  const server = await origin(body, { cutFirst: true });
  t.teardown(() => void server.server.close());
  const { downloader } = await downloaderIn(t);
  // SHA-512 asked for (as for a file in Mozilla's SHA512SUMS): the resumed request continues its state too.
  const result = await downloader.download({ url: server.url, label: 'file.bin', expectedSize: body.length, sha512: true });
  t.is(result.size, body.length);
  t.is(result.sha256, expected.sha256);
  t.is(result.sha512, expected.sha512);
  // Buffer.equals: AVA's deepEqual formats 11 MiB buffers for a diff and takes seconds.
  t.true(body.equals(await readFile(result.temporaryFile)), 'the file on disk is the vendor body, byte for byte');
  t.is(server.requests.length, 2);
  t.regex(server.requests[1]!.range ?? '', /^bytes=\d+-$/u);
  t.not(server.requests[1]!.range, 'bytes=0-');
});

test('an origin that ignores Range on resume is read again from the start, not appended twice', async (t) => {
  const server = await origin(body, { cutFirst: true, ignoreRange: true });
  t.teardown(() => void server.server.close());
  const { downloader } = await downloaderIn(t);
  const result = await downloader.download({ url: server.url, label: 'file.bin', expectedSize: body.length, sha512: true });
  t.is(result.sha256, expected.sha256);
  t.is(result.sha512, expected.sha512, 'the SHA-512 state restarted with the file');
  t.is((await readFile(result.temporaryFile)).length, body.length);
});

test('a redirect is followed, and every request carries the policy\'s User-Agent', async (t) => {
  const server = await origin(body, {});
  t.teardown(() => void server.server.close());
  const { downloader } = await downloaderIn(t);
  const result = await downloader.download({ url: server.url.replace('file.bin', 'moved.bin'), label: 'file.bin', expectedSize: body.length });
  t.is(result.sha256, expected.sha256);
  t.deepEqual(server.requests.map((request) => request.path), ['/moved.bin', '/file.bin']);
  t.true(server.requests.every((request) => request.userAgent === defaultHttpPolicy.userAgent));
});

test('a body that goes silent past the idle timeout is given up and resumed with Range, not waited for forever', async (t) => {
  const server = await origin(body, { stallFirst: true });
  t.teardown(() => {
    server.server.closeAllConnections();
    server.server.close();
  });
  // 1 s of silence ends an attempt; the origin answers the resumed request at once (a loaded CI machine may still cause one more resume, which is fine).
  const { downloader } = await downloaderIn(t, { ...defaultHttpPolicy, timeouts: { ...defaultHttpPolicy.timeouts, socket: 1000 } });
  const result = await downloader.download({ url: server.url, label: 'file.bin', expectedSize: body.length });
  t.is(result.sha256, expected.sha256);
  t.true(server.requests.length >= 2);
  t.regex(server.requests[1]!.range ?? '', /^bytes=\d+-$/u);
  t.not(server.requests[1]!.range, 'bytes=0-', 'resumed from the bytes already on disk');
});

test('a body that stays silent on every attempt fails with what happened, in the words of the timeout to raise', async (t) => {
  const server = await origin(body, { stallFirst: true });
  t.teardown(() => {
    server.server.closeAllConnections();
    server.server.close();
  });
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-download-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const policy = { ...defaultHttpPolicy, timeouts: { ...defaultHttpPolicy.timeouts, socket: 200 } };
  const downloader = new Downloader({ client: createHttpClient(policy), policy, store: new BlobStore(root), logger: silentLogger, attempts: 1 });
  const error = await t.throwsAsync(downloader.download({ url: server.url, label: 'file.bin', expectedSize: body.length }));
  t.regex(error!.message, /^GET http:\/\/127\.0\.0\.1:\d+\/file\.bin: the server stopped sending mid-file \(socket timeout\)/u);
  t.deepEqual(await readdir(path.join(root, 'tmp')), [], 'the partial file is removed');
});

test('temporary server errors are retried with backoff', async (t) => {
  const server = await origin(body, { failFirst: 2 });
  t.teardown(() => void server.server.close());
  const { downloader } = await downloaderIn(t);
  const result = await downloader.download({ url: server.url, label: 'file.bin' });
  t.is(result.sha256, expected.sha256);
  t.is(result.sha512, undefined, 'SHA-512 is computed only when asked for');
  t.is(server.requests.length, 3);
});

test('a body longer than the vendor metadata promised is cut off and refused', async (t) => {
  const server = await origin(body, {});
  t.teardown(() => void server.server.close());
  const { downloader, store } = await downloaderIn(t);
  const error = await t.throwsAsync(downloader.download({ url: server.url, label: 'file.bin', expectedSize: 1024 }));
  t.is((error as { code?: string }).code, 'E_SIZE_LIMIT');
  t.regex(error!.message, /more than the expected 1024 bytes/u);
  t.is(server.requests.length, 1, 'a size violation is not retried');
  t.deepEqual(await readdir(store.temporaryRoot), [], 'the partial file is removed');
});

test('a 404 fails at once with a message naming the URL and status', async (t) => {
  const { downloader } = await downloaderIn(t);
  const server = await origin(body, {});
  t.teardown(() => void server.server.close());
  const error = await t.throwsAsync(downloader.download({ url: server.url.replace('file.bin', 'missing'), label: 'x' }));
  t.regex(error!.message, /^GET http:\/\/127\.0\.0\.1:\d+\/missing: HTTP 404$/u);
  t.is(server.requests.length, 1, 'a 404 is not retried');
});

test('compressed transfer encodings are not decoded: the bytes hashed are the bytes the vendor sent', async (t) => {
  const server = await origin(body, { gzip: true });
  t.teardown(() => void server.server.close());
  const { downloader } = await downloaderIn(t);
  const result = await downloader.download({ url: server.url, label: 'file.bin' });
  t.is(result.sha256, expected.sha256);
});

test('a small document that never ends, or a whole file sent for a one-byte Range, is cut off at its limit, not read into memory', async (t) => {
  let closed = false;
  let sent = 0;
  const server = createServer((request, response) => {
    // Ignores Range and streams forever, 64 KiB at a time.
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = () => {
      while (response.write(chunk)) sent += chunk.length;
      sent += chunk.length;
    };
    response.on('drain', pump);
    response.on('close', () => (closed = true));
    pump();
    void request;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const { downloader } = await downloaderIn(t);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/current_version.txt`;
  const error = await t.throwsAsync(downloader.fetchBuffer(url, 1024 * 1024, { range: 'bytes=0-0' }));
  t.is((error as { code?: string }).code, 'E_SIZE_LIMIT');
  t.regex(error!.message, /current_version\.txt: larger than 1048576 bytes; stopped reading/u);
  for (let waited = 0; !closed && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(closed, 'the connection was closed');
  t.true(sent < 64 * 1024 * 1024, `stopped after ${sent} bytes`);
});
