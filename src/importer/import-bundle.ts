import { copyFile, constants, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readBundle, type ReceivedBlob } from '../bundle/read-bundle.ts';
import { publicKeyFromSpki, spkiOf, transferKeyId, type TrustedTransferKey } from '../bundle/transfer-key.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { BundleRefusedError, LgwanMirrorError, changedInTransit, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { recordedDigests, storedDigests, type BlobStore } from '../store/blob-store.ts';
import { listSpool, type SpooledBundle } from '../transfer/spool-receiver.ts';
import { TransferFileNames } from '../transfer/spool-names.ts';
import { assembleParts, type Assembly } from '../transfer/parts-receiver.ts';
import { verifyArtifacts, type BlobAccess } from '../verify/verify-artifacts.ts';
import type { PinnedKeyring } from '../verify/pinned-keys.ts';
import { checkManifestConsistency } from './check-manifest.ts';
import type { LgwanDatabase } from './lgwan-state.ts';
import { withGap } from './sequence-gaps.ts';
import { tarCompleteness } from './tar-completeness.ts';

/**
 * HTTP dates have whole seconds, and an apt suite's files keep their paths from one version to
 * the next: a version published in the same second as the previous one would carry the same
 * Last-Modified, and apt's If-Modified-Since would get 304 for the new InRelease. A new
 * version's publication time is therefore at least the next whole second.
 */
function inLaterSecond(versions: Record<string, string>, at: string): string {
  let latest = Number.NEGATIVE_INFINITY;
  for (const time of Object.values(versions)) latest = Math.max(latest, Math.floor(Date.parse(time) / 1000));
  return Math.floor(Date.parse(at) / 1000) > latest ? at : new Date((latest + 1) * 1000).toISOString();
}

export interface ImporterOptions {
  /** Room for reassembling bundles sent as parts. */
  stagingQuotaBytes?: number;
  /** How long a truncated bundle file must stay unchanged before it is read (and refused) as truncated. */
  spoolStableSeconds?: number;
  /** Room for copies of refused bundles; beyond it only their reasons are recorded. */
  quarantineQuotaBytes?: number;
  /** How long to wait for the missing parts of a bundle. */
  partsTimeoutHours?: number;
  database: LgwanDatabase;
  store: BlobStore;
  keyring: PinnedKeyring;
  /** The transfer key pinned in the config: trusted until a rotation it signed replaces it. */
  pinnedKey: TrustedTransferKey;
  storageRoot: string;
  logger: Logger;
  now?: () => Date;
  /** The spool's file names (transferFileExtension). */
  names?: TransferFileNames;
  /**
   * `bundle inspect`: every check runs, nothing is adopted, quarantined or written; the state
   * given (a copy) advances in memory only, and blobs a bundle would have added stay in
   * `carried` (temporary files) for the bundles inspected after it.
   */
  dryRun?: { carried: Map<string, ReceivedBlob> };
}

export type ImportOutcome =
  | { status: 'published'; sequence: number; artifacts: number; newBlobs: number }
  /** A dry run (bundle inspect) found nothing to refuse: a real import would publish it. */
  | { status: 'would-publish'; sequence: number; artifacts: number; newBlobs: number }
  | { status: 'duplicate'; sequence: number }
  | { status: 'waiting'; sequence: number; missingBlobs: string[] }
  | { status: 'refused'; code: string; reason: string }
  /** This side could not finish (disk full, I/O error): nothing changed, the bundle is tried again. */
  | { status: 'failed'; reason: string };

/**
 * Imports one bundle: transfer signature, sequence and chain, every blob's size and
 * sha256, and every vendor signature again with the LGWAN side's own pinned keys. Only
 * then are blobs moved into the store and the published state switched in one atomic
 * write. A refusal leaves the published state exactly as it was.
 */
