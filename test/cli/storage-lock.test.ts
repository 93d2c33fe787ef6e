import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath, startCli } from '../helpers/processes.ts';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
}

test('a second process on a side\'s storage is refused, naming the holder, while the service runs; once it stops, the folder is free', async (t) => {
  // Only the run at start: no scheduled run during the test.
  const environment = await createEnvironment({ internet: { schedule: '0 0 1 1 *' } });
  t.teardown(environment.cleanup);
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const daemon = startCli(['daemon', '--side', 'internet', '--config', configFile], { LGWAN_MIRROR_LOG_LEVEL: 'info' });
  t.teardown(() => void daemon.stop());
  await daemon.waitFor(/bundle written to spool/u);
  const spool = environment.config.internet.spool;
  const spoolBefore = await readdir(spool);
  const stateBefore = await readFile(path.join(environment.config.internet.storage, 'state.json'), 'utf8');

  // "Send now", typed by an admin beside the running service.
  const refused = await cli(['send', '--force', '--config', configFile]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, new RegExp(`^lgwan-mirror: .*internet is in use by another lgwan-mirror process \\(pid ${daemon.child.pid}, "lgwan-mirror daemon --side internet --config [^"]+", since \\d{4}-[^)]+\\): stop it first \\(if it is the service: systemctl stop lgwan-mirror-internet\\)`, 'u'));
  t.notRegex(refused.stderr, /^\s+at /mu, 'no stack trace');
  t.is(await readFile(path.join(environment.config.internet.storage, 'state.json'), 'utf8'), stateBefore, 'the state was not touched');
  t.deepEqual(await readdir(spool), spoolBefore, 'no bundle was sent');

  t.is(await daemon.stop(), 0);
  const sent = await cli(['send', '--force', '--config', configFile]);
  t.is(sent.code, 0, sent.stderr);
  t.true((await readdir(spool)).length > spoolBefore.length, 'the forced bundle was sent');
});

test('a lock whose holder is gone, or whose PID now belongs to another process, is taken over at once', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const lockFile = path.join(environment.config.lgwan.storage, 'lgwan-mirror.lock');
  const exited = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => exited.once('exit', resolve));
  const running = spawn('sleep', ['30']);
  t.teardown(() => void running.kill());

  for (const [holder, why] of [
    [{ pid: exited.pid, startTime: null }, 'killed with -9: no such process any more'],
    [{ pid: running.pid, startTime: '1' }, 'the PID is reused by a process started at another time'],
  ] as const) {
    await writeFile(lockFile, JSON.stringify({ ...holder, command: 'lgwan-mirror import', since: '2026-11-22T00:00:00.000Z' }));
    const lgwan = await environment.openLgwan();
    t.is((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, process.pid, why);
    await lgwan.close();
    await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' }, 'closing the side frees the folder');
  }

  // The same running process recorded with its true start time holds the folder.
  const stat = await readFile(`/proc/${running.pid}/stat`, 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  await writeFile(lockFile, JSON.stringify({ pid: running.pid, startTime, command: 'lgwan-mirror import', since: '2026-11-22T00:00:00.000Z' }));
  await t.throwsAsync(environment.openLgwan(), { code: 'E_LOCKED', message: new RegExp(`in use by another lgwan-mirror process \\(pid ${running.pid}, "lgwan-mirror import".*systemctl stop lgwan-mirror-lgwan\\)`, 'u') });
});

test('one process may open a side more than once, at the same moment too; the folder is free when the last one closes', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const lockFile = path.join(environment.config.lgwan.storage, 'lgwan-mirror.lock');
  const [first, second] = await Promise.all([environment.openLgwan(), environment.openLgwan()]);
  await first.close();
  await first.close();
  t.is((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, process.pid, 'still held while the second side is open, however often the first is closed');
  await second.close();
  await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' });
});
