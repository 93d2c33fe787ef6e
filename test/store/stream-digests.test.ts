import { createHash } from 'node:crypto';
import test from 'ava';
import { InlineDigests, ThreadDigests, maxQueuedBytes } from '../../src/store/stream-digests.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';

const reference = (data: Buffer, withSha512: boolean) => {
  const sha256 = createHash('sha256').update(data).digest('hex');
  return withSha512 ? { sha256, sha512: createHash('sha512').update(data).digest('hex') } : { sha256 };
};

test('the hashing thread gives the same digests as hashing inline, mid-stream and at the end, for many streams at once, SHA-512 only where asked', async (t) => {
  const streams = Array.from({ length: 6 }, (_, index) => {
    const withSha512 = index % 2 === 0;
    return { withSha512, data: deterministicBytes(`stream-${index}`, 3 * 1024 * 1024 + index * 4099), digests: new ThreadDigests(withSha512), inline: new InlineDigests(withSha512) };
  });
  // Interleaved pieces of odd sizes, as sockets deliver them.
  for (let offset = 0; offset < 4 * 1024 * 1024; offset += 65_537) {
    for (const stream of streams) {
      const piece = stream.data.subarray(offset, offset + 65_537);
      if (piece.length === 0) continue;
      stream.digests.update([piece.subarray(0, 1000), piece.subarray(1000)]);
      stream.inline.update([piece]);
    }
    if (offset === 65_537 * 10) {
      // Reading the digests does not end the stream: a resumed download continues the same state.
      t.deepEqual(await streams[0]!.digests.digests(), reference(streams[0]!.data.subarray(0, 65_537 * 11), true));
      t.deepEqual(await streams[1]!.digests.digests(), reference(streams[1]!.data.subarray(0, 65_537 * 11), false));
    }
  }
  for (const stream of streams) {
    t.deepEqual(await stream.digests.digests(), reference(stream.data, stream.withSha512));
    t.deepEqual(await stream.digests.digests(), await stream.inline.digests());
    stream.digests.dispose();
  }
  const empty = new ThreadDigests(true);
  t.deepEqual(await empty.digests(), reference(Buffer.alloc(0), true));
  empty.dispose();
});

test.serial('a writer faster than the hashing thread waits once 32 MiB are queued, so a file is never queued in memory whole', async (t) => {
  // Serial: the queue is shared by every stream of the process, so no other test may fill it meanwhile.
  const digests = new ThreadDigests(true);
  t.teardown(() => digests.dispose());
  const piece = deterministicBytes('backpressure', 8 * 1024 * 1024);
  const settled: boolean[] = [];
  // Posted in one go: the thread's "hashed" answers cannot arrive in between (they are macrotasks).
  const updates = Array.from({ length: 6 }, (_, index) => digests.update([piece]).then(() => void (settled[index] = true)));
  for (let turn = 0; turn < 10; turn += 1) await null;
  const room = Math.ceil(maxQueuedBytes / piece.length) - 1;
  t.deepEqual(settled, Array.from({ length: room }, () => true), `the first ${room} updates settle at once, the rest wait for the thread`);
  await Promise.all(updates);
  t.deepEqual(await digests.digests(), reference(Buffer.concat(Array.from({ length: 6 }, () => piece)), true));
});
