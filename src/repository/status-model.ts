import type { InventoryHealth } from '../coverage/inventory.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { compareVersions } from '../versions/index.ts';
import { describeGaps } from '../importer/sequence-gaps.ts';
import { publishedIndex } from './published-index.ts';
import type { ProductSummary } from '../bundle/manifest.ts';
import { versionBindingOf, type VersionBinding } from '../verify/version-binding.ts';

export interface ProductStatus {
  id: string;
  name: string;
  vendor: string;
  trust: ProductSummary['trust'];
  retention: number;
  latestSeen: { version: string; firstSeenAt: string } | null;
  latestPublished: { version: string; since: string | null } | null;
  publishedVersions: string[];
  upToDate: boolean;
  /**
   * `unbound`: the vendor signs nothing that names the version of some published file (an
   * Authenticode .exe, a hash over TLS), so its version is the internet side's word alone.
   */
  versionBinding: VersionBinding;
  /** False when this side's keys/pins.yaml does not accept the product (only TLS vouches for it): not published here. */
  acceptedHere: boolean;
  sourceHealth: ProductSummary['sourceHealth'];
}

export interface Alarm {
  kind: 'refused-bundle' | 'product-not-accepted' | 'changed-in-transit' | 'sequence-gap' | 'waiting-for-blobs' | 'source-failing' | 'not-yet-published' | 'no-bundle-yet' | 'apt-valid-until' | 'transfer-stale' | 'disk-low' | 'incomplete-bundle' | 'import-failed' | 'link-cut' | 'inventory-unwritable' | 'kev-overdue' | 'advisories-stale';
  severity: 'critical' | 'warning';
  at: string | null;
  subject: string;
  detail: string;
}

export interface RepositoryStatus {
  generatedAt: string;
  transfer: LgwanState['transfer'] & { bundleCreatedAt: string | null };
  /** Over a UDP diode: the last heartbeat, and whether the link is idle, receiving or cut. */
  link: { receivedAt: string; latestSequence: number; state: 'idle' | 'receiving' | 'cut' } | null;
  /** The transfer key in use (null keyId: the key pinned in the config), and a next one announced. */
  transferKey: { generation: number; keyId: string | null; nextKeyId: string | null };
  products: ProductStatus[];
  refusals: LgwanState['refusals'];
  alarms: Alarm[];
}

const failingAfter = 3;
/** Warn this long before an apt suite's Valid-Until: a weekly security InRelease needs a fresh bundle in time. */
const validUntilWarning = 3 * 86_400_000;

/* Product rows change only when an import switches the published state (firstPublished is
   written in the same step), so they are computed once per published state, not per request. */
const productRowsCache = new WeakMap<NonNullable<LgwanState['published']>, ProductStatus[]>();

function productRows(state: LgwanState): ProductStatus[] {
  const published = state.published;
  if (!published) return [];
  const cached = productRowsCache.get(published);
  if (cached) return cached;
  const rows = published.products.map((product) => {
    const versions = [...new Set(published.artifacts.filter((artifact) => artifact.productId === product.id).map((artifact) => artifact.version))].sort((a, b) =>
      compareVersions(product.scheme, b, a),
    );
    const newest = versions[0];
    return {
      id: product.id,
      name: product.name,
      vendor: product.vendor,
      trust: product.trust,
      retention: product.retention,
      latestSeen: product.latestSeen,
      latestPublished: newest === undefined ? null : { version: newest, since: state.firstPublished[product.id]?.[newest] ?? null },
      publishedVersions: versions,
      upToDate: newest !== undefined && product.latestSeen !== null && compareVersions(product.scheme, newest, product.latestSeen.version) >= 0,
      acceptedHere: !(published.notAccepted ?? []).includes(product.id),
      versionBinding: published.artifacts.some((artifact) => artifact.productId === product.id && artifact.role === 'payload' && versionBindingOf(artifact) === 'unbound') ? ('unbound' as const) : ('bound' as const),
      sourceHealth: product.sourceHealth,
    };
  });
  productRowsCache.set(published, rows);
  return rows;
}

export interface AlarmThresholds {
  transferStaleHours: number;
  releaseLagHours: number;
  diskLowPercent: number;
  /** Alarm when an advisory source's data is older than this (issue 16); default 72. */
  advisoryMaxAgeHours?: number;
}