export async function importBundle(options: ImporterOptions, bundle: Pick<SpooledBundle, 'file' | 'name'>): Promise<ImportOutcome> {
  const now = options.now ?? (() => new Date());
  const data = options.database.data;
  const log = options.logger.child({ bundle: bundle.name });
  let received = new Map<string, ReceivedBlob>();
  let manifestForRecord: Manifest | undefined;
  try {
    const result = await readBundle({
      file: bundle.file,
      keys: trustedKeys(options),
      store: options.store,
      onManifest(manifest, manifestSha256) {
        manifestForRecord = manifest;
        const highest = data.transfer.highestSequence;
        if (manifest.sequence === highest) {
          if (manifestSha256 === data.transfer.lastManifestSha256) return 'stop';
          throw new BundleRefusedError('E_EQUIVOCATION', `${bundle.name}: sequence ${manifest.sequence} was already imported with different content (equivocation)`, { details: { sequence: manifest.sequence } });
        }
        if (manifest.sequence < highest) {
          throw new BundleRefusedError('E_ROLLBACK', `${bundle.name}: sequence ${manifest.sequence} is older than the imported ${highest} (replay or rollback)`, { details: { sequence: manifest.sequence, highest } });
        }
        if (manifest.sequence === highest + 1 && highest > 0 && manifest.previousManifestSha256 !== data.transfer.lastManifestSha256) {
          throw new BundleRefusedError('E_EQUIVOCATION', `${bundle.name}: sequence ${manifest.sequence} does not chain to the imported manifest ${data.transfer.lastManifestSha256}`, { details: { sequence: manifest.sequence } });
        }
        if (new Date(manifest.expiresAt).getTime() < now().getTime()) {
          throw new BundleRefusedError('E_EXPIRED', `${bundle.name}: expired at ${manifest.expiresAt}`, { details: { expiresAt: manifest.expiresAt } });
        }
        checkManifestConsistency(manifest, bundle.name);
        return 'read-blobs';
      },
    });
    received = result.received;
    const { manifest } = result;
    if (result.decision === 'stop') return { status: 'duplicate', sequence: manifest.sequence };

    // A product that only TLS vouches for, and that this side's own keys/pins.yaml does not
    // accept (unsignedProducts), is left out and shown as not accepted here; the rest of the
    // bundle is checked and published as usual, so one product's policy never holds back all.
    const notAccepted = [...new Set(manifest.artifacts.filter((artifact) => (artifact.verification.method === 'tls-only' || artifact.verification.method === 'vendor-hash-over-tls') && !options.keyring.acceptsUnsigned(artifact.productId)).map((artifact) => artifact.productId))];
    const artifacts = notAccepted.length === 0 ? manifest.artifacts : manifest.artifacts.filter((artifact) => !notAccepted.includes(artifact.productId));

    const access = lgwanBlobAccess(options, received);
    const missingBlobs: string[] = [];
    for (const sha256 of new Set(artifacts.map((artifact) => artifact.sha256))) {
      if (!(await access.digests(sha256))) missingBlobs.push(sha256);
    }
    if (missingBlobs.length > 0) {
      if (options.dryRun) {
        for (const [sha256, blob] of received) options.dryRun.carried.set(sha256, blob);
        received.clear();
        return { status: 'waiting', sequence: manifest.sequence, missingBlobs };
      }
      // State-based bundles: blobs lost with an earlier bundle arrive again with the carousel.
      await adoptAll(options, received);
      received.clear();
      data.transfer.waiting = { bundle: bundle.name, sequence: manifest.sequence, missingBlobs };
      await options.database.write();
      log.warn({ sequence: manifest.sequence, missing: missingBlobs.length }, 'bundle waits for blobs it references');
      return { status: 'waiting', sequence: manifest.sequence, missingBlobs };
    }

    const report = await verifyArtifacts(artifacts, access, options.keyring);
    const newBlobs = received.size;
    if (options.dryRun) {
      recordKeyRotation(options, manifest, result.signedBy, bundle.name, now().toISOString());
      for (const [sha256, blob] of received) options.dryRun.carried.set(sha256, blob);
      received.clear();
      data.transfer = { ...data.transfer, highestSequence: manifest.sequence, lastManifestSha256: result.manifestSha256 };
      return { status: 'would-publish', sequence: manifest.sequence, artifacts: artifacts.length, newBlobs };
    }
    await adoptAll(options, received);
    received.clear();

    const at = now().toISOString();
    // The switch is made in memory and written in one step; if the write fails (disk full),
    // memory goes back to what is on disk, so the repository keeps serving the old state.
    const previous = {
      published: data.published,
      transfer: data.transfer,
      firstPublished: structuredClone(data.firstPublished),
      releaseValidUntil: { ...data.releaseValidUntil },
      releaseTimeline: structuredClone(data.releaseTimeline),
      transferKeys: structuredClone(data.transferKeys),
    };
    recordKeyRotation(options, manifest, result.signedBy, bundle.name, at);
    data.transfer = { ...data.transfer, missingSequenceRanges: withGap(data.transfer.missingSequenceRanges, data.transfer.highestSequence, manifest.sequence) };
    for (const [sha256, validUntil] of report.releaseValidUntil) data.releaseValidUntil[sha256] = validUntil.toISOString();
    for (const product of manifest.products) {
      for (const release of product.releases ?? []) {
        const timeline = (data.releaseTimeline[product.id] ??= {});
        timeline[release.version] ??= { firstSeenAt: release.firstSeenAt, fetchedAt: release.fetchedAt, firstBundledAt: release.firstBundledAt };
      }
    }
    for (const artifact of artifacts) {
      const versions = (data.firstPublished[artifact.productId] ??= {});
      versions[artifact.version] ??= inLaterSecond(versions, at);
    }
    data.published = {
      sequence: manifest.sequence,
      manifestSha256: result.manifestSha256,
      bundleCreatedAt: manifest.createdAt,
      publishedAt: at,
      products: manifest.products,
      artifacts,
      ...(notAccepted.length > 0 ? { notAccepted } : {}),
    };
    data.transfer = { ...data.transfer, highestSequence: manifest.sequence, lastManifestSha256: result.manifestSha256, lastImportAt: at, lastBundle: bundle.name, waiting: null, lastImportError: null };
    // The one atomic step: the new published state and the high-water marks together.
    try {
      await options.database.write();
    } catch (error) {
      Object.assign(data, previous);
      throw error;
    }
    log.info({ sequence: manifest.sequence, artifacts: artifacts.length, newBlobs }, 'bundle imported and published');
    return { status: 'published', sequence: manifest.sequence, artifacts: artifacts.length, newBlobs };
  } catch (error) {
    await Promise.all([...received.values()].map((blob) => rm(blob.temporaryFile, { force: true })));
    if (!(error instanceof LgwanMirrorError)) throw error;
    return refuse(options, bundle, error, manifestForRecord?.sequence);
  }
}

