import { rm } from 'node:fs/promises';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide } from '../../src/sides/internet.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { makeAndSendBundle } from '../../src/fetcher/make-bundle.ts';
import { loadTransferPrivateKey } from '../../src/bundle/transfer-key.ts';
import { createEnvironment } from '../helpers/environment.ts';

test('a receiver that lost a bundle waits for the files it missed, and the carousel brings them with no back channel', async (t) => {
  const environment = await createEnvironment({ internet: { carousel: { everyHours: 1, maxBytes: 64 * 1024 * 1024 } } });
  t.teardown(environment.cleanup);
  const loaded = environment.config;
  const internet = await openInternetSide(loaded.internet, silentLogger, { interactive: false, backoffMs: 10 });
  const lgwan = await environment.openLgwan();

  const first = await internet.runOnce();
  t.is(first.bundle.status, 'sent');
  // The appliance loses bundle 1.
  await rm((first.bundle as { file: string }).file);

  environment.simulator.options.mozilla.latest = '131.0.1';
  const second = await internet.runOnce();
  t.like(second.bundle, { status: 'sent', sequence: 2, resent: 0 }, 'the carousel is not due yet: only new files travel');
  const [waiting] = await lgwan.importOnce();
  t.is(waiting?.status, 'waiting');
  t.is(lgwan.database.data.published, null, 'half a state is never published');
  const alarm = buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'waiting-for-blobs');
  t.like(alarm, { subject: 'bundle-0000000002.tar' });

  // Two hours later the carousel sends every file not sent within the hour again.
  const { privateKey, keyId } = await loadTransferPrivateKey(loaded.internet.transferKey);
  const third = await makeAndSendBundle({
    entries: internet.entries, database: internet.database, store: internet.store, spool: loaded.internet.spool, privateKey, keyId, logger: silentLogger,
    carousel: loaded.internet.carousel, now: () => new Date(Date.now() + 2 * 3_600_000),
  });
  t.like(third, { status: 'sent', sequence: 3 });
  t.true((third as { resent: number }).resent >= 10, 'the files of the lost bundle travel again');
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published']);
  t.deepEqual(
    [...new Set(lgwan.database.data.published!.artifacts.filter((artifact) => artifact.productId === 'demo-firefox').map((artifact) => artifact.version))].sort(),
    ['131.0', '131.0.1'],
  );
  t.is(lgwan.database.data.transfer.waiting, null);
});
