import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FilePump } from '../../src/repository/file-pump.ts';

const kib = 1024;

async function fixture(t: { teardown(fn: () => unknown): void }, size: number) {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-file-pump-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const file = path.join(root, 'blob');
  const bytes = randomBytes(size);
  await writeFile(file, bytes);
  return { file, bytes };
}

/** A server sending ?start..?end of the file through the pump, as serve-file.ts does after its headers. */
async function serve(t: { teardown(fn: () => unknown): void }, pump: FilePump, file: string): Promise<string> {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const start = Number(url.searchParams.get('start'));
    const end = Number(url.searchParams.get('end'));
    res.setHeader('Content-Length', end - start + 1);
    pump.send(await open(file, 'r'), start, end, res, file);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => request(url, resolve).once('error', reject).end());
}

async function body(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** How many descriptors of this process have the file open. */
const openCount = (file: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;

const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

test('every range of a file arrives whole and exact, whatever the read size', async (t) => {
  const { file, bytes } = await fixture(t, 3 * 1024 * kib + 17);
  const pump = new FilePump({ budgetBytes: 256 * kib, maxReadBytes: 128 * kib, minReadBytes: 16 * kib });
  const url = await serve(t, pump, file);
  const ranges = [[0, bytes.length - 1], [0, 0], [bytes.length - 1, bytes.length - 1], [5, 128 * kib], [128 * kib - 1, 128 * kib + 1], [1_000_000, 2_500_123]];
  for (const [start, end] of ranges) {
    const received = await body(await get(`${url}/?start=${start}&end=${end}`));
    t.is(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(bytes.subarray(start, end! + 1)).digest('hex'), `${start}-${end}`);
  }
  await until(() => pump.active === 0);
});

test('the read size is the budget shared among the downloads running, within its bounds', async (t) => {
  const { file, bytes } = await fixture(t, 8 * 1024 * kib);
  const pump = new FilePump({ budgetBytes: 1024 * kib, maxReadBytes: 512 * kib, minReadBytes: 64 * kib });
  t.is(pump.readSize(), 512 * kib, 'alone: the largest read');
  const url = await serve(t, pump, file);
  // Clients that do not read yet: their downloads stay running, waiting for the socket to drain.
  const responses = await Promise.all(Array.from({ length: 8 }, () => get(`${url}/?start=0&end=${bytes.length - 1}`)));
  for (const response of responses) response.pause();
  await until(() => pump.active === 8);
  t.is(pump.readSize(), 128 * kib, '8 downloads share 1 MiB');
  const many = await Promise.all(Array.from({ length: 24 }, () => get(`${url}/?start=0&end=${bytes.length - 1}`)));
  for (const response of many) response.pause();
  await until(() => pump.active === 32);
  t.is(pump.readSize(), 64 * kib, 'never below the smallest read');
  const digests = await Promise.all([...responses, ...many].map(async (response) => createHash('sha256').update(await body(response)).digest('hex')));
  t.true(digests.every((digest) => digest === createHash('sha256').update(bytes).digest('hex')));
  await until(() => pump.active === 0);
  t.is(pump.readSize(), 512 * kib);
  t.is(openCount(file), 0, 'every download closed its file');
  t.true(pump.pooledBytes > 0 && pump.pooledBytes <= 1024 * kib, `buffers kept for reuse, within the budget: ${pump.pooledBytes}`);
});

test("buffers used again by other downloads never carry one download's bytes into another", async (t) => {
  // Larger than the kernel's socket buffers on loopback: writes are left queued in the process, holding their buffer.
  const first = await fixture(t, 16 * 1024 * kib + 5);
  const second = await fixture(t, 24 * 1024 * kib + 11);
  const pump = new FilePump({ budgetBytes: 256 * kib, maxReadBytes: 64 * kib, minReadBytes: 16 * kib });
  const urls = [await serve(t, pump, first.file), await serve(t, pump, second.file)];
  const expected = [first.bytes, second.bytes].map((bytes) => createHash('sha256').update(bytes).digest('hex'));
  for (let round = 0; round < 3; round += 1) {
    const downloads = Array.from({ length: 12 }, async (_, index) => {
      const which = index % 2;
      const size = which === 0 ? first.bytes.length : second.bytes.length;
      const response = await get(`${urls[which]}/?start=0&end=${size - 1}`);
      // Readers at different speeds, so that buffers come back in a different order than taken.
      if (index % 3 === 0) {
        response.pause();
        setTimeout(() => response.resume(), 200);
      }
      return { which, digest: createHash('sha256').update(await body(response)).digest('hex') };
    });
    for (const { which, digest } of await Promise.all(downloads)) t.is(digest, expected[which]!);
  }
  t.true(pump.pooledBytes > 0);
});

test('a client that goes away stops the reads and closes the file', async (t) => {
  const { file, bytes } = await fixture(t, 16 * 1024 * kib);
  const pump = new FilePump();
  const url = await serve(t, pump, file);
  const response = await get(`${url}/?start=0&end=${bytes.length - 1}`);
  response.pause();
  await until(() => pump.active === 1);
  t.is(openCount(file), 1);
  response.destroy();
  await until(() => pump.active === 0);
  t.is(openCount(file), 0);
});

test('a file shorter than promised cuts the connection instead of ending the body early', async (t) => {
  const { file } = await fixture(t, 4 * 1024 * kib);
  const pump = new FilePump({ maxReadBytes: 64 * kib });
  const url = await serve(t, pump, file);
  const response = await get(`${url}/?start=0&end=${4 * 1024 * kib - 1}`);
  response.pause();
  await until(() => pump.active === 1);
  await truncate(file, 256 * kib);
  response.resume();
  const outcome = await body(response).then(
    (received) => ({ length: received.length }),
    (error: Error) => ({ error: error.message }),
  );
  t.true('error' in outcome || outcome.length < 4 * 1024 * kib, JSON.stringify(outcome));
  t.true('error' in outcome, 'the client sees a broken connection, not a complete answer');
  await until(() => pump.active === 0);
  t.is(openCount(file), 0);
});

test('a buffer goes back to the pool only once the socket has taken its bytes', async (t) => {
  // Sockets that hold each chunk for a while before taking it, as a socket whose kernel buffer
  // is full does: the bytes are read when the hold ends. A buffer reused before then would
  // have been overwritten by another download's read.
  const first = await fixture(t, 1024 * kib + 3);
  const second = await fixture(t, 1536 * kib + 7);
  const pump = new FilePump({ budgetBytes: 128 * kib, maxReadBytes: 32 * kib, minReadBytes: 16 * kib });
  const slowSocket = (holdMs: number) => {
    const digest = createHash('sha256');
    const socket = new Writable({
      highWaterMark: 16 * kib,
      write(chunk: Buffer, _encoding, done) {
        setTimeout(() => {
          digest.update(chunk);
          done();
        }, holdMs);
      },
    });
    const finished = new Promise<string>((resolve, reject) => socket.once('finish', () => resolve(digest.digest('hex'))).once('error', reject));
    return { socket, finished };
  };
  const downloads = [first, second, first, second].map(async ({ file, bytes }, index) => {
    const { socket, finished } = slowSocket(index % 2 === 0 ? 1 : 4);
    pump.send(await open(file, 'r'), 0, bytes.length - 1, socket as never, file);
    t.is(await finished, createHash('sha256').update(bytes).digest('hex'));
  });
  await Promise.all(downloads);
  await until(() => pump.active === 0);
});
