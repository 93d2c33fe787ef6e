import { createHash, type KeyObject } from 'node:crypto';
import type { LoadedCatalogEntry } from '../catalog/load-catalog.ts';
import type { Logger } from '../core/logger.ts';
import { bundleFormat, type Artifact, type Manifest, type ProductSummary } from '../bundle/manifest.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { sendToSpool } from '../transfer/spool-sender.ts';
import type { TransferFileNames } from '../transfer/spool-names.ts';
import { emptyProductState, type InternetDatabase, type ReservedBundle } from './internet-state.ts';

export interface BundleOptions {
  entries: readonly LoadedCatalogEntry[];
  database: InternetDatabase;
  store: BlobStore;
  spool: string;
  privateKey: KeyObject;
  keyId: string;
  logger: Logger;
  /** How long the LGWAN side may import this bundle: an old bundle replayed later is refused. */
  expiryDays?: number;
  /** Send even when the state is unchanged. */
  force?: boolean;
  /**
   * Send the (unchanged) state again after this long, so the LGWAN side can tell a quiet
   * vendor from a cut link and bundles never reach their expiry.
   */
  heartbeatHours?: number;
  /** The transfer appliance's file size limit. */
  partMaxBytes?: number;
  /** File names in the spool (transferFileExtension). */
  names?: TransferFileNames;
  /**
   * The carousel: every referenced blob is sent again after `everyHours`, least recently sent
   * first, at most `maxBytes` of them per bundle. A receiver that lost a bundle (or a new
   * replica) catches up with no back channel.
   */
  carousel?: { everyHours: number; maxBytes: number };
  /** A next transfer key to announce, under the current key's signature (key rotation). */
  nextTransferKey?: { keyId: string; spki: string };
  now?: () => Date;
}

function protocolOf(entry: LoadedCatalogEntry): ProductSummary['protocol'] {
  const source = entry.source;
  switch (source.type) {
    case 'mozilla':
      return { type: 'mozilla', product: source.product, channel: source.channel };
    case 'apt':
      return { type: 'apt', mirror: source.mirror, suite: source.suite };
    case 'clamav':
      return { type: 'clamav', database: source.database };
    case 'manual':
      return undefined;
  }
}

/** What the LGWAN side needs to parse an advisory source's documents (issue 16). */
function advisoryOf(entry: LoadedCatalogEntry): ProductSummary['advisory'] {
  const source = entry.source;
  switch (source.type) {
    case 'mozilla-advisories':
      return { kind: 'mozilla', products: source.products };
    case 'cisa-kev':
      return { kind: 'cisa-kev' };
    case 'debian-security-tracker':
      return { kind: 'debian-tracker', products: source.releases };
    case 'csaf':
      return { kind: 'csaf', products: source.products };
    case 'jvn':
      return { kind: 'jvn' };
    default:
      return undefined;
  }
}

export type BundleOutcome = { status: 'sent'; sequence: number; file: string; parts: number; blobs: number; resent: number; bytes: number } | { status: 'unchanged'; sequence: number };

/**
 * Describes the complete state the LGWAN side should publish (every retained release of
 * every product) and carries the blobs not sent before. The state, not a delta: a lost
 * bundle costs blobs, never correctness.
 */
