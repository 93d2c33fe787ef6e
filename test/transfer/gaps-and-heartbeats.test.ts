import { rm } from 'node:fs/promises';
import test from 'ava';
import { emptyLgwanState } from '../../src/importer/lgwan-state.ts';
import { buildStatus, defaultThresholds } from '../../src/repository/status-model.ts';
import { createEnvironment } from '../helpers/environment.ts';

test('a bundle that needs files from a lost bundle waits instead of publishing half a state', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const lgwan = await environment.openLgwan();
  await internet.runOnce();
  await lgwan.importOnce();
  environment.simulator.options.mozilla.latest = '131.0.1';
  const lost = await internet.runOnce();
  await rm((lost.bundle as { file: string }).file);
  const third = await internet.send({ force: true });
  t.is((third as { sequence: number }).sequence, 3);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['waiting'], 'bundle 3 needs the files that travelled with bundle 2');
  // The carousel brings the files again (test/transfer/carousel.test.ts).
  const status = buildStatus(lgwan.database.data, new Date());
  t.like(status.alarms.find((alarm) => alarm.kind === 'waiting-for-blobs'), { subject: 'bundle-0000000003.tar' });
});

test('a sequence gap is reported with the missing numbers once a later bundle is published', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const lgwan = await environment.openLgwan();
  await internet.runOnce();
  await lgwan.importOnce();
  const second = await internet.send({ force: true });
  await internet.send({ force: true });
  await rm((second as { file: string }).file);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 3);
  t.deepEqual(lgwan.database.data.transfer.missingSequenceRanges, [{ from: 2, to: 2 }]);
  t.like(buildStatus(lgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'sequence-gap'), { detail: '2' });
});

test('heartbeats tell an idle link from a receiving one and from a cut one', (t) => {
  const now = new Date('2026-11-22T12:00:00Z');
  const state = { ...structuredClone(emptyLgwanState), transfer: { ...emptyLgwanState.transfer, highestSequence: 7 } };
  const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
  const link = (secondsAgo: number, latestSequence: number) => buildStatus(state, now, defaultThresholds, undefined, { receivedAt: at(secondsAgo), latestSequence, staleSeconds: 30 });
  t.is(link(3, 7).link?.state, 'idle');
  t.is(link(3, 8).link?.state, 'receiving');
  const cut = link(45, 7);
  t.is(cut.link?.state, 'cut');
  t.like(cut.alarms.find((alarm) => alarm.kind === 'link-cut'), { severity: 'critical', detail: `no heartbeat since ${at(45)} (more than 30 s; last announced sequence 7)` });
  t.is(buildStatus(state, now).link, null, 'no diode, no link state');
});
