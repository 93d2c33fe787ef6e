import { createPrivateKey } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { manifestOf, readTar, resign, writeTar, type TarEntry } from './bundle-surgery.ts';
import { createEnvironment } from './environment.ts';

/**
 * A stolen transfer key at work: bundle 1 is published; bundle 2 is held back, its manifest
 * edited by `edit` (which may also change its entries, reading published blobs), signed again
 * with the real transfer key and put into the LGWAN spool under the name of sequence
 * `fileSequence`, then imported. Returns that import's outcome and the published state from
 * before it. `setup` makes the environment (the advisory tests use their own).
 */
export async function importForgedSecondBundle<E extends Awaited<ReturnType<typeof createEnvironment>>>(
  t: ExecutionContext,
  edit: (manifest: Manifest, entries: TarEntry[], readPublished: (sha256: string) => Promise<Buffer>) => void | Promise<void>,
  fileSequence = 2,
  setup: () => Promise<E> = createEnvironment as () => Promise<E>,
) {
  const environment = await setup();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const before = structuredClone(lgwan.database.data.published);
  const second = await internet.send({ force: true });
  const held = path.join(environment.root, 'held-back.tar');
  await rename((second as { file: string }).file, held);
  const entries = await readTar(held);
  const manifest = manifestOf(entries);
  await edit(manifest, entries, (blob) => readFile(lgwan.store.pathOf(blob)));
  const privateKey = createPrivateKey(await readFile(environment.config.internet.transferKey));
  await writeTar(path.join(environment.config.lgwan.spool, bundleFileName(fileSequence)), resign(entries, manifest, privateKey));
  const outcome = (await lgwan.importOnce()).at(-1) as { status: string; code?: string; reason?: string };
  return { environment, lgwan, before, outcome };
}
