import { createHash } from 'node:crypto';
import test from 'ava';
import { InlineDigests, ThreadDigests } from '../../src/store/stream-digests.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';

const reference = (data: Buffer) => ({ sha256: createHash('sha256').update(data).digest('hex'), sha512: createHash('sha512').update(data).digest('hex') });

test('the hashing thread gives the same digests as hashing inline, mid-stream and at the end, for many streams at once', async (t) => {
  const streams = Array.from({ length: 6 }, (_, index) => ({ data: deterministicBytes(`stream-${index}`, 3 * 1024 * 1024 + index * 4099), digests: new ThreadDigests(), inline: new InlineDigests() }));
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
      t.deepEqual(await streams[0]!.digests.digests(), reference(streams[0]!.data.subarray(0, 65_537 * 11)));
    }
  }
  for (const stream of streams) {
    t.deepEqual(await stream.digests.digests(), reference(stream.data));
    t.deepEqual(await stream.digests.digests(), await stream.inline.digests());
    stream.digests.dispose();
  }
  const empty = new ThreadDigests();
  t.deepEqual(await empty.digests(), reference(Buffer.alloc(0)));
  empty.dispose();
});
