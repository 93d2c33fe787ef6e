import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BundleRefusedError, changedInTransit } from '../core/errors.ts';
import { signerOf, type TrustedTransferKey } from '../bundle/transfer-key.ts';
import { maxTocBytes, tocSchema, type PartsToc } from './parts-format.ts';
import { TransferFileNames } from './spool-names.ts';

export type Assembly =
  | { status: 'complete'; sequence: number; file: string; toc: PartsToc }
  /** `changed`: parts that arrived complete but are not the bytes the TOC names (see stagePart). */
  | { status: 'incomplete'; sequence: number; missing: string[]; changed: string[] };

async function readLimited(file: string, limit: number): Promise<Buffer | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return undefined;
  if (info.size > limit) throw changedInTransit('E_SIZE_LIMIT', `${path.basename(file)}: ${info.size} bytes, more than its limit of ${limit}`, { file: path.basename(file) });
  return readFile(file);
}

async function directorySize(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(directory, entry.name);
    total += entry.isDirectory() ? await directorySize(full) : ((await stat(full).catch(() => undefined))?.size ?? 0);
  }
  return total;
}

/**
 * Copies one part out of the spool while hashing it; only a part that matches the TOC is kept.
 * `absent`: not there, or shorter than promised (still being written: look again next poll);
 * `changed`: longer than promised, or of the promised size with other bytes (a sanitiser
 * rebuilt it, or someone altered it): it stays missing, and the status page says so.
 */
async function stagePart(source: string, destination: string, expected: PartsToc['parts'][number]): Promise<'staged' | 'absent' | 'changed'> {
  const info = await stat(source).catch(() => undefined);
  if (!info || info.size < expected.size) return 'absent';
  if (info.size > expected.size) return 'changed';
  const temporary = `${destination}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  const handle = await open(temporary, 'w', 0o644);
  try {
    let copied = 0;
    for await (const chunk of createReadStream(source, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      copied += chunk.length;
      if (copied > expected.size) {
        await rm(temporary, { force: true });
        return 'changed';
      }
      await handle.write(chunk);
      hash.update(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (hash.digest('hex') !== expected.sha256) {
    await rm(temporary, { force: true });
    return 'changed';
  }
  await rename(temporary, destination);
  return 'staged';
}

/**
 * Reassembles a bundle sent as parts: the TOC's signature is checked with the pinned
 * transfer key first; then each part is copied from the spool into the LGWAN side's own
 * staging folder and kept only if its size and sha256 match the TOC. Parts may arrive in
 * any order, twice, or half-written; names in the spool are used only to find candidates.
 * The spool is never written. Returns the whole bundle's path once every part is staged.
 */
export async function assembleParts(options: {
  spool: string;
  staging: string;
  tocName: string;
  keys: readonly TrustedTransferKey[];
  quotaBytes: number;
  /** This spool's file names (transferFileExtension). */
  names?: TransferFileNames;
}): Promise<Assembly> {
  const names = options.names ?? new TransferFileNames();
  const nameSequence = names.parse(options.tocName)?.sequence ?? 0;
  const signatureName = names.tocSignature(nameSequence);
  const tocBytes = await readLimited(path.join(options.spool, options.tocName), maxTocBytes);
  const signature = await readLimited(path.join(options.spool, signatureName), 64);
  if (!tocBytes || !signature) return { status: 'incomplete', sequence: nameSequence, missing: [signatureName], changed: [] };
  const signer = signerOf(tocBytes, signature, options.keys);
  if (!signer) throw changedInTransit('E_SIGNATURE', `${options.tocName}: the table of contents is not signed by the pinned transfer key`, { file: options.tocName });
  let toc: PartsToc;
  try {
    toc = tocSchema.parse(JSON.parse(tocBytes.toString('utf8')));
  } catch (error) {
    throw new BundleRefusedError('E_BUNDLE_INVALID', `${options.tocName}: not a valid table of contents (${(error as Error).message.split('\n')[0]})`);
  }
  if (toc.transferKeyId !== signer.keyId) throw new BundleRefusedError('E_SIGNATURE', `${options.tocName}: made for transfer key ${toc.transferKeyId}`);
  const consistent =
    names.toc(toc.sequence) === options.tocName &&
    toc.parts.every((part, position) => part.index === position + 1 && part.name === names.part(toc.sequence, part.index)) &&
    toc.parts.reduce((sum, part) => sum + part.size, 0) === toc.bundleSize;
  if (!consistent) throw new BundleRefusedError('E_BUNDLE_INVALID', `${options.tocName}: part names, order or sizes do not add up to the bundle it describes`);

  const directory = path.join(options.staging, String(toc.sequence));
  const used = (await directorySize(options.staging)) - (await directorySize(directory));
  if (used + toc.bundleSize * 2 > options.quotaBytes) {
    throw new BundleRefusedError('E_SIZE_LIMIT', `${options.tocName}: ${toc.bundleSize} bytes do not fit the staging quota of ${options.quotaBytes} bytes (${used} in use)`);
  }
  await mkdir(directory, { recursive: true });
  const missing: string[] = [];
  const changed: string[] = [];
  for (const part of toc.parts) {
    const staged = path.join(directory, String(part.index));
    if ((await stat(staged).catch(() => undefined))?.size === part.size) continue;
    const outcome = await stagePart(path.join(options.spool, part.name), staged, part);
    if (outcome !== 'staged') missing.push(part.name);
    if (outcome === 'changed') changed.push(part.name);
  }
  if (missing.length > 0) return { status: 'incomplete', sequence: toc.sequence, missing, changed };

  // Every part verified: join them, and check the whole once more.
  const file = path.join(options.staging, names.bundle(toc.sequence));
  const temporary = `${file}.tmp-${process.pid}`;
  const whole = createHash('sha256');
  const handle = await open(temporary, 'w', 0o644);
  try {
    for (const part of toc.parts) {
      for await (const chunk of createReadStream(path.join(directory, String(part.index)), { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        await handle.write(chunk);
        whole.update(chunk);
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (whole.digest('hex') !== toc.bundleSha256) {
    await rm(temporary, { force: true });
    throw changedInTransit('E_INTEGRITY', `${options.tocName}: the joined parts do not hash to the bundle the TOC names`, { file: options.tocName });
  }
  await rename(temporary, file);
  await rm(directory, { recursive: true, force: true });
  return { status: 'complete', sequence: toc.sequence, file, toc };
}
