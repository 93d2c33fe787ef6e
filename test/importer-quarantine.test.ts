import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { buildStatus } from '../src/repository/status-model.ts';
import { bundleFileName } from '../src/transfer/spool-names.ts';
import { createEnvironment } from './helpers/environment.ts';
import { signIn } from './helpers/console.ts';

async function folderBytes(directory: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(directory).catch(() => [] as string[])) total += (await stat(path.join(directory, name))).size;
  return total;
}

/*
 * Issue 13, item 7: junk dropped into the spool was copied into quarantine (four 40 MiB files:
 * 161 MiB of copies) and the next genuine bundle then failed with ENOSPC. Copies stay within
 * lgwan.quarantineQuotaBytes; beyond it a refusal is recorded only.
 */
test('junk dropped into the spool is copied to quarantine only within the quota, every drop is listed on the status page, and the next genuine bundle publishes', async (t) => {
  const quota = 3 * 1024 * 1024;
  const environment = await createEnvironment({ lgwan: { quarantineQuotaBytes: quota } });
  t.teardown(environment.cleanup);
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  const spool = environment.config.lgwan.spool;
  await mkdir(spool, { recursive: true });
  for (let index = 0; index < 4; index += 1) await writeFile(path.join(spool, bundleFileName(900 + index)), randomBytes(1024 * 1024 + 1000));
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['refused', 'refused', 'refused', 'refused']);
  const quarantine = path.join(environment.config.lgwan.storage, 'quarantine');
  const used = await folderBytes(quarantine);
  t.true(used <= quota, `quarantine holds ${used} bytes, the quota is ${quota}`);
  t.deepEqual(lgwan.database.data.refusals.map((refusal) => refusal.kept), [false, false, true, true], 'newest first: the first two were copied, the rest only recorded');
  t.is((await readdir(quarantine)).filter((name) => name.endsWith('.reason.json')).length, 4, 'a reason is recorded for every drop');

  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const page = await (await signIn(lgwan.admin, url)).text('/?lang=en');
  for (let index = 0; index < 4; index += 1) t.regex(page, new RegExp(`<tr data-refusal="${bundleFileName(900 + index).replace('.', '\\.')}">`, 'u'));
  t.regex(page, /recorded only \(quarantine quota reached\)/u);

  await (await environment.openInternet()).runOnce();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published'], 'the genuine bundle publishes');
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.kind === 'refused-bundle'), [], 'refusal alarms clear once a later bundle publishes');
  t.is(buildStatus(lgwan.database.data, new Date()).refusals.length, 4, 'the refusals stay listed');
});
