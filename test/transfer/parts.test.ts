import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide } from '../../src/sides/internet.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { signManifest } from '../../src/bundle/transfer-key.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { createEnvironment } from '../helpers/environment.ts';

/**
 * The internet side writes into an outbox with a 256 KiB file limit; the test plays the
 * transfer appliance, copying files into the LGWAN side's inbox in whatever order it likes.
 */
async function applianceSetup(t: ExecutionContext, lgwanOverrides: Record<string, unknown> = {}) {
  const environment = await createEnvironment({ internet: { spool: 'outbox', partMaxBytes: 256 * 1024 }, lgwan: { spool: 'inbox', ...lgwanOverrides } });
  t.teardown(environment.cleanup);
  const loaded = environment.config;
  const internet = await openInternetSide(loaded.internet, silentLogger, { interactive: false, backoffMs: 10 });
  const { bundle } = await internet.runOnce();
  t.is(bundle.status, 'sent');
  const outbox = loaded.internet.spool;
  const inbox = loaded.lgwan.spool;
  await mkdir(inbox, { recursive: true });
  const files = (await readdir(outbox)).filter((name) => !name.startsWith('.')).sort();
  const deliver = (name: string) => copyFile(path.join(outbox, name), path.join(inbox, name));
  const lgwan = await openLgwanSide(loaded.lgwan, silentLogger);
  return { environment, loaded, internet, lgwan, outbox, inbox, files, deliver, bundle: bundle as { parts: number; file: string } };
}

test('a bundle over the appliance limit travels as parts with a signed table of contents and is published once all parts are in', async (t) => {
  const { lgwan, files, deliver, bundle, inbox } = await applianceSetup(t);
  const parts = files.filter((name) => name.includes('.part-'));
  t.true(bundle.parts > 5, `${bundle.parts} parts`);
  t.is(parts.length, bundle.parts);
  t.deepEqual(files.filter((name) => !name.includes('.part-')), ['bundle-0000000001.summary.txt', 'bundle-0000000001.toc', 'bundle-0000000001.toc.sig']);

  // The appliance delivers the TOC first, then the parts backwards, one twice, one half-written.
  await deliver('bundle-0000000001.toc.sig');
  await deliver('bundle-0000000001.toc');
  const reversed = [...parts].reverse();
  for (const name of reversed.slice(0, -2)) await deliver(name);
  await deliver(reversed[0]!);
  await deliver(reversed.at(-2)!);
  const { size } = await stat(path.join(inbox, reversed.at(-2)!));
  await truncate(path.join(inbox, reversed.at(-2)!), Math.floor(size / 2));

  t.deepEqual(await lgwan.importOnce(), [], 'nothing to publish yet');
  t.is(lgwan.database.data.published, null);
  const waiting = buildStatus(lgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'incomplete-bundle');
  t.like(waiting, { severity: 'warning', subject: 'bundle-0000000001.toc' });
  t.deepEqual(waiting!.detail.split(', ').sort(), [reversed.at(-1)!, reversed.at(-2)!].sort(), 'the missing and the half-written part are named');

  await deliver(reversed.at(-2)!);
  await deliver(reversed.at(-1)!);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 1);
  t.deepEqual(lgwan.database.data.transfer.incomplete, {});
  t.deepEqual(await readdir(path.join(lgwan.config.storage, 'staging')), [], 'staging is emptied after the import');
});

test('a part whose bytes were changed is never used; the genuine part completes the bundle', async (t) => {
  const { lgwan, files, deliver, inbox } = await applianceSetup(t);
  for (const name of files) await deliver(name);
  const victim = files.find((name) => name.endsWith('.part-0002'))!;
  const genuine = await readFile(path.join(inbox, victim));
  const altered = Buffer.from(genuine);
  altered[100]! ^= 0xff;
  await writeFile(path.join(inbox, victim), altered);
  t.deepEqual(await lgwan.importOnce(), []);
  t.deepEqual(lgwan.database.data.transfer.incomplete['bundle-0000000001.toc']?.missing, [victim]);
  t.deepEqual(lgwan.database.data.transfer.incomplete['bundle-0000000001.toc']?.changed, [victim], 'a complete part with other bytes is said to be changed, not still coming');
  t.like(buildStatus(lgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'changed-in-transit'), { severity: 'critical', subject: 'bundle-0000000001.toc' });
  await writeFile(path.join(inbox, victim), genuine);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.false(buildStatus(lgwan.database.data, new Date()).alarms.some((alarm) => alarm.kind === 'changed-in-transit'), 'the alarm clears once the original arrives');
});

test('a table of contents not signed by the pinned transfer key is refused', async (t) => {
  const { lgwan, files, deliver, inbox } = await applianceSetup(t);
  for (const name of files) await deliver(name);
  const toc = await readFile(path.join(inbox, 'bundle-0000000001.toc'));
  await writeFile(path.join(inbox, 'bundle-0000000001.toc.sig'), signManifest(toc, generateKeyPairSync('ed25519').privateKey));
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.is(lgwan.database.data.published, null);
  t.is(lgwan.database.data.refusals[0]?.bundle, 'bundle-0000000001.toc');
});

test('a TOC whose parts do not add up is refused even when validly signed', async (t) => {
  const { lgwan, files, deliver, inbox, environment } = await applianceSetup(t);
  for (const name of files) await deliver(name);
  const toc = JSON.parse(await readFile(path.join(inbox, 'bundle-0000000001.toc'), 'utf8')) as { parts: { name: string }[] };
  toc.parts[0]!.name = '../../etc/passwd';
  const bytes = Buffer.from(JSON.stringify(toc));
  await writeFile(path.join(inbox, 'bundle-0000000001.toc'), bytes);
  await writeFile(path.join(inbox, 'bundle-0000000001.toc.sig'), signManifest(bytes, createPrivateKey(await readFile(environment.config.internet.transferKey))));
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_BUNDLE_INVALID' });
});

test('parts that never arrive are given up after the timeout, with a critical alarm', async (t) => {
  const { lgwan, files, deliver } = await applianceSetup(t, { partsTimeoutHours: 0.00001 });
  for (const name of files.filter((candidate) => !candidate.endsWith('.part-0003'))) await deliver(name);
  t.deepEqual(await lgwan.importOnce(), []);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_INCOMPLETE' });
  t.like(buildStatus(lgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'incomplete-bundle'), { severity: 'critical' });
  t.deepEqual(await readdir(path.join(lgwan.config.storage, 'staging')), [], 'the staged parts were dropped');
});
