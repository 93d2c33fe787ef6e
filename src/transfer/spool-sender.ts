import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { syncDirectory } from '../core/atomic-file.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { writeBundle } from '../bundle/write-bundle.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { bundleFileName } from './spool-names.ts';

/**
 * Puts a bundle into the spool folder a transfer appliance carries across. It appears
 * under its final name only once complete and on disk (temp name, fsync, rename), so
 * an appliance that picks files up at any moment never takes half a bundle.
 */
export async function sendToSpool(options: { spool: string; manifest: Manifest; privateKey: KeyObject; store: BlobStore }): Promise<{ file: string; manifestBytes: Buffer }> {
  await mkdir(options.spool, { recursive: true });
  const finalName = path.join(options.spool, bundleFileName(options.manifest.sequence));
  // A dot-name: appliances and the receiver skip hidden files.
  const temporary = path.join(options.spool, `.${bundleFileName(options.manifest.sequence)}.partial-${process.pid}`);
  try {
    const { manifestBytes } = await writeBundle({ manifest: options.manifest, privateKey: options.privateKey, store: options.store, outputFile: temporary });
    await rename(temporary, finalName);
    await syncDirectory(options.spool);
    return { file: finalName, manifestBytes };
  } finally {
    await rm(temporary, { force: true });
  }
}