export async function makeAndSendBundle(options: BundleOptions): Promise<BundleOutcome> {
  const now = options.now ?? (() => new Date());
  const data = options.database.data;
  const createdAt = now();
  const reserved = data.transfer.reserved ?? null;
  if (reserved) {
    const resent = await sendReservedAgain(options, reserved, createdAt);
    if (resent) return resent;
  }
  const products: ProductSummary[] = [];
  const artifacts: Artifact[] = [];
  for (const entry of options.entries) {
    const state = data.products[entry.id] ?? emptyProductState();
    products.push({
      id: entry.id, name: entry.name, vendor: entry.vendor, scheme: entry.scheme, trust: entry.trust, retention: entry.retention,
      latestSeen: state.latestSeen,
      releases: state.releases.map((release) => ({ version: release.version, firstSeenAt: release.firstSeenAt, fetchedAt: release.fetchedAt, firstBundledAt: release.firstBundledAt ?? createdAt.toISOString() })),
      protocol: protocolOf(entry),
      ...(advisoryOf(entry) ? { advisory: advisoryOf(entry) } : {}),
      ...(entry.winget ? { winget: entry.winget } : {}),
      sourceHealth: state.health,
    });
    for (const release of state.releases) artifacts.push(...release.artifacts);
  }
  // Timestamps of successful polls change every run; they alone are no reason to send.
  const stateDigest = createHash('sha256')
    .update(JSON.stringify({ artifacts, products: products.map((product) => ({ ...product, releases: undefined, sourceHealth: { ...product.sourceHealth, lastSuccessAt: null } })) }))
    .digest('hex');
  const blobs = new Map<string, number>();
  for (const artifact of artifacts) if (!data.transfer.sentBlobs[artifact.sha256]) blobs.set(artifact.sha256, artifact.size);
  const carousel = carouselBlobs(options, artifacts, blobs, createdAt);
  const heartbeatDue = data.transfer.lastBundleAt === null || createdAt.getTime() - Date.parse(data.transfer.lastBundleAt) >= (options.heartbeatHours ?? 24) * 3_600_000;
  if (!options.force && !heartbeatDue && carousel.size === 0 && stateDigest === data.transfer.lastStateDigest) return { status: 'unchanged', sequence: data.transfer.lastSequence };
  for (const [sha256, size] of carousel) blobs.set(sha256, size);
  const manifest: Manifest = {
    format: bundleFormat,
    sequence: data.transfer.lastSequence + 1,
    previousManifestSha256: data.transfer.lastManifestSha256,
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + (options.expiryDays ?? 30) * 86_400_000).toISOString(),
    transferKeyId: options.keyId,
    ...(options.nextTransferKey ? { nextTransferKey: options.nextTransferKey } : {}),
    products,
    artifacts,
    blobs: [...blobs].map(([sha256, size]) => ({ sha256, size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  // The sequence is taken before the first byte reaches the spool: once a file of this bundle
  // may have left, this number means these bytes and nothing else.
  data.transfer.reserved = { sequence: manifest.sequence, manifest: manifestBytes.toString('utf8'), manifestSha256: sha256Of(manifestBytes), stateDigest };
  await options.database.write();
  const { file, parts } = await sendToSpool({ spool: options.spool, manifest, manifestBytes, privateKey: options.privateKey, store: options.store, partMaxBytes: options.partMaxBytes, names: options.names });
  return recordSent(options, manifest, data.transfer.reserved, { file, parts, resent: carousel.size });
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A bundle reserved by a send that did not finish (crash, kill -9, power cut) goes out again
 * with the identical manifest bytes: the LGWAN side may already hold the first copy, and takes
 * this one as a duplicate. If it cannot be sent again (expiring, a blob gone, the signing key
 * promoted meanwhile), its sequence and manifest digest are kept as used, so the next bundle
 * chains to it and nothing reuses the number. Undefined when the caller should go on and make a new bundle.
 */
async function sendReservedAgain(options: BundleOptions, reserved: ReservedBundle, now: Date): Promise<BundleOutcome | undefined> {
  const transfer = options.database.data.transfer;
  if (reserved.sequence <= transfer.lastSequence) {
    // Recorded as sent already; only the clearing of the reservation was lost.
    transfer.reserved = null;
    return undefined;
  }
  const manifestBytes = Buffer.from(reserved.manifest, 'utf8');
  const manifest = JSON.parse(reserved.manifest) as Manifest;
  const blobsPresent = (await Promise.all(manifest.blobs.map((blob) => options.store.has(blob.sha256)))).every(Boolean);
  // After "keys promote" the reserved manifest names the old key: signed by the new one it would be refused.
  const sameKey = manifest.transferKeyId === options.keyId;
  if (Date.parse(manifest.expiresAt) > now.getTime() + 86_400_000 && blobsPresent && sameKey) {
    options.logger.warn({ sequence: reserved.sequence }, 'an interrupted send left bundle sequence reserved; sending the identical bundle again');
    const { file, parts } = await sendToSpool({ spool: options.spool, manifest, manifestBytes, privateKey: options.privateKey, store: options.store, partMaxBytes: options.partMaxBytes, names: options.names });
    return recordSent(options, manifest, reserved, { file, parts, resent: 0 });
  }
  options.logger.warn({ sequence: reserved.sequence }, 'an interrupted send left bundle sequence reserved and it cannot be sent again; the next bundle follows it');
  transfer.lastSequence = reserved.sequence;
  transfer.lastManifestSha256 = reserved.manifestSha256;
  transfer.reserved = null;
  await options.database.write();
  return undefined;
}

/** Recorded only once the bundle is durably in the spool, in the same write that frees the reservation. */
async function recordSent(options: BundleOptions, manifest: Manifest, reserved: ReservedBundle, sent: { file: string; parts: number; resent: number }): Promise<BundleOutcome> {
  const data = options.database.data;
  data.transfer.lastSequence = manifest.sequence;
  data.transfer.lastManifestSha256 = reserved.manifestSha256;
  data.transfer.lastStateDigest = reserved.stateDigest;
  data.transfer.lastBundleAt = manifest.createdAt;
  data.transfer.reserved = null;
  const bundled = new Map(manifest.products.map((product) => [product.id, new Set((product.releases ?? []).map((release) => release.version))]));
  for (const entry of options.entries) {
    for (const release of data.products[entry.id]?.releases ?? []) if (bundled.get(entry.id)?.has(release.version)) release.firstBundledAt ??= manifest.createdAt;
  }
  for (const blob of manifest.blobs) data.transfer.sentBlobs[blob.sha256] = manifest.createdAt;
  await options.database.write();
  const bytes = manifest.blobs.reduce((sum, blob) => sum + blob.size, 0);
  options.logger.info({ sequence: manifest.sequence, file: sent.file, parts: sent.parts, blobs: manifest.blobs.length, bytes, artifacts: manifest.artifacts.length }, 'bundle written to spool');
  return { status: 'sent', sequence: manifest.sequence, file: sent.file, parts: sent.parts, blobs: manifest.blobs.length, resent: sent.resent, bytes };
}

/** Blobs due for another pass of the carousel, least recently sent first, within the byte budget. */
function carouselBlobs(options: BundleOptions, artifacts: readonly Artifact[], fresh: ReadonlyMap<string, number>, now: Date): Map<string, number> {
  const due = new Map<string, number>();
  if (!options.carousel) return due;
  const sent = options.database.data.transfer.sentBlobs;
  const cutoff = now.getTime() - options.carousel.everyHours * 3_600_000;
  const candidates = new Map<string, { size: number; at: number }>();
  for (const artifact of artifacts) {
    if (fresh.has(artifact.sha256)) continue;
    const at = Date.parse(sent[artifact.sha256] ?? '') || 0;
    if (at <= cutoff) candidates.set(artifact.sha256, { size: artifact.size, at });
  }
  let budget = options.carousel.maxBytes;
  for (const [sha256, { size }] of [...candidates].sort(([, a], [, b]) => a.at - b.at)) {
    if (size > budget) continue;
    budget -= size;
    due.set(sha256, size);
  }
  return due;
}
