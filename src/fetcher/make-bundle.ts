import { createHash, type KeyObject } from 'node:crypto';
import type { LoadedCatalogEntry } from '../catalog/load-catalog.ts';
import type { Logger } from '../core/logger.ts';
import { bundleFormat, type Artifact, type Manifest, type ProductSummary } from '../bundle/manifest.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { sendToSpool } from '../transfer/spool-sender.ts';
import type { TransferFileNames } from '../transfer/spool-names.ts';
import { emptyProductState, type InternetDatabase } from './internet-state.ts';

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
  const products: ProductSummary[] = [];
  const artifacts: Artifact[] = [];
  for (const entry of options.entries) {
    const state = data.products[entry.id] ?? emptyProductState();
    products.push({
      id: entry.id, name: entry.name, vendor: entry.vendor, scheme: entry.scheme, trust: entry.trust, retention: entry.retention,
      latestSeen: state.latestSeen,
      releases: state.releases.map((release) => ({ version: release.version, firstSeenAt: release.firstSeenAt, fetchedAt: release.fetchedAt, firstBundledAt: release.firstBundledAt ?? createdAt.toISOString() })),
      protocol: protocolOf(entry),
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
  const { file, manifestBytes, parts } = await sendToSpool({ spool: options.spool, manifest, privateKey: options.privateKey, store: options.store, partMaxBytes: options.partMaxBytes, names: options.names });
  // Recorded only once the bundle is durably in the spool.
  data.transfer.lastSequence = manifest.sequence;
  data.transfer.lastManifestSha256 = createHash('sha256').update(manifestBytes).digest('hex');
  data.transfer.lastStateDigest = stateDigest;
  data.transfer.lastBundleAt = manifest.createdAt;
  for (const entry of options.entries) for (const release of data.products[entry.id]?.releases ?? []) release.firstBundledAt ??= manifest.createdAt;
  for (const sha256 of blobs.keys()) data.transfer.sentBlobs[sha256] = manifest.createdAt;
  await options.database.write();
  const bytes = [...blobs.values()].reduce((sum, size) => sum + size, 0);
  options.logger.info({ sequence: manifest.sequence, file, parts, blobs: blobs.size, bytes, artifacts: artifacts.length }, 'bundle written to spool');
  return { status: 'sent', sequence: manifest.sequence, file, parts, blobs: blobs.size, resent: carousel.size, bytes };
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
