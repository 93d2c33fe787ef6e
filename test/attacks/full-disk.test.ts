import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide } from '../../src/sides/internet.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { createEnvironment } from '../helpers/environment.ts';

/*
 * Threat: a full disk (docs/transfer.md, "Threat model"), on a file system of the test's own
 * (tmpfs; the suite runs as root, as CI does). What must hold: a full disk is a failure of this
 * side, never a refusal; nothing published changes; junk cannot fill the disk through
 * quarantine; a send that hits ENOSPC keeps its sequence and sends the same bundle once there
 * is room. What does not hold: nothing new arrives until space is freed.
 */

const run = promisify(execFile);

async function smallDisk(t: import('ava').ExecutionContext, root: string, name: string, size: string): Promise<string> {
  const disk = path.join(root, name);
  await mkdir(disk);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk]);
  t.teardown(() => run('umount', ['-l', disk]).then(() => undefined, () => undefined));
  return disk;
}

test('full disk: junk in the spool cannot fill the LGWAN disk through quarantine, and the next genuine bundle still publishes', async (t) => {
  const environment = await createEnvironment({ mozilla: { fileSize: 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const disk = await smallDisk(t, environment.root, 'lgwan-disk', '24m');
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> };
  Object.assign(config.lgwan, { storage: disk, transferPublicKey: path.join(environment.root, 'lgwan', 'transfer-key.pub.pem'), quarantineQuotaBytes: 4 * 1024 * 1024 });
  await writeFile(configFile, stringify(config));
  const lgwan = await openLgwanSide((await loadConfig(configFile)).lgwan, silentLogger);
  t.teardown(() => lgwan.close());
  const spool = environment.config.lgwan.spool;
  await mkdir(spool, { recursive: true });
  // Four times 6 MiB of junk on a 24 MiB disk: copies of all of them would leave no room.
  for (let index = 0; index < 4; index += 1) await writeFile(path.join(spool, bundleFileName(700 + index)), Buffer.alloc(6 * 1024 * 1024, 0x30 + index));
  const internet = await environment.openInternet();
  t.teardown(() => internet.close());
  await internet.runOnce();
  const statuses = (await lgwan.importOnce()).map((outcome) => outcome.status);
  t.deepEqual(statuses, ['published', 'refused', 'refused', 'refused', 'refused']);
  // A new release after the junk: it needs room for its blobs, which quarantine left.
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 2);
});

test('full disk: a send that hits ENOSPC in the outbox keeps its sequence and sends the identical bundle once there is room', async (t) => {
  const environment = await createEnvironment({ mozilla: { fileSize: 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const outbox = await smallDisk(t, environment.root, 'outbox', '1m');
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { internet: Record<string, unknown>; lgwan: Record<string, unknown> };
  config.internet.spool = outbox;
  config.lgwan.spool = outbox;
  await writeFile(configFile, stringify(config));
  const loaded = await loadConfig(configFile);
  const internet = await openInternetSide(loaded.internet, silentLogger, { interactive: false, backoffMs: 10 });
  await internet.fetchAll();
  const failure = await t.throwsAsync(internet.send());
  t.regex(failure?.message ?? '', /ENOSPC/u);
  const reserved = internet.database.data.transfer.reserved;
  t.is(reserved?.sequence, 1, 'the sequence stays taken by this manifest');
  await run('mount', ['-o', 'remount,size=64m', outbox]);
  t.like(await internet.send(), { status: 'sent', sequence: 1 });
  t.is(internet.database.data.transfer.lastManifestSha256, reserved!.manifestSha256, 'the same manifest went out');
  internet.close();
  const lgwan = await openLgwanSide(loaded.lgwan, silentLogger);
  t.teardown(() => lgwan.close());
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
});
