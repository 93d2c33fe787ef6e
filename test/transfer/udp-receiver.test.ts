import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { decodeDatagram, encodeDatagram, headerLength } from '../../src/transfer/udp/wire-format.ts';

const shardSize = 1024;
const k = 4;

function datagrams(name: string, content: Buffer, alter?: { shard: number }) {
  const sha256 = createHash('sha256').update(content).digest();
  const padded = Buffer.alloc(Math.ceil(content.length / (k * shardSize)) * k * shardSize);
  content.copy(padded);
  const list: Buffer[] = [];
  for (let block = 0; block * k * shardSize < content.length; block += 1) {
    for (let shard = 0; shard < k; shard += 1) {
      const payload = Buffer.from(padded.subarray((block * k + shard) * shardSize, (block * k + shard + 1) * shardSize));
      if (alter && block === 0 && shard === alter.shard) payload[0]! ^= 0xff;
      list.push(encodeDatagram({ type: 1, k, m: 0, session: 7n, fileId: 1, fileSize: content.length, shardSize, blockIndex: block, shardIndex: shard, name, fileSha256: sha256 }, payload));
    }
  }
  return list;
}

test('the receiver checks datagram shape and CRC, never writes a file that does not hash to what was sent, and names must be bundle files', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-udp-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const inbox = path.join(root, 'inbox');
  const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, inbox, staging: path.join(root, 'staging'), keys: () => [], heartbeatFile: path.join(root, 'hb.json'), maxFileBytes: 1 << 20, reassemblySeconds: 30, logger: silentLogger });
  const { port } = await receiver.start();
  t.teardown(() => receiver.stop());
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  // Waits until the receiver has taken every datagram (loopback does not drop), then a little
  // for the file it may complete; a fixed pause alone fails on a loaded machine.
  const send = async (list: Buffer[]) => {
    const target = receiver.stats.datagrams + list.length;
    for (const datagram of list) socket.send(datagram, port, '127.0.0.1');
    for (const deadline = Date.now() + 10_000; receiver.stats.datagrams < target && Date.now() < deadline; ) await sleep(20);
    await sleep(200);
  };
  const content = Buffer.from(Array.from({ length: 10_000 }, (_, index) => index % 251));

  // A shard changed before its CRC was computed (a sender fault): the assembled file is refused.
  await send(datagrams('bundle-0000000001.tar', content, { shard: 1 }));
  t.deepEqual(await readdir(inbox), []);
  t.is(receiver.stats.hashMismatches, 1);

  // Damage on the wire: the CRC catches it and the datagram is dropped.
  const damaged = datagrams('bundle-0000000001.tar', content);
  damaged[0]![headerLength + 5]! ^= 0x01;
  t.deepEqual(decodeDatagram(damaged[0]!), { error: 'CRC mismatch' });
  const rejected = receiver.stats.rejected;
  await send([damaged[0]!]);
  t.is(receiver.stats.rejected, rejected + 1);

  // A name that is not a bundle file is refused, with a valid CRC and whatever the content.
  for (const name of ['../../etc/cron.d/x', 'bundle-0000000001.tar/../x', 'state.json', 'bundle-0000000001.summary.txt.exe', 'bundle-0000000001.tar.b/n']) {
    t.deepEqual(decodeDatagram(datagrams(name, content)[0]!), { error: `name ${JSON.stringify(name)} is not a transferable file` });
  }
  // Names with a transferFileExtension, and the approver's summary, are carried.
  for (const name of ['bundle-0000000001.bin', 'bundle-0000000001.part-0001.bin', 'bundle-0000000001.toc.sig.bin', 'bundle-0000000001.summary.txt']) {
    t.false('error' in decodeDatagram(datagrams(name, content)[0]!), name);
  }

  // The genuine datagrams deliver the file, byte-identical.
  await send(datagrams('bundle-0000000001.tar', content));
  t.deepEqual(await readdir(inbox), ['bundle-0000000001.tar']);
  t.deepEqual(await readFile(path.join(inbox, 'bundle-0000000001.tar')), content);
});
