import { createHash, createPrivateKey } from 'node:crypto';
import { cp, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { loadConfig } from '../../src/config/config.ts';
import { loadTransferPublicKey } from '../../src/bundle/transfer-key.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openLgwanSide, type LgwanSide } from '../../src/sides/lgwan.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { UdpSender } from '../../src/transfer/udp/udp-sender.ts';
import { createEnvironment, type Environment } from '../helpers/environment.ts';
import { startLossyRelay } from '../helpers/lossy-relay.ts';

/** A second LGWAN side with its own storage, trusting the same keys, reading `spool`. */
async function replica(environment: Environment, name: string, spool: string): Promise<LgwanSide> {
  const storage = path.join(environment.root, name);
  await cp(path.join(environment.root, 'lgwan', 'keys'), path.join(storage, 'keys'), { recursive: true });
  await cp(path.join(environment.root, 'lgwan', 'vendor-keys'), path.join(storage, 'vendor-keys'), { recursive: true });
  await cp(environment.config.lgwan.transferPublicKey, path.join(storage, 'transfer-key.pub.pem'));
  const configFile = path.join(environment.root, `${name}.yaml`);
  await writeFile(configFile, JSON.stringify({ lgwan: { storage, keys: [path.join(storage, 'keys'), path.join(storage, 'vendor-keys')], spool, port: 0 } }));
  return openLgwanSide((await loadConfig(configFile)).lgwan, silentLogger);
}

/** Both replicas publish the same state and serve every file with the same bytes. */
async function assertConverged(t: ExecutionContext, replicas: LgwanSide[]) {
  const [first, second] = replicas.map((side) => side.database.data.published);
  t.truthy(first);
  t.is(first!.manifestSha256, second!.manifestSha256, 'the same signed manifest');
  t.deepEqual(first!.artifacts, second!.artifacts);
  const servers = await Promise.all(replicas.map((side) => side.listen(0)));
  t.teardown(() => servers.forEach(({ server }) => server.close()));
  for (const artifact of first!.artifacts) {
    const digests = await Promise.all(servers.map(async ({ url }) => createHash('sha256').update(Buffer.from(await (await fetch(`${url}/blobs/sha256/${artifact.sha256}`)).arrayBuffer())).digest('hex')));
    t.deepEqual(digests, [artifact.sha256, artifact.sha256], artifact.path);
  }
}

test('two replicas importing the same spool stream converge to the same published state and bytes', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const replicas = [await replica(environment, 'replica-a', environment.config.internet.spool), await replica(environment, 'replica-b', environment.config.internet.spool)];
  await internet.runOnce();
  // Replica B starts late: it sees bundle 1 and 2 in one go; A imports them one at a time.
  await replicas[0]!.importOnce();
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  await replicas[0]!.importOnce();
  await replicas[1]!.importOnce();
  t.is(replicas[0]!.database.data.published?.sequence, 2);
  await assertConverged(t, replicas);
});

test('one UDP sender and two receivers (a one-way link is a broadcast) give two replicas the same state', async (t) => {
  const environment = await createEnvironment({ internet: { spool: 'outbox' } });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const pinned = await loadTransferPublicKey(environment.config.lgwan.transferPublicKey);
  const receivers = await Promise.all(
    ['inbox-a', 'inbox-b'].map(async (name) => {
      const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, senders: ['127.0.0.1'], inbox: path.join(environment.root, name), staging: path.join(environment.root, `${name}-staging`), keys: () => [pinned], heartbeatFile: path.join(environment.root, `${name}-heartbeat.json`), maxFileBytes: 1 << 30, reassemblySeconds: 30, logger: silentLogger });
      const { port } = await receiver.start();
      t.teardown(() => receiver.stop());
      return { port, inbox: path.join(environment.root, name) };
    }),
  );
  const relay = await startLossyRelay(receivers.map(({ port }) => ({ host: '127.0.0.1', port })), { loss: 0.02, duplicate: 0, reorder: 0.02 });
  t.teardown(relay.close);
  const sender = new UdpSender({ outbox: environment.config.internet.spool, host: '127.0.0.1', port: relay.port, rateBitsPerSecond: 300e6, shardSize: 8192, dataShards: 16, repairRatio: 0.25, interleave: 8, heartbeatSeconds: 3600, privateKey: createPrivateKey(await readFile(environment.config.internet.transferKey)), logger: silentLogger });
  t.teardown(() => sender.stop());
  // Each receiver writes the file once it is whole; a block that lost more shards than its
  // repair shards (or a receiver starved on a loaded machine) is completed by the next pass.
  const sent = ['bundle-0000000001.summary.txt', 'bundle-0000000001.tar'];
  const complete = async () => (await Promise.all(receivers.map(({ inbox }) => readdir(inbox).catch(() => [] as string[])))).every((names) => sent.every((name) => names.includes(name)));
  for (let pass = 0; pass < 3 && !(await complete()); pass += 1) {
    await sender.sendPass();
    relay.flush();
    for (let waited = 0; waited < 10_000 && !(await complete()); waited += 100) await sleep(100);
  }
  // The approver's summary crosses with the bundle; the importer never reads it.
  for (const { inbox } of receivers) t.deepEqual((await readdir(inbox)).sort(), sent);
  const replicas = [await replica(environment, 'replica-a', receivers[0]!.inbox), await replica(environment, 'replica-b', receivers[1]!.inbox)];
  for (const side of replicas) t.deepEqual((await side.importOnce()).map((outcome) => outcome.status), ['published']);
  await assertConverged(t, replicas);
});
