import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { loadTransferPublicKey } from '../../src/bundle/transfer-key.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide } from '../../src/sides/internet.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { UdpSender } from '../../src/transfer/udp/udp-sender.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { startLossyRelay, type RelayFaults } from '../helpers/lossy-relay.ts';

/** Internet side → outbox → UDP sender → lossy relay → UDP receiver → LGWAN inbox → importer. */
async function diode(t: ExecutionContext, faults: RelayFaults) {
  const environment = await createEnvironment({ internet: { spool: 'outbox', partMaxBytes: 1024 * 1024 }, lgwan: { spool: 'inbox' } });
  t.teardown(environment.cleanup);
  const loaded = environment.config;
  const internet = await openInternetSide(loaded.internet, silentLogger, { interactive: false, backoffMs: 10 });
  await internet.runOnce();
  const pinned = await loadTransferPublicKey(loaded.lgwan.transferPublicKey);
  const receiver = new UdpReceiver({
    host: '127.0.0.1',
    port: 0, senders: ['127.0.0.1'], inbox: loaded.lgwan.spool, staging: path.join(environment.root, 'udp-staging'), keys: () => [pinned],
    heartbeatFile: path.join(loaded.lgwan.storage, 'udp-heartbeat.json'), maxFileBytes: 1024 ** 3, reassemblySeconds: 30, logger: silentLogger,
  });
  const { port } = await receiver.start();
  t.teardown(() => receiver.stop());
  const relay = await startLossyRelay({ host: '127.0.0.1', port }, faults);
  t.teardown(relay.close);
  const sender = new UdpSender({
    outbox: loaded.internet.spool, host: '127.0.0.1', port: relay.port, rateBitsPerSecond: 400e6, shardSize: 8192, dataShards: 16, repairRatio: 0.25, interleave: 8,
    heartbeatSeconds: 3600, privateKey: createPrivateKey(await readFile(loaded.internet.transferKey)), logger: silentLogger,
  });
  t.teardown(() => sender.stop());
  const outboxFiles = async () => (await readdir(loaded.internet.spool)).filter((name) => !name.startsWith('.')).sort();
  // Datagrams in flight, then the receiver's last writes: wait until the inbox has been quiet
  // for half a second (a loaded CI machine needs more than a fixed pause), at most 20 s.
  const settle = async () => {
    relay.flush();
    let last = '';
    let quietSince = Date.now();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      await sleep(100);
      const now = JSON.stringify([(await readdir(loaded.lgwan.spool)).sort(), receiver.stats]);
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= 500) return;
    }
  };
  return { environment, loaded, internet, receiver, receiverPort: port, relay, sender, outboxFiles, settle };
}

async function sameFiles(t: ExecutionContext, names: string[], from: string, to: string) {
  for (const name of names) t.deepEqual(await readFile(path.join(to, name)), await readFile(path.join(from, name)), `${name} arrived byte-identical`);
}

test('bundles cross a lossy, reordering, duplicating UDP link byte-identical and are imported', async (t) => {
  const { loaded, receiver, relay, sender, outboxFiles, settle } = await diode(t, { loss: 0.05, duplicate: 0.02, reorder: 0.05 });
  const files = await outboxFiles();
  t.true(files.length > 3, 'a TOC, its signature and several parts');
  // At 5 % random loss a block now and then loses more shards than it has repair shards: the
  // carousel's next pass completes it, as in service. Most blocks must be rebuilt by FEC alone.
  let passes = 0;
  do {
    await sender.sendPass();
    await settle();
    passes += 1;
  } while (passes < 3 && (await readdir(loaded.lgwan.spool)).length < files.length);
  t.log(`complete after ${passes} pass(es); ${receiver.stats.blocksRebuilt} blocks rebuilt from repair shards`);
  t.true(relay.stats.dropped > 0 && relay.stats.duplicated > 0 && relay.stats.reordered > 0, JSON.stringify(relay.stats));
  t.deepEqual((await readdir(loaded.lgwan.spool)).sort(), files);
  await sameFiles(t, files, loaded.internet.spool, loaded.lgwan.spool);
  t.true(receiver.stats.blocksRebuilt > 0, 'lost shards were rebuilt from repair shards');
  const lgwan = await openLgwanSide(loaded.lgwan, silentLogger);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  await lgwan.close();
});

test('an outage longer than the repair shards cover leaves files incomplete, and the carousel completes them', async (t) => {
  const { loaded, relay, sender, outboxFiles, settle } = await diode(t, { loss: 0, duplicate: 0, reorder: 0, outage: { from: 100, to: 300 } });
  const files = await outboxFiles();
  await sender.sendPass();
  await settle();
  t.is(relay.stats.dropped, 201, 'one burst of 201 datagrams: a whole interleaved group of blocks');
  const afterFirst = (await readdir(loaded.lgwan.spool)).sort();
  t.true(afterFirst.length < files.length, `incomplete after the outage: ${afterFirst.length} of ${files.length} files`);
  for (const name of await readdir(path.join(loaded.lgwan.spool))) t.false(name.includes('partial'), 'partial files never appear in the inbox');
  await sender.sendPass();
  await settle();
  t.deepEqual((await readdir(loaded.lgwan.spool)).sort(), files);
  await sameFiles(t, files, loaded.internet.spool, loaded.lgwan.spool);
});

test('heartbeats signed by the transfer key are recorded; others are ignored', async (t) => {
  const { loaded, sender, receiver, receiverPort, settle } = await diode(t, { loss: 0, duplicate: 0, reorder: 0 });
  await sender.sendHeartbeat();
  await settle();
  const heartbeatFile = path.join(loaded.lgwan.storage, 'udp-heartbeat.json');
  const heartbeat = JSON.parse(await readFile(heartbeatFile, 'utf8')) as { latestSequence: number; sentAt: string };
  t.is(heartbeat.latestSequence, 1);
  t.is(receiver.stats.heartbeats, 1);

  const impostor = new UdpSender({
    outbox: loaded.internet.spool, host: '127.0.0.1', port: receiverPort, rateBitsPerSecond: 1e6, shardSize: 1024, dataShards: 4, repairRatio: 0, interleave: 1,
    heartbeatSeconds: 3600, privateKey: generateKeyPairSync('ed25519').privateKey, logger: silentLogger,
  });
  t.teardown(() => impostor.stop());
  const rejected = receiver.stats.rejected;
  await impostor.sendHeartbeat();
  await settle();
  t.is(receiver.stats.heartbeats, 1, 'not counted');
  t.is(receiver.stats.rejected, rejected + 1);
  t.deepEqual(JSON.parse(await readFile(heartbeatFile, 'utf8')), heartbeat, 'not recorded');
});
