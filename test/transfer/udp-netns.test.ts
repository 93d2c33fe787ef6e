import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide } from '../../src/sides/internet.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { createNamespacePair } from '../helpers/network-namespaces.ts';
import { cliPath } from '../helpers/processes.ts';

test.serial('over a veth pair between our own network namespaces, bundles arrive byte-identical at 0 %, 1 % and 5 % loss and after an outage', async (t) => {
  const network = await createNamespacePair();
  t.teardown(() => network.remove());
  // About 9 MiB in some 1,300 datagrams a pass: enough for 1 % random loss to hit.
  const environment = await createEnvironment({
    mozilla: { fileSize: 1024 * 1024 },
    internet: { spool: 'outbox', partMaxBytes: 512 * 1024, udp: { host: network.receiverAddress, port: 47474, rateMbps: 200, shardSize: 8192, dataShards: 20, repairRatio: 0.1, interleave: 16, heartbeatSeconds: 1 } },
    lgwan: { spool: 'inbox', udp: { host: network.receiverAddress, port: 47474, senders: [network.senderAddress], reassemblySeconds: 30, heartbeatStaleSeconds: 5 } },
  });
  t.teardown(environment.cleanup);
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const loaded = environment.config;
  const internet = await openInternetSide(loaded.internet, silentLogger, { interactive: false, backoffMs: 10 });
  await internet.runOnce();
  const outbox = loaded.internet.spool;
  const inbox = loaded.lgwan.spool;
  const files = (await readdir(outbox)).filter((name) => !name.startsWith('.')).sort();
  t.true(files.length > 3);

  const processes: ChildProcess[] = [];
  t.teardown(() => {
    for (const child of processes) child.kill('SIGKILL');
  });
  const start = (namespace: string, args: string[]) => {
    const child = spawn('/usr/sbin/ip', ['netns', 'exec', namespace, process.execPath, cliPath, ...args, '--config', configFile], { stdio: 'ignore', env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'warn' } });
    processes.push(child);
    return child;
  };
  const stop = async (child: ChildProcess) => {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  };
  const arrived = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const present = (await readdir(inbox).catch(() => [] as string[])).sort();
      if (files.every((name) => present.includes(name))) return true;
      await sleep(200);
    }
    return false;
  };
  const identical = async () => {
    for (const name of files) if (!(await readFile(path.join(inbox, name))).equals(await readFile(path.join(outbox, name)))) return false;
    return true;
  };

  for (const scenario of [
    { name: '0 % loss', loss: 0, outage: false },
    { name: '1 % loss', loss: 1, outage: false },
    { name: '5 % loss', loss: 5, outage: false },
    { name: 'a 2 s outage', loss: 0, outage: true },
  ]) {
    await rm(inbox, { recursive: true, force: true });
    await mkdir(inbox, { recursive: true });
    await network.setLoss(scenario.loss);
    const receiver = start(network.receiver, ['receive', '--udp']);
    await sleep(1500);
    if (scenario.outage) await network.setOutage(true);
    const sender = start(network.sender, ['send', '--udp']);
    let outageDropped = 0;
    if (scenario.outage) {
      // The outage lasts until the sender's datagrams have met it for 2 s: a loaded machine
      // may take longer than that to start the sender process at all.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline && (await network.dropped()) === 0; ) await sleep(100);
      await sleep(2000);
      outageDropped = await network.dropped();
      t.true(outageDropped > 0, 'the outage dropped datagrams');
      await network.setOutage(false);
    }
    t.true(await arrived(60_000), `${scenario.name}: every file arrived`);
    t.true(await identical(), `${scenario.name}: byte-identical`);
    const dropped = scenario.outage ? outageDropped : await network.dropped();
    t.log(`${scenario.name}: ${dropped} datagrams dropped by nftables`);
    if (scenario.loss > 0) t.true(dropped > 0, `${scenario.name}: nftables really dropped datagrams`);
    const heartbeat = JSON.parse(await readFile(path.join(loaded.lgwan.storage, 'udp-heartbeat.json'), 'utf8')) as { latestSequence: number };
    t.is(heartbeat.latestSequence, 1, `${scenario.name}: heartbeats arrive`);
    await stop(sender);
    await stop(receiver);
  }

  const lgwan = await openLgwanSide(loaded.lgwan, silentLogger);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  await lgwan.close();
});