/** The current transfer key, and the next one if the current key announced it. */
export function trustedKeys(options: Pick<ImporterOptions, 'database' | 'pinnedKey'>): TrustedTransferKey[] {
  const keys = options.database.data.transferKeys;
  const current = keys.current ? { keyId: keys.current.keyId, publicKey: publicKeyFromSpki(keys.current.spki) } : options.pinnedKey;
  return keys.next ? [current, { keyId: keys.next.keyId, publicKey: publicKeyFromSpki(keys.next.spki) }] : [current];
}

/**
 * Key rotation, recorded with the import it came with (the same atomic write): a bundle
 * signed by the announced next key promotes it and retires the old one for good; a bundle
 * signed by the current key may announce a next key.
 */
function recordKeyRotation(options: ImporterOptions, manifest: Manifest, signedBy: string, bundleName: string, at: string): void {
  const announced = manifest.nextTransferKey;
  if (announced && transferKeyId(publicKeyFromSpki(announced.spki)) !== announced.keyId) {
    throw new BundleRefusedError('E_BUNDLE_INVALID', `${bundleName}: the announced next transfer key does not match its key id`);
  }
  const keys = options.database.data.transferKeys;
  const current = keys.current ?? { keyId: options.pinnedKey.keyId, spki: spkiOf(options.pinnedKey.publicKey), generation: 1, since: at };
  if (keys.next && signedBy === keys.next.keyId) {
    keys.history.push({ keyId: current.keyId, generation: current.generation, retiredAt: at, retiredBy: bundleName });
    keys.current = { keyId: keys.next.keyId, spki: keys.next.spki, generation: current.generation + 1, since: at };
    keys.next = null;
    options.logger.warn({ keyId: keys.current.keyId, generation: keys.current.generation }, 'transfer key rotated');
    return;
  }
  keys.current = current;
  if (announced && signedBy === current.keyId && announced.keyId !== current.keyId && announced.keyId !== keys.next?.keyId) {
    keys.next = { keyId: announced.keyId, spki: announced.spki, announcedAt: at, viaBundle: bundleName };
  }
}

