import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { decodeDatagram, encodeDatagram, headerLength, signedPayload } from '../../src/transfer/udp/wire-format.ts';

const transferKey = generateKeyPairSync('ed25519');
const trusted = [{ keyId: 'test', publicKey: transferKey.publicKey }];

/** The signed announcement a sender sends before a file's blocks (wire-format.ts, type 3). */
function announcement(name: string, content: Buffer, privateKey: KeyObject = transferKey.privateKey): Buffer {
  const body = Buffer.from(JSON.stringify({ session: (7n).toString(16), fileId: 1, name, size: content.length, sha256: createHash('sha256').update(content).digest('hex') }));
  return encodeDatagram({ type: 3, session: 7n }, signedPayload(body, sign(null, body, privateKey)));
}

function heartbeat(sentAt: string, latestSequence: number): Buffer {
  const body = Buffer.from(JSON.stringify({ session: '7', latestSequence, sentAt }));
  return encodeDatagram({ type: 2, session: 7n }, signedPayload(body, sign(null, body, transferKey.privateKey)));
}

const shardSize = 1024;
const k = 4;

function datagrams(name: string, content: Buffer, alter?: { shard: number }, announced = true) {
  const sha256 = createHash('sha256').update(content).digest();
  const padded = Buffer.alloc(Math.ceil(content.length / (k * shardSize)) * k * shardSize);
  content.copy(padded);
  const list: Buffer[] = announced ? [announcement(name, content)] : [];
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
  const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, senders: ['127.0.0.1'], inbox, staging: path.join(root, 'staging'), keys: () => trusted, heartbeatFile: path.join(root, 'hb.json'), maxFileBytes: 1 << 20, reassemblySeconds: 30, logger: silentLogger });
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
  const damaged = datagrams('bundle-0000000001.tar', content, undefined, false);
  damaged[0]![headerLength + 5]! ^= 0x01;
  t.deepEqual(decodeDatagram(damaged[0]!), { error: 'CRC mismatch' });
  const rejected = receiver.stats.rejected;
  await send([damaged[0]!]);
  t.is(receiver.stats.rejected, rejected + 1);

  // A name that is not a bundle file is refused, with a valid CRC and whatever the content.
  for (const name of ['../../etc/cron.d/x', 'bundle-0000000001.tar/../x', 'state.json', 'bundle-0000000001.summary.txt.exe', 'bundle-0000000001.tar.b/n']) {
    t.deepEqual(decodeDatagram(datagrams(name, content, undefined, false)[0]!), { error: `name ${JSON.stringify(name)} is not a transferable file` });
  }
  // Names with a transferFileExtension, and the approver's summary, are carried.
  for (const name of ['bundle-0000000001.bin', 'bundle-0000000001.part-0001.bin', 'bundle-0000000001.toc.sig.bin', 'bundle-0000000001.summary.txt']) {
    t.false('error' in decodeDatagram(datagrams(name, content, undefined, false)[0]!), name);
  }

  // The genuine datagrams deliver the file, byte-identical.
  await send(datagrams('bundle-0000000001.tar', content));
  t.deepEqual(await readdir(inbox), ['bundle-0000000001.tar']);
  t.deepEqual(await readFile(path.join(inbox, 'bundle-0000000001.tar')), content);
});

async function receiverFor(t: import('ava').ExecutionContext, senders: string[]) {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-udp-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const inbox = path.join(root, 'inbox');
  const heartbeatFile = path.join(root, 'hb.json');
  const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, senders, inbox, staging: path.join(root, 'staging'), keys: () => trusted, heartbeatFile, maxFileBytes: 1 << 20, reassemblySeconds: 30, logger: silentLogger });
  const { port } = await receiver.start();
  t.teardown(() => receiver.stop());
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  // Counted on arrival, whether taken or dropped; then a little for a file to complete.
  const send = async (list: Buffer[]) => {
    const target = receiver.stats.datagrams + receiver.stats.foreignSender + list.length;
    for (const datagram of list) socket.send(datagram, port, '127.0.0.1');
    for (const deadline = Date.now() + 10_000; receiver.stats.datagrams + receiver.stats.foreignSender < target && Date.now() < deadline; ) await sleep(20);
    await sleep(200);
  };
  return { receiver, inbox, heartbeatFile, send };
}

// Issue 13, item 8: any host that could reach the receiver's port could put files into the
// spool, and a replayed old heartbeat kept the link shown as alive.
test('datagrams from an address other than the configured sender are dropped before they are read', async (t) => {
  const { receiver, inbox, send } = await receiverFor(t, ['192.0.2.1']);
  const content = Buffer.alloc(5000, 7);
  await send(datagrams('bundle-0000000001.tar', content));
  t.deepEqual(await readdir(inbox), []);
  t.is(receiver.stats.datagrams, 0, 'not one was parsed');
  t.true(receiver.stats.foreignSender > 0);
});

test('a file whose blocks come without an announcement signed by the transfer key is never written, even with valid CRCs and sha256', async (t) => {
  const { receiver, inbox, send } = await receiverFor(t, ['127.0.0.1']);
  const content = Buffer.alloc(5000, 9);
  await send(datagrams('bundle-0000000001.tar', content, undefined, false));
  const forged = datagrams('bundle-0000000001.tar', content);
  forged[0] = announcement('bundle-0000000001.tar', content, generateKeyPairSync('ed25519').privateKey);
  await send(forged);
  t.deepEqual(await readdir(inbox), []);
  t.true(receiver.stats.unannounced > 0);
  await send(datagrams('bundle-0000000001.tar', content));
  t.deepEqual(await readdir(inbox), ['bundle-0000000001.tar'], 'the announced file is delivered');
});

test('a replayed heartbeat, not newer than the last one accepted, is ignored', async (t) => {
  const { receiver, heartbeatFile, send } = await receiverFor(t, ['127.0.0.1']);
  const old = heartbeat('2026-11-20T10:00:00.000Z', 5);
  await send([old]);
  await send([heartbeat('2026-11-20T10:00:05.000Z', 5)]);
  const recorded = await readFile(heartbeatFile, 'utf8');
  await send([old]);
  t.is(receiver.stats.heartbeats, 2);
  t.is(receiver.stats.replayedHeartbeats, 1);
  t.is(await readFile(heartbeatFile, 'utf8'), recorded, 'the replay did not refresh the link');
});
