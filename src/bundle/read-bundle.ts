import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BundleRefusedError, changedInTransit, type ErrorCode } from '../core/errors.ts';
import { HashingFileSink, type BlobDigests, type BlobStore } from '../store/blob-store.ts';
import { bundleFormat, manifestEntryName, manifestSchema, maxManifestBytes, signatureEntryName, type Manifest } from './manifest.ts';
import { signerOf, type TrustedTransferKey } from './transfer-key.ts';

export interface ReceivedBlob {
  temporaryFile: string;
  digests: BlobDigests;
}

export type ManifestDecision = 'read-blobs' | 'stop';

export interface ReadBundleOptions {
  file: string;
  /** The transfer keys trusted now: the current one, and a next one announced by it. */
  keys: readonly TrustedTransferKey[];
  /** Receives blobs into its tmp folder; nothing is adopted here. */
  store: BlobStore;
  /**
   * Called once the manifest's signature and schema are verified, before any blob is
   * read: sequence, chain and expiry are decided there. Throwing refuses the bundle.
   */
  onManifest(manifest: Manifest, manifestSha256: string): ManifestDecision | Promise<ManifestDecision>;
}

export interface ReadBundleResult {
  manifest: Manifest;
  manifestBytes: Buffer;
  manifestSha256: string;
  decision: ManifestDecision;
  received: Map<string, ReceivedBlob>;
  /** keyId of the transfer key that signed the manifest. */
  signedBy: string;
}

function refuse(code: ErrorCode, message: string, file: string): BundleRefusedError {
  return new BundleRefusedError(code, `${file}: ${message}`, { details: { file } });
}

/** The bytes are not the ones the internet side signed and wrote (see changedInTransit). */
function refuseChanged(code: ErrorCode, message: string, file: string): BundleRefusedError {
  return changedInTransit(code, `${file}: ${message}`, { file });
}

