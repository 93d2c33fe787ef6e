import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Low, Memory } from 'lowdb';
import { readBundle, type ReceivedBlob } from '../bundle/read-bundle.ts';
import { renderBundleSummary, type SummarisedFile } from '../bundle/bundle-summary.ts';
import type { TrustedTransferKey } from '../bundle/transfer-key.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { LgwanMirrorError, changedInTransitAdvice, errorMessage } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { BlobStore } from '../store/blob-store.ts';
import { assembleParts, type Assembly } from '../transfer/parts-receiver.ts';
import type { PartsToc } from '../transfer/parts-format.ts';
import { listSpool, type SpooledBundle } from '../transfer/spool-receiver.ts';
import { TransferFileNames } from '../transfer/spool-names.ts';
import type { PinnedKeyring } from '../verify/pinned-keys.ts';
import { importBundle, trustedKeys, type ImportOutcome, type ImporterOptions } from './import-bundle.ts';
import type { LgwanState } from './lgwan-state.ts';

/*
 * `lgwan-mirror bundle inspect`: what the importer would do with the files an approver is
 * about to release, without changing anything. It runs the importer itself in its dry-run
 * mode, against a copy of the LGWAN side's state held in memory; blobs are written only to
 * a scratch folder of its own, which is removed afterwards. The spool, the store, the state
 * and the quarantine are only read.
 */

export type InspectVerdict = 'publish' | 'duplicate' | 'wait-for-files' | 'incomplete' | 'refuse';

export interface InspectedBundle {
  /** The file inspected (a bundle, or the table of contents of one sent as parts). */
  file: string;
  /** The summary rendered from the verified manifest; absent when nothing could be verified. */
  summary?: string;
  /**
   * The summary file found beside it: compared with the one rendered from the verified
   * manifest; or, when nothing verified, whether it lists this file's size and SHA-256 (it is
   * unsigned text, so this only helps tell "changed on the way" from "never ours").
   */
  summaryBeside: 'identical' | 'different' | 'absent' | 'lists-this-file' | 'does-not-list-this-file';
  verdict: InspectVerdict;
  reason: string;
  outcome?: ImportOutcome;
}

export interface InspectOptions {
  target: string;
  state: LgwanState;
  pinnedKey: TrustedTransferKey;
  keyring: PinnedKeyring;
  /** The LGWAN side's blob folder: blobs imported before count as present (read only). */
  blobsRoot: string;
  names: TransferFileNames;
  stagingQuotaBytes: number;
  /** Where scratch copies go (default: the system's temporary folder); removed afterwards. */
  scratchParent?: string;
  now?: () => Date;
}

async function digestOfFile(file: string, name: string): Promise<SummarisedFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { name, size, sha256: hash.digest('hex') };
}

