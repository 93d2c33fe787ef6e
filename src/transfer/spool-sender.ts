import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory, writeFileAtomic } from '../core/atomic-file.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { signManifest, transferKeyId } from '../bundle/transfer-key.ts';
import { writeBundle } from '../bundle/write-bundle.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { partsFormat, type PartsToc } from './parts-format.ts';
import { renderBundleSummary, type SummarisedFile } from '../bundle/bundle-summary.ts';
import { TransferFileNames } from './spool-names.ts';

export interface SpoolOptions {
  spool: string;
  manifest: Manifest;
  /** The exact bytes of `manifest` to carry (a reserved bundle sent again after a crash). */
  manifestBytes?: Buffer;
  privateKey: KeyObject;
  store: BlobStore;
  /** The appliance's file size limit: larger bundles are cut into parts. */
  partMaxBytes?: number;
  /** File names in this spool (transferFileExtension). */
  names?: TransferFileNames;
}

/**
 * Puts a bundle into the spool folder a transfer appliance carries across. Every file
 * appears under its final name only once complete and on disk (temp name, fsync, rename),
 * so an appliance that picks files up at any moment never takes half a file. A bundle
 * larger than `partMaxBytes` is written as parts, then their signed table of contents last.
 */
export async function sendToSpool(options: SpoolOptions): Promise<{ file: string; manifestBytes: Buffer; parts: number; summary: string }> {
  await mkdir(options.spool, { recursive: true });
  const names = options.names ?? new TransferFileNames();
  const sequence = options.manifest.sequence;
  const bundleName = names.bundle(sequence);
  // A dot-name: appliances and the receiver skip hidden files.
  const temporary = path.join(options.spool, `.${bundleName}.partial-${process.pid}`);
  // The approver's summary goes before the file that makes the receiver look (bundle or TOC).
  const summaryFile = path.join(options.spool, names.summary(sequence));
  try {
    const written = await writeBundle({ manifest: options.manifest, manifestBytes: options.manifestBytes, privateKey: options.privateKey, store: options.store, outputFile: temporary });
    const { manifestBytes } = written;
    const bundle: SummarisedFile = { name: bundleName, size: written.size, sha256: written.sha256 };
    if (options.partMaxBytes === undefined || written.size <= options.partMaxBytes) {
      await writeFileAtomic(summaryFile, renderBundleSummary({ manifest: options.manifest, bundle }));
      const finalName = path.join(options.spool, bundleName);
      await rename(temporary, finalName);
      await syncDirectory(options.spool);
      return { file: finalName, manifestBytes, parts: 1, summary: summaryFile };
    }
    const toc = await writeParts(options, names, temporary, written.size, options.partMaxBytes);
    const tocBytes = Buffer.from(JSON.stringify(toc));
    const signature = signManifest(tocBytes, options.privateKey);
    const tocFile = path.join(options.spool, names.toc(sequence));
    const digestOf = (name: string, data: Buffer): SummarisedFile => ({ name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    await writeFileAtomic(
      summaryFile,
      renderBundleSummary({
        manifest: options.manifest,
        bundle,
        parts: { toc: digestOf(names.toc(sequence), tocBytes), tocSignature: digestOf(names.tocSignature(sequence), signature), list: toc.parts },
      }),
    );
    // The signature first, the TOC last: the TOC's arrival is what tells the receiver to look.
    await writeFileAtomic(path.join(options.spool, names.tocSignature(sequence)), signature);
    await writeFileAtomic(tocFile, tocBytes);
    return { file: tocFile, manifestBytes, parts: toc.parts.length, summary: summaryFile };
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
    // Any transfer file name (with or without a transferFileExtension), the summary included.
    const leftover = /^\.bundle-\d{10}\.[A-Za-z0-9.-]+\.partial-(\d+)$/u.exec(name) ?? /^\.tmp-bundle-\d{10}\.[A-Za-z0-9.-]+-(\d+)-[0-9a-f]{12}$/u.exec(name);
    if (!leftover || Number(leftover[1]) === process.pid) continue;
    await rm(path.join(spool, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** One read of the bundle: each part written, fsynced and renamed while both digests are computed. */
async function writeParts(options: SpoolOptions, names: TransferFileNames, bundleFile: string, size: number, partMaxBytes: number): Promise<PartsToc> {
  const sequence = options.manifest.sequence;
  const whole = createHash('sha256');
  const parts: PartsToc['parts'] = [];
  let index = 0;
  for (let offset = 0; offset < size; offset += partMaxBytes) {
    index += 1;
    const name = names.part(sequence, index);
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
