import { appendFile, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { buildStatus } from '../src/repository/status-model.ts';
import { createEnvironment } from './helpers/environment.ts';

/*
 * Issue 13, item 11: a transfer appliance that writes straight under the final name got the
 * bundle refused 8 times while it grew, and the refusal alarm stayed after the complete file
 * was published.
 */

async function heldBackBundle(t: import('ava').ExecutionContext) {
  const environment = await createEnvironment({ mozilla: { fileSize: 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const { bundle } = await (await environment.openInternet()).runOnce();
  const file = (bundle as { file: string }).file;
  const held = path.join(environment.root, 'held.tar');
  await rename(file, held);
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  return { lgwan, file, bytes: await readFile(held) };
}

test('a bundle the appliance is still writing under its final name is waited for, not refused, and publishes once complete', async (t) => {
  const { lgwan, file, bytes } = await heldBackBundle(t);
  const steps = 8;
  await writeFile(file, '');
  for (let step = 1; step < steps; step += 1) {
    await appendFile(file, bytes.subarray(Math.floor(((step - 1) * bytes.length) / steps), Math.floor((step * bytes.length) / steps)));
    t.deepEqual(await lgwan.importOnce(), [], `after ${step}/${steps} of the file: nothing imported, nothing refused`);
  }
  await appendFile(file, bytes.subarray(Math.floor(((steps - 1) * bytes.length) / steps)));
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.deepEqual(lgwan.database.data.refusals, []);
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.severity === 'critical'), []);
});

test('a truncated bundle left unchanged longer than spoolStableSeconds is refused, and its alarm clears when the same bundle later publishes complete', async (t) => {
  const { lgwan, file, bytes } = await heldBackBundle(t);
  await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  // The appliance stalled: the half file has not changed for an hour.
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(file, anHourAgo, anHourAgo);
  const [refused] = await lgwan.importOnce();
  t.like(refused, { status: 'refused', code: 'E_BUNDLE_INVALID' });
  t.regex((refused as { reason: string }).reason, /bundle-0000000001\.tar: .*(truncated|Unexpected end)/u);
  // Cut short is "changed on the way" (the alarm a sanitiser's or appliance's truncation raises).
  t.is(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.kind === 'changed-in-transit').length, 1);
  await writeFile(file, bytes);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.kind === 'refused-bundle' || alarm.kind === 'changed-in-transit'), [], 'the alarm cleared once the bundle published');
});
