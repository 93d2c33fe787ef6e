import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { createEnvironment } from '../helpers/environment.ts';

const run = promisify(execFile);

test('a full disk during import aborts it with the served state unchanged and an alarm, and the import resumes once space is freed', async (t) => {
  const environment = await createEnvironment({ mozilla: { fileSize: 2 * 1024 * 1024 } });
  t.teardown(environment.cleanup);
  // The LGWAN side's storage on a small file system of its own (tmpfs; the test runs as root, as CI does).
  const disk = path.join(environment.root, 'lgwan-disk');
  await mkdir(disk);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=26m', 'tmpfs', disk]);
  t.teardown(() => run('umount', ['-l', disk]).then(() => undefined, () => undefined));
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> };
  config.lgwan.storage = disk;
  config.lgwan.transferPublicKey = path.join(environment.root, 'lgwan', 'transfer-key.pub.pem');
  await writeFile(configFile, stringify(config));
  const lgwan = await openLgwanSide((await loadConfig(configFile)).lgwan, silentLogger);

  const internet = await environment.openInternet();
  await internet.runOnce();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const before = structuredClone(lgwan.database.data.published);

  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  const [failed] = await lgwan.importOnce();
  t.is(failed?.status, 'failed');
  t.regex((failed as { reason: string }).reason, /ENOSPC/u);
  t.deepEqual(lgwan.database.data.published, before, 'the served state is exactly the old one');
  t.is(lgwan.database.data.transfer.highestSequence, 1);
  t.is((await fetch(`${url}/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar`)).status, 200, 'the old release is still served');
  t.is((await fetch(`${url}/pool/demo-firefox/131.0.1/win64/ja/firefox-131.0.1.complete.mar`)).status, 404);
  const alarm = buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'import-failed');
  t.like(alarm, { severity: 'critical', subject: 'bundle-0000000002.tar' });
  t.deepEqual(await lgwan.importOnce().then((outcomes) => outcomes.map((outcome) => outcome.status)), ['failed'], 'still full: still failing, never refused');

  await run('mount', ['-o', 'remount,size=96m', disk]);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 2);
  t.is(lgwan.database.data.transfer.lastImportError, null);
  t.is((await fetch(`${url}/pool/demo-firefox/131.0.1/win64/ja/firefox-131.0.1.complete.mar`)).status, 200);
  await lgwan.close();
});
