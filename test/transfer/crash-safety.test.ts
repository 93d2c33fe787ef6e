import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { openLgwanState } from '../../src/importer/lgwan-state.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

const rounds = 12;

function runImport(configFile: string, killAfterMs?: number): Promise<{ killed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cliPath, 'import', '--config', configFile], { stdio: 'ignore', env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'silent' } });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (_code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', ms: Date.now() - started });
    });
  });
}

async function filesUnder(directory: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true }).catch(() => [])) if (entry.isFile()) found.push(path.join(entry.parentPath, entry.name));
  return found;
}

test('kill -9 of the importer at random points never leaves a half-published state, and the next run completes the import', async (t) => {
  const environment = await createEnvironment({ mozilla: { fileSize: 16 * 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  await lgwan.close();
  const before = structuredClone(lgwan.database.data.published);
  t.is(before?.sequence, 1);
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();

  const storage = environment.config.lgwan.storage;
  const snapshot = path.join(environment.root, 'lgwan-before');
  await cp(storage, snapshot, { recursive: true });
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const restore = async () => {
    await rm(storage, { recursive: true, force: true });
    await cp(snapshot, storage, { recursive: true });
  };

  // How long an uninterrupted import takes, and a run with nothing to import (process start):
  // kills land anywhere between the end of start-up and the end of the import.
  const full = await runImport(configFile);
  const idle = await runImport(configFile);
  const outcomes = { old: 0, new: 0 };
  for (let round = 0; round < rounds; round += 1) {
    await restore();
    const earliest = Math.min(idle.ms * 0.8, full.ms * 0.5);
    const delay = Math.floor(earliest + Math.random() * (full.ms - earliest));
    await runImport(configFile, delay);
    const state = await openLgwanState(path.join(storage, 'state.json'));
    const published = state.data.published;
    if (published?.sequence === 1) {
      t.deepEqual(published, before, `round ${round} (killed after ${delay} ms): the previous state, unchanged`);
      outcomes.old += 1;
    } else {
      t.is(published?.sequence, 2, `round ${round}: either the old state or the whole new one`);
      t.is(state.data.transfer.highestSequence, 2, 'the high-water mark moved with the state, not before it');
      outcomes.new += 1;
    }
    // Every file the state names is present and whole: nothing half-written is ever published.
    for (const artifact of published!.artifacts) {
      const bytes = await readFile(path.join(storage, 'blobs', 'sha256', artifact.sha256.slice(0, 2), artifact.sha256));
      t.is(createHash('sha256').update(bytes).digest('hex'), artifact.sha256, `${artifact.path} in round ${round}`);
    }
  }
  t.log(`kills that left the old state: ${outcomes.old}, after the switch: ${outcomes.new} (an import takes ${full.ms} ms, a run with nothing to do ${idle.ms} ms)`);

  // After the last crash, the next import completes and leaves no temporary files behind.
  await runImport(configFile);
  const state = await openLgwanState(path.join(storage, 'state.json'));
  t.is(state.data.published?.sequence, 2);
  const leftovers = (await filesUnder(storage))
    .map((file) => path.relative(storage, file))
    .filter((file) => path.basename(file).startsWith('.tmp-') || file.startsWith(`blobs${path.sep}tmp${path.sep}`));
  t.deepEqual(leftovers, []);
});