/** Inspects one file or every transfer file in a folder, oldest sequence first. */
export async function inspectBundles(options: InspectOptions): Promise<InspectedBundle[]> {
  const scratch = await mkdtemp(path.join(options.scratchParent ?? tmpdir(), 'lgwan-mirror-inspect-'));
  try {
    const clone = structuredClone(options.state);
    // Every file is examined afresh: the real importer's "seen already" marks do not apply.
    clone.processed = {};
    const importer: ImporterOptions = {
      database: new Low<LgwanState>(new Memory<LgwanState>(), clone),
      store: new BlobStore(options.blobsRoot, path.join(scratch, 'tmp')),
      keyring: options.keyring,
      pinnedKey: options.pinnedKey,
      storageRoot: scratch,
      logger: silentLogger,
      names: options.names,
      stagingQuotaBytes: options.stagingQuotaBytes,
      now: options.now,
      dryRun: { carried: new Map<string, ReceivedBlob>() },
    };
    const results: InspectedBundle[] = [];
    for (const entry of await entriesOf(options.target, options.names)) results.push(await inspectEntry(importer, options.names, entry, scratch));
    return results;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function entriesOf(target: string, names: TransferFileNames): Promise<SpooledBundle[]> {
  const info = await stat(target).catch((cause: NodeJS.ErrnoException) => {
    throw new LgwanMirrorError('E_USAGE', `${target}: ${cause.code === 'ENOENT' ? 'no such file or folder' : cause.message}`, { cause });
  });
  if (info.isDirectory()) return listSpool(target, names);
  const directory = path.dirname(target);
  const name = path.basename(target);
  const parsed = names.parse(name);
  // A part, a signature or a summary stands for the bundle it belongs to.
  if (parsed && parsed.kind !== 'bundle' && parsed.kind !== 'toc') {
    const siblings = await listSpool(directory, names);
    const owner = siblings.find((entry) => entry.kind !== 'renamed' && names.parse(entry.name)?.sequence === parsed.sequence);
    if (!owner) throw new LgwanMirrorError('E_USAGE', `${target}: neither ${names.bundle(parsed.sequence)} nor ${names.toc(parsed.sequence)} is beside it`);
    return [owner];
  }
  const kind = parsed?.kind === 'toc' ? 'parts' : parsed?.kind === 'bundle' ? 'bundle' : 'renamed';
  return [{ kind, name, file: target, size: info.size, mtimeMs: info.mtimeMs }];
}

/** For a file nothing could verify: does the summary beside it list exactly these bytes? */
async function unverifiedAgainstSummary(entry: SpooledBundle, names: TransferFileNames): Promise<InspectedBundle['summaryBeside']> {
  const sequence = Number(/bundle-(\d{10})/u.exec(entry.name)?.[1] ?? 0);
  const beside = await readFile(path.join(path.dirname(entry.file), names.summary(sequence)), 'utf8').catch(() => undefined);
  if (beside === undefined) return 'absent';
  const file = await digestOfFile(entry.file, entry.name);
  return beside.includes(`  ${file.size.toLocaleString('en-US')} bytes  SHA-256 ${file.sha256}`) ? 'lists-this-file' : 'does-not-list-this-file';
}

async function inspectEntry(importer: ImporterOptions, names: TransferFileNames, entry: SpooledBundle, scratch: string): Promise<InspectedBundle> {
  const directory = path.dirname(entry.file);
  let bundleFile = entry.file;
  let parts: { toc: PartsToc; tocFile: string } | undefined;
  if (entry.kind === 'parts') {
    let assembly: Assembly;
    try {
      assembly = await assembleParts({ spool: directory, staging: path.join(scratch, 'staging'), tocName: entry.name, keys: trustedKeys(importer), quotaBytes: importer.stagingQuotaBytes ?? 64 * 1024 ** 3, names });
    } catch (error) {
      if (!(error instanceof LgwanMirrorError)) throw error;
      return { file: entry.file, summaryBeside: 'absent', verdict: 'refuse', reason: error.message };
    }
    if (assembly.status === 'incomplete') {
      const changed = assembly.changed.length > 0 ? `; changed on the way: ${assembly.changed.join(', ')} — ${changedInTransitAdvice}` : '';
      return { file: entry.file, summaryBeside: 'absent', verdict: assembly.changed.length > 0 ? 'refuse' : 'incomplete', reason: `parts missing or not as the signed table of contents says: ${assembly.missing.join(', ')}${changed}` };
    }
    bundleFile = assembly.file;
    parts = { toc: assembly.toc, tocFile: entry.file };
  }

  // The summary is rendered only from a manifest whose transfer signature verified.
  let manifest: Manifest | undefined;
  try {
    ({ manifest } = await readBundle({ file: bundleFile, keys: trustedKeys(importer), store: importer.store, onManifest: () => 'stop' }));
  } catch (error) {
    if (!(error instanceof LgwanMirrorError)) throw error;
    const renamed = entry.kind === 'renamed' ? `${entry.name}: not a name the importer takes (renamed on the way?); read as a bundle: ` : '';
    return { file: entry.file, summaryBeside: await unverifiedAgainstSummary(entry, names), verdict: 'refuse', reason: `${renamed}${error.message}` };
  }
  const sequence = manifest.sequence;
  const expectedName = parts ? names.toc(sequence) : names.bundle(sequence);
  const bundle = await digestOfFile(bundleFile, names.bundle(sequence));
  let summary: string;
  if (parts) {
    const tocSignatureFile = path.join(directory, names.tocSignature(sequence));
    summary = renderBundleSummary({
      manifest,
      bundle,
      parts: { toc: await digestOfFile(parts.tocFile, names.toc(sequence)), tocSignature: await digestOfFile(tocSignatureFile, names.tocSignature(sequence)), list: parts.toc.parts },
    });
  } else {
    summary = renderBundleSummary({ manifest, bundle });
  }
  const beside = await readFile(path.join(directory, names.summary(sequence)), 'utf8').catch(() => undefined);
  const summaryBeside = beside === undefined ? 'absent' : beside === summary ? 'identical' : 'different';

  const importedBefore = importer.database.data.transfer.highestSequence;
  let outcome: ImportOutcome;
  try {
    outcome = await importBundle(importer, { file: bundleFile, name: entry.name });
  } finally {
    if (parts) await rm(bundleFile, { force: true });
  }
  const base = { file: entry.file, summary, summaryBeside, outcome } as const;
  if (entry.name !== expectedName) {
    const content = outcome.status === 'refused' ? `its content is refused too: ${outcome.reason}` : 'its content is intact';
    return { ...base, verdict: 'refuse', reason: `${entry.name}: renamed on the way (the importer takes only ${expectedName}); ${content} — ${changedInTransitAdvice}` };
  }
  switch (outcome.status) {
    case 'would-publish':
      return { ...base, verdict: 'publish', reason: `sequence ${outcome.sequence} after ${importedBefore === 0 ? 'none imported yet' : `the imported ${importedBefore}`}: ${outcome.artifacts} files published, ${outcome.newBlobs} carried in this bundle; the transfer signature, every hash and every vendor signature verified with this side's keys` };
    case 'duplicate':
      return { ...base, verdict: 'duplicate', reason: `sequence ${outcome.sequence} is already imported with these exact contents: nothing to do` };
    case 'waiting':
      return { ...base, verdict: 'wait-for-files', reason: `sequence ${outcome.sequence} verified, but ${outcome.missingBlobs.length} file(s) it names have not arrived yet (first ${outcome.missingBlobs[0]}); the carousel sends them again` };
    case 'refused':
      return { ...base, verdict: 'refuse', reason: outcome.reason };
    case 'failed':
    case 'published':
      return { ...base, verdict: 'refuse', reason: `unexpected outcome of a dry run: ${errorMessage(outcome)}` };
  }
}
