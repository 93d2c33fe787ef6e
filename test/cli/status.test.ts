import { execFile } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

const run = promisify(execFile);

test('"status" reads the LGWAN state beside a running daemon and leaves its temporary files alone', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  t.like((await lgwan.importOnce())[0], { status: 'published', sequence: 1 });

  // What a daemon importing the next bundle has on disk at this moment: a blob being
  // received and a state write between its fsync and its rename.
  const storage = environment.config.lgwan.storage;
  await mkdir(path.join(storage, 'blobs', 'tmp'), { recursive: true });
  const inFlight = [path.join(storage, 'blobs', 'tmp', 'blob-being-received'), path.join(storage, '.tmp-state.json-4242')];
  for (const file of inFlight) await writeFile(file, 'in progress');

  const { stdout } = await run(process.execPath, [cliPath, 'status', '--config', path.join(environment.root, 'lgwan-mirror.yaml')]);
  t.regex(stdout, /^bundle sequence 1, last import \d{4}-/u);
  t.regex(stdout, /^demo-firefox\tvendor 131\.0\tpublished 131\.0\t/mu);
  for (const file of inFlight) await t.notThrowsAsync(access(file), `${path.basename(file)} is still there`);
});