/** Records a refusal with a quarantined copy and its reason; the published state is not touched. */
async function refuse(options: ImporterOptions, bundle: Pick<SpooledBundle, 'file' | 'name'>, error: LgwanMirrorError, sequence: number | undefined): Promise<ImportOutcome> {
  if (options.dryRun) return { status: 'refused', code: error.code, reason: error.message };
  const data = options.database.data;
  const { quarantinedAs, kept } = await quarantineBundle(options, bundle, error, sequence);
  const changed = error instanceof BundleRefusedError && error.changedInTransit;
  data.refusals.unshift({ at: (options.now ?? (() => new Date()))().toISOString(), bundle: bundle.name, code: error.code, reason: error.message, quarantinedAs, kept, ...(changed ? { changedInTransit: true } : {}) });
  data.refusals.splice(100);
  await options.database.write();
  options.logger.error({ bundle: bundle.name, code: error.code, reason: error.message, quarantinedAs }, 'bundle refused');
  return { status: 'refused', code: error.code, reason: error.message };
}

function lgwanBlobAccess(options: ImporterOptions, received: Map<string, ReceivedBlob>): BlobAccess {
  const data = options.database.data;
  const temporaryFileOf = (sha256: string) => (received.get(sha256) ?? options.dryRun?.carried.get(sha256))?.temporaryFile;
  return {
    async digests(sha256, needs) {
      const fresh = received.get(sha256) ?? options.dryRun?.carried.get(sha256);
      if (fresh) return fresh.digests;
      const digests = await storedDigests(options.store, sha256, data.digests[sha256], needs);
      if (digests?.sha256 === sha256) data.digests[sha256] = recordedDigests(digests);
      return digests;
    },
    read: (sha256) => readFile(temporaryFileOf(sha256) ?? options.store.pathOf(sha256)),
    file: async (sha256) => temporaryFileOf(sha256) ?? options.store.pathOf(sha256),
  };
}

/** Blobs go into the store before the index that names them; unpublished blobs are never served. */
async function adoptAll(options: ImporterOptions, received: Map<string, ReceivedBlob>): Promise<void> {
  for (const [sha256, blob] of received) {
    await options.store.adopt(blob.temporaryFile, blob.digests, { sha256, size: blob.digests.size, what: sha256 });
    options.database.data.digests[sha256] = recordedDigests(blob.digests);
  }
}

/**
 * A copy (the spool is read-only for the LGWAN side), within `quarantineQuotaBytes`: junk
 * dropped into the spool once filled the disk with copies until the next genuine bundle failed
 * with ENOSPC (issue 13). Over the quota only `<name>.reason.json` is written, with the file's
 * size and a note that it was not kept.
 */
