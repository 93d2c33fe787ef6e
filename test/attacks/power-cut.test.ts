import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { buildStatus } from '../../src/repository/status-model.ts';
import { createEnvironment } from '../helpers/environment.ts';

/*
 * Threat: a power cut or kill -9 at the wrong moment, on either side (docs/transfer.md, "Threat
 * model"). What must hold: a sequence number that may have left is never reused for other
 * content, the LGWAN side serves the old state or the whole new one, and leftovers are cleaned
 * at the next start. What does not hold: work in progress is lost (the send or import runs
 * again). test/transfer/send-crash.test.ts and crash-safety.test.ts kill real processes at
 * random moments, many rounds; these are the moments found to matter, made exact.
 */

test('power cut: the internet side dies after a bundle reached the outbox but before its state recorded it, and sends the same bytes again', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const spool = environment.config.internet.spool;
  const write = internet.database.write.bind(internet.database);
  internet.database.write = async () => {
    if (await access(path.join(spool, 'bundle-0000000001.tar')).then(() => true, () => false)) throw new Error('power cut');
    return write();
  };
  await t.throwsAsync(internet.runOnce());
  internet.close();
  const first = await readFile(path.join(spool, 'bundle-0000000001.tar'));
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const restarted = await environment.openInternet();
  t.teardown(() => restarted.close());
  t.like(await restarted.send(), { status: 'sent', sequence: 1 });
  t.true((await readFile(path.join(spool, 'bundle-0000000001.tar'))).equals(first));
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['duplicate']);
  t.like(await restarted.send({ force: true }), { status: 'sent', sequence: 2 });
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.deepEqual(lgwan.database.data.refusals, []);
});

test('power cut: the LGWAN side dies between publishing and recording the bundle as processed, and after restart serves the new state with no alarm', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  const write = lgwan.database.write.bind(lgwan.database);
  let writes = 0;
  lgwan.database.write = async () => {
    writes += 1;
    if (writes >= 2) throw new Error('power cut');
    return write();
  };
  await lgwan.importOnce();
  await lgwan.close();
  const restarted = await environment.openLgwan();
  t.teardown(() => restarted.close());
  t.is(restarted.database.data.published?.sequence, 1, 'the publication was on disk');
  t.deepEqual((await restarted.importOnce()).map((outcome) => outcome.status), ['duplicate']);
  t.deepEqual(buildStatus(restarted.database.data, new Date()).alarms.filter((alarm) => alarm.severity === 'critical'), []);
});

test('power cut: files a killed write left behind are removed at the next start on both sides', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const spool = environment.config.internet.spool;
  await mkdir(spool, { recursive: true });
  await mkdir(environment.config.lgwan.storage, { recursive: true });
  await writeFile(path.join(spool, '.bundle-0000000001.tar.partial-999999'), Buffer.alloc(4096));
  await writeFile(path.join(spool, '.bundle-0000000001.part-0001.partial-999999'), Buffer.alloc(4096));
  await writeFile(path.join(environment.config.lgwan.storage, '.tmp-state.json-999999-abcdef'), '{"half":');
  const internet = await environment.openInternet();
  t.teardown(() => internet.close());
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  t.deepEqual((await readdir(spool)).filter((name) => name.startsWith('.')), []);
  t.deepEqual((await readdir(environment.config.lgwan.storage)).filter((name) => name.startsWith('.tmp-')), []);
});
