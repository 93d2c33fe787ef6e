import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory, writeFileAtomic } from '../core/atomic-file.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { signManifest, transferKeyId } from '../bundle/transfer-key.ts';
import { writeBundle } from '../bundle/write-bundle.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { partsFormat, type PartsToc } from './parts-format.ts';
import { bundleFileName, partFileName, tocFileName } from './spool-names.ts';

export interface SpoolOptions {
  spool: string;
  manifest: Manifest;
  /** The exact bytes of `manifest` to carry (a reserved bundle sent again after a crash). */
  manifestBytes?: Buffer;
  privateKey: KeyObject;
  store: BlobStore;
  /** The appliance's file size limit: larger bundles are cut into parts. */
  partMaxBytes?: number;
}

/**
 * Puts a bundle into the spool folder a transfer appliance carries across. Every file
 * appears under its final name only once complete and on disk (temp name, fsync, rename),
 * so an appliance that picks files up at any moment never takes half a file. A bundle
 * larger than `partMaxBytes` is written as parts, then their signed table of contents last.
 */
export async function sendToSpool(options: SpoolOptions): Promise<{ file: string; manifestBytes: Buffer; parts: number }> {
  await mkdir(options.spool, { recursive: true });
  const sequence = options.manifest.sequence;
  // A dot-name: appliances and the receiver skip hidden files.
  const temporary = path.join(options.spool, `.${bundleFileName(sequence)}.partial-${process.pid}`);
  try {
    const { manifestBytes } = await writeBundle({ manifest: options.manifest, manifestBytes: options.manifestBytes, privateKey: options.privateKey, store: options.store, outputFile: temporary });
    const { size } = await stat(temporary);
    if (options.partMaxBytes === undefined || size <= options.partMaxBytes) {
      const finalName = path.join(options.spool, bundleFileName(sequence));
      await rename(temporary, finalName);
      await syncDirectory(options.spool);
      return { file: finalName, manifestBytes, parts: 1 };
    }
    const toc = await writeParts(options, temporary, size, options.partMaxBytes);
    const tocBytes = Buffer.from(JSON.stringify(toc));
    const tocFile = path.join(options.spool, tocFileName(sequence));
    // The signature first, the TOC last: the TOC's arrival is what tells the receiver to look.
    await writeFileAtomic(`${tocFile}.sig`, signManifest(tocBytes, options.privateKey));
    await writeFileAtomic(tocFile, tocBytes);
    return { file: tocFile, manifestBytes, parts: toc.parts.length };
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * Removes what sends killed mid-write left in the spool: hidden `.bundle-….partial-<pid>` and
 * `.tmp-…` files (hundreds of MB each). Only the holder of the internet side's storage lock
 * writes this spool, so none of them belongs to a send still running — except this process's own.
 */
export async function clearInterruptedSends(spool: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(spool).catch(() => [] as string[])) {
    const leftover = /^\.bundle-\d{10}\.(tar|part-\d{4})\.partial-(\d+)$/u.exec(name) ?? /^\.tmp-bundle-\d{10}\.toc(\.sig)?-(\d+)-[0-9a-f]+$/u.exec(name);
    if (!leftover || Number(leftover[2]) === process.pid) continue;
    await rm(path.join(spool, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** One read of the bundle: each part written, fsynced and renamed while both digests are computed. */
async function writeParts(options: SpoolOptions, bundleFile: string, size: number, partMaxBytes: number): Promise<PartsToc> {
  const sequence = options.manifest.sequence;
  const whole = createHash('sha256');
  const parts: PartsToc['parts'] = [];
  let index = 0;
  for (let offset = 0; offset < size; offset += partMaxBytes) {
    index += 1;
    const name = partFileName(sequence, index);
    const finalName = path.join(options.spool, name);
    const temporary = path.join(options.spool, `.${name}.partial-${process.pid}`);
    const partHash = createHash('sha256');
    const handle = await open(temporary, 'w', 0o644);
    let partSize = 0;
    try {
      for await (const chunk of createReadStream(bundleFile, { start: offset, end: Math.min(offset + partMaxBytes, size) - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        await handle.write(chunk);
        partHash.update(chunk);
        whole.update(chunk);
        partSize += chunk.length;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, finalName);
    parts.push({ index, name, size: partSize, sha256: partHash.digest('hex') });
  }
  await syncDirectory(options.spool);
  return {
    format: partsFormat,
    sequence,
    transferKeyId: transferKeyId(createPublicKey(options.privateKey)),
    // The bundle's own time: the same bundle sent again after a crash gets the same TOC.
    createdAt: options.manifest.createdAt,
    bundleSize: size,
    bundleSha256: whole.digest('hex'),
    parts,
  };
}