export const defaultThresholds: AlarmThresholds = { transferStaleHours: 48, releaseLagHours: 24, diskLowPercent: 10, advisoryMaxAgeHours: 72 };

export interface DiskReading {
  freeBytes: number;
  totalBytes: number;
  path: string;
  /** When the volume was measured (the disk-low alarm's time); default: when the status is built. */
  measuredAt?: string;
}

/** Every figure the status page shows, computed once; the page and /api/v1/status both render this. */
export function buildStatus(
  state: LgwanState,
  now: Date,
  thresholds: AlarmThresholds = defaultThresholds,
  disk?: DiskReading,
  heartbeat?: { receivedAt: string; latestSequence: number; staleSeconds: number },
  inventory?: InventoryHealth,
  /** Alarms from the advisory exposure report (src/exposure/exposure-alarms.ts). */
  advisoryAlarms: readonly Alarm[] = [],
): RepositoryStatus {
  return buildStatusUntil(state, now, thresholds, disk, heartbeat, inventory, advisoryAlarms).status;
}

/**
 * The status and the first later instant at which the clock alone changes it (an alarm that
 * starts or turns critical once a deadline passes), so that a model can be kept until then
 * (status-answers.ts). Every comparison with `now` below goes through `reached`, which remembers the deadlines still ahead.
 */
