import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { advisoryDataOf, blobFileReader } from '../../src/advisories/published-advisories.ts';
import { readLgwanState } from '../../src/importer/lgwan-state.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { freePort, startCli } from '../helpers/processes.ts';

test('npm run demo fetches the advisory sources from the simulator, and its LGWAN side publishes data advisoryDataOf reads', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-demo-advisories-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  const demo = startCli(['demo', '--port', String(await freePort()), '--storage', storage]);
  t.teardown(() => void demo.stop());
  await demo.waitFor(/Press Ctrl-C to stop\./u, 90_000);
  for (const source of ['cisa-kev', 'debian-security-tracker', 'demo-csaf', 'jvn', 'mozilla-advisories']) t.regex(demo.output(), new RegExp(`  ${source}: fetched \\d{14}`, 'u'));
  const state = await readLgwanState(path.join(storage, 'lgwan', 'state.json'));
  const data = await advisoryDataOf(state.published, blobFileReader(new BlobStore(path.join(storage, 'lgwan', 'blobs'))));
  t.deepEqual(data.sources.map((source) => [source.source, source.problems]), [['cisa-kev', undefined], ['debian-security-tracker', undefined], ['demo-csaf', undefined], ['jvn', undefined], ['mozilla-advisories', undefined]]);
  t.deepEqual(data.advisories.find((advisory) => advisory.id === 'mfsa2024-63')?.fixes, [{ product: 'demo-firefox', fixedIn: '133.0' }]);
  t.is(await demo.stop('SIGINT'), 0);
});
