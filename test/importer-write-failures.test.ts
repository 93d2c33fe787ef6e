import { mkdir, writeFile } from 'node:fs/promises';
import test from 'ava';
import { buildStatus } from '../src/repository/status-model.ts';
import { createEnvironment } from './helpers/environment.ts';

/*
 * Issue 13, item 9: an injected fsync EIO that hit the state write after a publish was only
 * logged, with no alarm. Every failed write shows an alarm with its cause.
 */

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', syscall: 'fsync' });
}

test('an fsync EIO on the state write that follows a publish raises the import-failed alarm with its cause, and the next poll clears it', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  const write = lgwan.database.write.bind(lgwan.database);
  let writes = 0;
  // The first write is the publish itself; the second records the bundle as processed.
  lgwan.database.write = async () => {
    writes += 1;
    if (writes === 2) throw eio();
    return write();
  };
  const outcomes = await lgwan.importOnce().catch((error: unknown) => [{ status: 'threw', reason: String(error) }]);
  t.like(outcomes.at(-1), { status: 'failed' });
  t.is(lgwan.database.data.published?.sequence, 1, 'the publication itself was written');
  const alarm = buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'import-failed');
  t.like(alarm, { severity: 'critical', subject: 'bundle-0000000001.tar' });
  t.regex(alarm?.detail ?? '', /EIO: i\/o error, fsync/u);

  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['duplicate'], 'the bundle is read again and found published');
  t.is(buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'import-failed'), undefined, 'the alarm clears once the write succeeds');
});

test('a refusal whose state write fails raises the import-failed alarm with its cause', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await mkdir(environment.config.lgwan.spool, { recursive: true });
  await writeFile(`${environment.config.lgwan.spool}/bundle-0000000007.tar`, 'junk'.repeat(1024));
  lgwan.database.write = () => Promise.reject(eio());
  await lgwan.importOnce().catch(() => undefined);
  const alarm = buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'import-failed');
  t.like(alarm, { subject: 'bundle-0000000007.tar' });
  t.regex(alarm?.detail ?? '', /EIO/u);
});