export function buildStatusUntil(
  state: LgwanState,
  now: Date,
  thresholds: AlarmThresholds,
  disk: DiskReading | undefined,
  heartbeat: { receivedAt: string; latestSequence: number; staleSeconds: number } | undefined,
  inventory: InventoryHealth | undefined,
  advisoryAlarms: readonly Alarm[],
): { status: RepositoryStatus; changesAt: number } {
  const nowMs = now.getTime();
  let changesAt = Number.POSITIVE_INFINITY;
  /** Whether `nowMs >= at`; a deadline still ahead is remembered as a change to come. */
  const reached = (at: number): boolean => {
    if (nowMs >= at) return true;
    if (at < changesAt) changesAt = at;
    return false;
  };
  const published = state.published;
  const products = productRows(state);

  const alarms: Alarm[] = [];
  if (!published) alarms.push({ kind: 'no-bundle-yet', severity: 'warning', at: null, subject: 'transfer', detail: 'no bundle has been imported yet' });
  // A refusal is an alarm until a later bundle publishes: then the path works again, and the
  // refusal stays in the list below (issue 13: alarms once stayed after the good bundle arrived).
  const publishedAt = published ? Date.parse(published.publishedAt) : Number.NEGATIVE_INFINITY;
  for (const refusal of state.refusals.slice(0, 10)) {
    if (Date.parse(refusal.at) <= publishedAt) continue;
    const kept = refusal.kept === false ? ' (not copied to quarantine: quota reached)' : '';
    alarms.push({ kind: refusal.changedInTransit ? 'changed-in-transit' : 'refused-bundle', severity: 'critical', at: refusal.at, subject: refusal.bundle, detail: `${refusal.code}: ${refusal.reason}${kept}` });
  }
  if (state.transfer.missingSequenceRanges.length > 0) {
    alarms.push({ kind: 'sequence-gap', severity: 'warning', at: state.transfer.lastImportAt, subject: 'transfer', detail: describeGaps(state.transfer.missingSequenceRanges.slice(-10)) });
  }
  if (state.transfer.lastImportError) {
    const failure = state.transfer.lastImportError;
    alarms.push({ kind: 'import-failed', severity: 'critical', at: failure.at, subject: failure.bundle, detail: failure.reason });
  }
  for (const [toc, incomplete] of Object.entries(state.transfer.incomplete ?? {})) {
    alarms.push({ kind: 'incomplete-bundle', severity: incomplete.timedOut ? 'critical' : 'warning', at: incomplete.firstSeenAt, subject: toc, detail: incomplete.missing.slice(0, 10).join(', ') });
    const changed = incomplete.changed ?? [];
    if (changed.length > 0) {
      alarms.push({ kind: 'changed-in-transit', severity: 'critical', at: incomplete.firstSeenAt, subject: toc, detail: `parts not as the signed table of contents says: ${changed.slice(0, 10).join(', ')}` });
    }
  }
  if (state.transfer.waiting) {
    const waiting = state.transfer.waiting;
    alarms.push({ kind: 'waiting-for-blobs', severity: 'warning', at: null, subject: waiting.bundle, detail: waiting.missingBlobs.slice(0, 5).join(', ') });
  }
  for (const product of products) {
    if (!product.acceptedHere) {
      alarms.push({ kind: 'product-not-accepted', severity: 'warning', at: published?.publishedAt ?? null, subject: product.id, detail: `${product.trust}: not listed under unsignedProducts in this side's keys/pins.yaml` });
    }
    if (product.sourceHealth.consecutiveFailures >= failingAfter) {
      alarms.push({ kind: 'source-failing', severity: 'warning', at: product.sourceHealth.lastErrorAt, subject: product.id, detail: product.sourceHealth.lastError ?? '' });
    }
    // A release seen at the vendor is expected here within releaseLagHours (the transfer takes time).
    if (product.latestSeen && !product.upToDate && reached(Date.parse(product.latestSeen.firstSeenAt) + thresholds.releaseLagHours * 3_600_000)) {
      alarms.push({ kind: 'not-yet-published', severity: 'warning', at: product.latestSeen.firstSeenAt, subject: product.id, detail: product.latestSeen.version });
    }
  }
  // The internet side sends at least a heartbeat bundle daily: silence means the path is cut.
  if (published && reached(Date.parse(published.bundleCreatedAt) + thresholds.transferStaleHours * 3_600_000)) {
    alarms.push({ kind: 'transfer-stale', severity: 'critical', at: published.bundleCreatedAt, subject: 'transfer', detail: `last bundle ${state.transfer.lastBundle ?? ''} created ${published.bundleCreatedAt}` });
  }
  // Over a diode, heartbeats tell a quiet link from a cut one.
  let link: RepositoryStatus['link'] = null;
  if (heartbeat) {
    const receivedAt = Date.parse(heartbeat.receivedAt);
    // Cut once the heartbeat is more than staleSeconds old (the first millisecond after).
    const cut = reached(receivedAt + heartbeat.staleSeconds * 1000 + 1);
    link = { receivedAt: heartbeat.receivedAt, latestSequence: heartbeat.latestSequence, state: cut ? 'cut' : heartbeat.latestSequence > state.transfer.highestSequence ? 'receiving' : 'idle' };
    if (cut) {
      // The detail says since when, not for how long: "for N s" would change the answer every second.
      alarms.push({ kind: 'link-cut', severity: 'critical', at: heartbeat.receivedAt, subject: 'udp', detail: `no heartbeat since ${heartbeat.receivedAt} (more than ${heartbeat.staleSeconds} s; last announced sequence ${heartbeat.latestSequence})` });
    }
  }
  if (disk && disk.totalBytes > 0 && (disk.freeBytes / disk.totalBytes) * 100 < thresholds.diskLowPercent) {
    alarms.push({ kind: 'disk-low', severity: 'critical', at: disk.measuredAt ?? now.toISOString(), subject: disk.path, detail: `${Math.round(disk.freeBytes / 1024 ** 3)} GiB free of ${Math.round(disk.totalBytes / 1024 ** 3)} GiB` });
  }
  if (inventory?.lastError) {
    alarms.push({ kind: 'inventory-unwritable', severity: 'warning', at: inventory.lastError.at, subject: inventory.backend, detail: `${inventory.pending} observations waiting; ${inventory.lastError.message}` });
  }
  for (const artifact of publishedIndex(published).byPath.values()) {
    if (artifact.verification.method !== 'apt-inrelease') continue;
    const validUntil = state.releaseValidUntil[artifact.sha256];
    if (!validUntil) continue;
    const expiresAt = Date.parse(validUntil);
    // A warning from validUntilWarning before (strictly less time left), critical from the instant itself.
    if (reached(expiresAt - validUntilWarning + 1)) {
      alarms.push({ kind: 'apt-valid-until', severity: reached(expiresAt) ? 'critical' : 'warning', at: validUntil, subject: artifact.path, detail: `Valid-Until ${validUntil}` });
    }
  }
  alarms.push(...advisoryAlarms);
  const status: RepositoryStatus = {
    generatedAt: now.toISOString(),
    transfer: { ...state.transfer, bundleCreatedAt: published?.bundleCreatedAt ?? null },
    link,
    transferKey: { generation: state.transferKeys?.current?.generation ?? 1, keyId: state.transferKeys?.current?.keyId ?? null, nextKeyId: state.transferKeys?.next?.keyId ?? null },
    products,
    refusals: state.refusals.slice(0, 20),
    alarms,
  };
  return { status, changesAt };
}
