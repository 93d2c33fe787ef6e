import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BundleRefusedError } from '../core/errors.ts';
import { signerOf, type TrustedTransferKey } from '../bundle/transfer-key.ts';
import { maxTocBytes, tocSchema, type PartsToc } from './parts-format.ts';
import { bundleFileName, partFileName, tocFileName } from './spool-names.ts';

export type Assembly =
  | { status: 'complete'; sequence: number; file: string }
  | { status: 'incomplete'; sequence: number; missing: string[] };

async function readLimited(file: string, limit: number): Promise<Buffer | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return undefined;
  if (info.size > limit) throw new BundleRefusedError('E_SIZE_LIMIT', `${path.basename(file)}: ${info.size} bytes, more than its limit of ${limit}`);
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

/** Copies one part out of the spool while hashing it; only a part that matches the TOC is kept. */
async function stagePart(source: string, destination: string, expected: PartsToc['parts'][number]): Promise<boolean> {
  const info = await stat(source).catch(() => undefined);
  // Missing, or still being written by the appliance: look again at the next poll.
  if (!info || info.size !== expected.size) return false;
  const temporary = `${destination}.tmp-${process.pid}`;
  const hash = createHash('sha256');
  const handle = await open(temporary, 'w', 0o644);
  try {
    let copied = 0;
    for await (const chunk of createReadStream(source, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      copied += chunk.length;
      if (copied > expected.size) return false;
      await handle.write(chunk);
      hash.update(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (hash.digest('hex') !== expected.sha256) {
    await rm(temporary, { force: true });
    return false;
  }
  await rename(temporary, destination);
  return true;
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
}): Promise<Assembly> {
  const tocBytes = await readLimited(path.join(options.spool, options.tocName), maxTocBytes);
  const signature = await readLimited(path.join(options.spool, `${options.tocName}.sig`), 64);
  const nameSequence = Number(/^bundle-(\d{10})\.toc$/u.exec(options.tocName)?.[1]);
  if (!tocBytes || !signature) return { status: 'incomplete', sequence: nameSequence, missing: [`${options.tocName}.sig`] };
  const signer = signerOf(tocBytes, signature, options.keys);
  if (!signer) throw new BundleRefusedError('E_SIGNATURE', `${options.tocName}: the table of contents is not signed by the pinned transfer key`);
  let toc: PartsToc;
  try {
    toc = tocSchema.parse(JSON.parse(tocBytes.toString('utf8')));
  } catch (error) {
    throw new BundleRefusedError('E_BUNDLE_INVALID', `${options.tocName}: not a valid table of contents (${(error as Error).message.split('\n')[0]})`);
  }
  if (toc.transferKeyId !== signer.keyId) throw new BundleRefusedError('E_SIGNATURE', `${options.tocName}: made for transfer key ${toc.transferKeyId}`);
  const consistent =
    tocFileName(toc.sequence) === options.tocName &&
    toc.parts.every((part, position) => part.index === position + 1 && part.name === partFileName(toc.sequence, part.index)) &&
    toc.parts.reduce((sum, part) => sum + part.size, 0) === toc.bundleSize;
  if (!consistent) throw new BundleRefusedError('E_BUNDLE_INVALID', `${options.tocName}: part names, order or sizes do not add up to the bundle it describes`);

  const directory = path.join(options.staging, String(toc.sequence));
  const used = (await directorySize(options.staging)) - (await directorySize(directory));
  if (used + toc.bundleSize * 2 > options.quotaBytes) {
    throw new BundleRefusedError('E_SIZE_LIMIT', `${options.tocName}: ${toc.bundleSize} bytes do not fit the staging quota of ${options.quotaBytes} bytes (${used} in use)`);
  }
  await mkdir(directory, { recursive: true });
  const missing: string[] = [];
  for (const part of toc.parts) {
    const staged = path.join(directory, String(part.index));
    if ((await stat(staged).catch(() => undefined))?.size === part.size) continue;
    if (!(await stagePart(path.join(options.spool, part.name), staged, part))) missing.push(part.name);
  }
  if (missing.length > 0) return { status: 'incomplete', sequence: toc.sequence, missing };

  // Every part verified: join them, and check the whole once more.
  const file = path.join(options.staging, bundleFileName(toc.sequence));
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
    throw new BundleRefusedError('E_INTEGRITY', `${options.tocName}: the joined parts do not hash to the bundle the TOC names`);
  }
  await rename(temporary, file);
  await rm(directory, { recursive: true, force: true });
  return { status: 'complete', sequence: toc.sequence, file };
}