async function readSmallEntry(entry: Readable, size: number, limit: number, what: string, file: string): Promise<Buffer> {
  if (size > limit) throw refuseChanged('E_SIZE_LIMIT', `${what} is ${size} bytes, more than its limit of ${limit}`, file);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw refuseChanged('E_SIZE_LIMIT', `${what} is longer than its limit of ${limit} bytes`, file);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a bundle from the spool, trusting nothing in it until checked: the manifest
 * signature is verified with the pinned key before the manifest is parsed, and before any
 * blob is read; each blob must be listed, of the listed size, and hash to its name.
 * Received blobs stay in the store's tmp folder; the caller adopts or removes them.
 */
export async function readBundle(options: ReadBundleOptions): Promise<ReadBundleResult> {
  const { file } = options;
  const extract = tar.extract();
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const feeding = pipeline(source, extract).catch((error: unknown) => error);
  const received = new Map<string, ReceivedBlob>();
  let manifestBytes: Buffer | undefined;
  let manifest: Manifest | undefined;
  let manifestSha256 = '';
  let decision: ManifestDecision = 'read-blobs';
  let listed = new Map<string, number>();
  let needsSha512 = new Set<string>();
  let signer: TrustedTransferKey | undefined;
  let index = 0;
  try {
    for await (const entry of extract) {
      const { name, size, type } = entry.header;
      if (type !== 'file' || size === undefined) throw refuseChanged('E_BUNDLE_INVALID', `entry ${JSON.stringify(name)} is not a plain file`, file);
      if (index === 0) {
        if (name !== manifestEntryName) throw refuseChanged('E_BUNDLE_INVALID', `the first entry must be ${manifestEntryName}, found ${JSON.stringify(name)}`, file);
        manifestBytes = await readSmallEntry(entry as unknown as Readable, size, maxManifestBytes, manifestEntryName, file);
      } else if (index === 1) {
        if (name !== signatureEntryName) throw refuseChanged('E_BUNDLE_INVALID', `the second entry must be ${signatureEntryName}, found ${JSON.stringify(name)}`, file);
        const signature = await readSmallEntry(entry as unknown as Readable, size, 64, signatureEntryName, file);
        signer = signerOf(manifestBytes!, signature, options.keys);
        if (!signer) {
          throw refuseChanged('E_SIGNATURE', 'the manifest signature does not verify with the pinned transfer key (tampered, or signed by another key)', file);
        }
        manifest = parseManifest(manifestBytes!, file);
        if (manifest.transferKeyId !== signer.keyId) throw refuse('E_SIGNATURE', `the manifest names transfer key ${manifest.transferKeyId} but was signed by ${signer.keyId}`, file);
        manifestSha256 = createHash('sha256').update(manifestBytes!).digest('hex');
        listed = new Map(manifest.blobs.map((blob) => [blob.sha256, blob.size]));
        // Only blobs checked against a SHA-512 hash list pay for SHA-512.
        needsSha512 = new Set([
          ...manifest.artifacts.filter((artifact) => artifact.verification.method === 'hash-list-entry').map((artifact) => artifact.sha256),
          // A document checked against its .sha512 hash file (CSAF).
          ...manifest.artifacts.flatMap((artifact) => (artifact.verification.method === 'hash-file' && artifact.verification.algorithm === 'sha512' ? [artifact.verification.subject] : [])),
        ]);
        if (listed.size !== manifest.blobs.length) throw refuse('E_BUNDLE_INVALID', 'manifest field "blobs" lists a blob twice', file);
        decision = await options.onManifest(manifest, manifestSha256);
        if (decision === 'stop') {
          entry.resume();
          break;
        }
      } else {
        const match = /^blobs\/([0-9a-f]{64})$/u.exec(name);
        const expectedSize = match ? listed.get(match[1]!) : undefined;
        if (!match || expectedSize === undefined) throw refuseChanged('E_BUNDLE_INVALID', `entry ${JSON.stringify(name)} is not a blob listed in the manifest`, file);
        const sha256 = match[1]!;
        if (received.has(sha256)) throw refuseChanged('E_BUNDLE_INVALID', `blob ${sha256} appears twice`, file);
        if (size !== expectedSize) throw refuseChanged('E_INTEGRITY', `blob ${sha256} is ${size} bytes, the manifest says ${expectedSize}`, file);
        const { file: temporaryFile, handle } = await options.store.createTemporary(sha256);
        // Registered before writing so a failure below still removes the temp file.
        received.set(sha256, { temporaryFile, digests: { size: 0, sha256: '' } });
        const sink = new HashingFileSink(handle, { maxBytes: expectedSize, what: `${file}: blob ${sha256}`, sha512: needsSha512.has(sha256) });
        try {
          await pipeline(entry as unknown as Readable, sink);
        } finally {
          await handle.close();
        }
        const digests = await sink.digests();
        sink.release();
        if (digests.sha256 !== sha256 || digests.size !== expectedSize) {
          throw refuseChanged('E_INTEGRITY', `blob ${sha256} hashes to ${digests.sha256} (${digests.size} bytes): tampered or damaged in transfer`, file);
        }
        received.set(sha256, { temporaryFile, digests });
      }
      index += 1;
    }
    if (!manifest) throw refuseChanged('E_BUNDLE_INVALID', 'truncated before the manifest and its signature', file);
    if (decision === 'read-blobs') {
      const missing = [...listed.keys()].filter((sha256) => !received.has(sha256));
      if (missing.length > 0) throw refuseChanged('E_BUNDLE_INVALID', `truncated: ${missing.length} listed blob(s) missing, first ${missing[0]}`, file);
    }
    return { manifest, manifestBytes: manifestBytes!, manifestSha256, decision, received, signedBy: signer!.keyId };
  } catch (error) {
    await Promise.all([...received.values()].map((blob) => rm(blob.temporaryFile, { force: true })));
    if (error instanceof BundleRefusedError) throw error;
    // A full disk or an I/O error here is this side's problem, not the bundle's: retry later.
    if (localFailures.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    throw refuseChanged('E_BUNDLE_INVALID', `not a readable bundle: ${(error as Error).message}`, file);
  } finally {
    extract.destroy();
    source.destroy();
    await feeding;
  }
}

const localFailures = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'ENOMEM']);

function parseManifest(bytes: Buffer, file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw refuse('E_BUNDLE_INVALID', `${manifestEntryName} is not JSON`, file);
  }
  if ((json as { format?: unknown })?.format !== bundleFormat) {
    throw refuse('E_BUNDLE_INVALID', `${manifestEntryName}: field "format" must be "${bundleFormat}"`, file);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw refuse('E_BUNDLE_INVALID', `${manifestEntryName}: field "${issue.path.join('.')}": ${issue.message}`, file);
  }
  return parsed.data;
}