async function quarantineBundle(options: ImporterOptions, bundle: Pick<SpooledBundle, 'file' | 'name'>, error: LgwanMirrorError, sequence: number | undefined): Promise<{ quarantinedAs: string | null; kept: boolean }> {
  const directory = path.join(options.storageRoot, 'quarantine');
  const stamp = new Date().toISOString().replace(/[:.]/gu, '-');
  const target = path.join(directory, `${stamp}-${bundle.name}`);
  const quota = options.quarantineQuotaBytes ?? defaultQuarantineQuotaBytes;
  try {
    await mkdir(directory, { recursive: true });
    const size = (await stat(bundle.file)).size;
    const kept = (await directorySize(directory)) + size <= quota;
    if (kept) await copyFile(bundle.file, target, constants.COPYFILE_FICLONE);
    const record = { bundle: bundle.name, code: error.code, reason: error.message, sequence: sequence ?? null, size, kept, ...(kept ? {} : { note: `not copied: the quarantine would exceed lgwan.quarantineQuotaBytes (${quota})` }) };
    await writeFile(`${target}.reason.json`, `${JSON.stringify(record, null, 2)}\n`);
    return { quarantinedAs: target, kept };
  } catch (copyError) {
    await rm(target, { force: true });
    options.logger.error({ error: errorMessage(copyError) }, 'could not copy the refused bundle to quarantine');
    return { quarantinedAs: null, kept: false };
  }
}

export const defaultQuarantineQuotaBytes = 4 * 1024 ** 3;

async function directorySize(directory: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(directory)) total += (await stat(path.join(directory, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

/**
 * A bundle file that ends before tar's end-of-archive block and changed within
 * `spoolStableSeconds` is still being written (an appliance writing under the final name):
 * looked at again at the next poll, never refused. One that stays truncated longer is read,
 * and refused as truncated; when it later grows complete it is imported (and the refusal's
 * alarm clears with the publication).
 */
async function stillArriving(options: ImporterOptions, bundle: SpooledBundle): Promise<boolean> {
  const stableMs = (options.spoolStableSeconds ?? defaultSpoolStableSeconds) * 1000;
  const now = (options.now ?? (() => new Date()))().getTime();
  if (now - bundle.mtimeMs >= stableMs) return false;
  const completeness = await tarCompleteness(bundle.file).catch(() => 'complete' as const);
  if (completeness !== 'incomplete') return false;
  options.logger.info({ bundle: bundle.name, bytes: bundle.size }, 'bundle still arriving; looked at again at the next poll');
  return true;
}

export const defaultSpoolStableSeconds = 60;

/** Imports every new bundle in the spool, oldest first. */
export async function importFromSpool(options: ImporterOptions, spool: string): Promise<ImportOutcome[]> {
  const outcomes: ImportOutcome[] = [];
  const data = options.database.data;
  const names = options.names ?? new TransferFileNames();
  let entries: SpooledBundle[];
  try {
    entries = await listSpool(spool, names);
  } catch (error) {
    const reason = `cannot read the spool ${spool}: ${errorMessage(error)}`;
    data.transfer.lastImportError = { at: (options.now ?? (() => new Date()))().toISOString(), bundle: spool, reason };
    options.logger.error({ spool, error: errorMessage(error) }, 'cannot read the spool');
    await options.database.write().catch(() => undefined);
    return [{ status: 'failed', reason }];
  }
  if (data.transfer.lastImportError?.bundle === spool) data.transfer.lastImportError = null;
  for (const bundle of entries) {
    const seen = data.processed[bundle.name];
    if (seen && seen.size === bundle.size && seen.mtimeMs === bundle.mtimeMs) continue;
    let outcome: ImportOutcome | undefined;
    const previouslySeen = data.processed[bundle.name];
    // Every failure of this side lands here, wherever it falls (reading, publishing, or the
    // state write that records the bundle as processed): issue 13 found an fsync EIO on that
    // last write only logged, with no alarm.
    try {
      if (bundle.kind === 'bundle' && (await stillArriving(options, bundle))) continue;
      outcome = bundle.kind === 'parts' ? await importParts(options, spool, bundle) : bundle.kind === 'renamed' ? await refuseRenamed(options, bundle, names) : await importBundle(options, bundle);
      if (outcome === undefined) continue;
      data.processed[bundle.name] = { size: bundle.size, mtimeMs: bundle.mtimeMs, outcome: outcome.status };
      await options.database.write();
      if (data.transfer.lastImportError?.bundle === bundle.name) {
        // The failure was this bundle's, and it is now recorded: the alarm has done its work.
        data.transfer.lastImportError = null;
        await options.database.write();
      }
    } catch (error) {
      // Not recorded as processed unless that record is on disk: the next poll looks again.
      if (previouslySeen) data.processed[bundle.name] = previouslySeen;
      else delete data.processed[bundle.name];
      const reason = `${bundle.name}: ${errorMessage(error)}`;
      data.transfer.lastImportError = { at: (options.now ?? (() => new Date()))().toISOString(), bundle: bundle.name, reason };
      options.logger.error({ bundle: bundle.name, error: errorMessage(error) }, 'import failed on this side; it will be retried');
      // Best effort: with a full disk even this write may fail; the alarm is in memory either way.
      await options.database.write().catch(() => undefined);
      outcomes.push({ status: 'failed', reason });
      break;
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * A file whose name mentions a bundle but is none of this spool's names. Not read: a
 * sanitising service renames what it rebuilt, and a file renamed by hand may be either.
 * Recorded once (like any spool entry) so the admin sees it and can ask for the original.
 */
async function refuseRenamed(options: ImporterOptions, file: SpooledBundle, names: TransferFileNames): Promise<ImportOutcome> {
  const sequence = Number(/bundle-(\d{10})/u.exec(file.name)?.[1]);
  const expected = `${names.bundle(sequence)}, ${names.toc(sequence)} or ${names.part(sequence, 1)}…`;
  const setting = names.extension === undefined ? 'no transferFileExtension' : `transferFileExtension ${names.extension}`;
  const error = changedInTransit('E_BUNDLE_INVALID', `${file.name}: not a name this side imports (expected ${expected}; this side has ${setting}: if the internet side uses another, set both the same)`, { file: file.name });
  const data = options.database.data;
  data.refusals.unshift({ at: (options.now ?? (() => new Date()))().toISOString(), bundle: file.name, code: error.code, reason: error.message, quarantinedAs: null, changedInTransit: true });
  data.refusals.splice(100);
  await options.database.write();
  options.logger.error({ bundle: file.name, code: error.code, reason: error.message }, 'file with a renamed bundle name not imported');
  return { status: 'refused', code: error.code, reason: error.message };
}

/**
 * A bundle sent as parts: reassembled in the LGWAN side's staging folder, then imported
 * like any bundle. Undefined while parts are still missing (looked at again next poll);
 * after `partsTimeoutHours` the staged parts are dropped and the bundle is given up (a
 * later bundle carries the whole state again).
 */
async function importParts(options: ImporterOptions, spool: string, toc: SpooledBundle): Promise<ImportOutcome | undefined> {
  const data = options.database.data;
  const now = (options.now ?? (() => new Date()))();
  const staging = path.join(options.storageRoot, 'staging');
  let assembly: Assembly;
  try {
    assembly = await assembleParts({ spool, staging, tocName: toc.name, keys: trustedKeys(options), quotaBytes: options.stagingQuotaBytes ?? 64 * 1024 ** 3, names: options.names });
  } catch (error) {
    if (!(error instanceof LgwanMirrorError)) throw error;
    delete data.transfer.incomplete[toc.name];
    return refuse(options, toc, error, undefined);
  }
  if (assembly.status === 'incomplete') {
    const record = (data.transfer.incomplete[toc.name] ??= { sequence: assembly.sequence, firstSeenAt: now.toISOString(), missing: [], timedOut: false });
    record.missing = assembly.missing;
    record.changed = assembly.changed;
    if (now.getTime() - Date.parse(record.firstSeenAt) > (options.partsTimeoutHours ?? 24) * 3_600_000) {
      record.timedOut = true;
      await rm(path.join(staging, String(assembly.sequence)), { recursive: true, force: true });
      await options.database.write();
      return { status: 'refused', code: 'E_INCOMPLETE', reason: `${toc.name}: parts still missing after ${options.partsTimeoutHours ?? 24} hours: ${assembly.missing.join(', ')}` };
    }
    await options.database.write();
    return undefined;
  }
  delete data.transfer.incomplete[toc.name];
  try {
    return await importBundle(options, { file: assembly.file, name: toc.name });
  } finally {
    await rm(assembly.file, { force: true });
  }
}

