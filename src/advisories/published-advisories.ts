import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Artifact, ProductSummary } from '../bundle/manifest.ts';
import { AdvisoryDocumentError, errorMessage } from '../core/errors.ts';
import { maxKevBytes, parseKev } from './cisa-kev.ts';
import { maxCsafBytes, parseCsafDocument } from './csaf.ts';
import { maxDebianTrackerBytes, parseDebianTracker } from './debian-tracker.ts';
import { maxJvnBytes, parseJvnDetail } from './jvn.ts';
import { maxMozillaAdvisoryBytes, mozillaAdvisoryFileName, parseMozillaAdvisory } from './mozilla-advisories.ts';
import { advisoryLimits, type Advisory, type AdvisoryData, type AdvisorySourceKind, type AdvisorySourceState, type KnownExploited } from './model.ts';

/*
 * The LGWAN side's view of advisories: the documents of every advisory source in the published
 * state (already re-verified by the importer with this side's pinned keys), parsed once per
 * published state and kept until the next one. A document that cannot be read is named in
 * its source's `problems` and left out; the others still count.
 */

/** The parts of the published state read here (the importer's PublishedState has them). */
export interface PublishedAdvisoryState {
  manifestSha256: string;
  products: readonly ProductSummary[];
  artifacts: readonly Artifact[];
}

/** How advisoryDataOf reads published blobs. */
export interface AdvisoryBlobs {
  /** A whole (small) document, refused when larger than `maxBytes`. */
  read(sha256: string, maxBytes: number): Promise<Buffer>;
  /** A large document (the Debian tracker's JSON) as a stream of its bytes, refused when larger than `maxBytes`. */
  stream(sha256: string, maxBytes: number): Promise<AsyncIterable<Buffer>>;
}

const tooLarge = (sha256: string, size: number, maxBytes: number) => new AdvisoryDocumentError(`blob ${sha256}: ${size} bytes, more than the ${maxBytes} an advisory document may have`, { file: sha256 });

/** AdvisoryBlobs over a blob store's files (`pathOf`): sizes are checked before anything is read. */
export function blobFileReader(store: { pathOf(sha256: string): string }): AdvisoryBlobs {
  return {
    async read(sha256, maxBytes) {
      const handle = await open(store.pathOf(sha256), 'r');
      try {
        const { size } = await handle.stat();
        if (size > maxBytes) throw tooLarge(sha256, size, maxBytes);
        const buffer = Buffer.alloc(size);
        const { bytesRead } = await handle.read(buffer, 0, size, 0);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
    async stream(sha256, maxBytes) {
      const file = store.pathOf(sha256);
      const { size } = await stat(file);
      if (size > maxBytes) throw tooLarge(sha256, size, maxBytes);
      return createReadStream(file, { highWaterMark: 1024 * 1024 });
    },
  };
}

const kinds: Record<NonNullable<ProductSummary['advisory']>['kind'], AdvisorySourceKind> = { mozilla: 'mozilla', 'cisa-kev': 'cisa-kev', 'debian-tracker': 'debian-tracker', csaf: 'csaf', jvn: 'jvn' };

/** The artifacts of a source's newest retained snapshot (versions are UTC YYYYMMDDHHMMSS). */
function newestSnapshot(product: ProductSummary, artifacts: readonly Artifact[]): { version: string; artifacts: Artifact[] } | undefined {
  const own = artifacts.filter((artifact) => artifact.productId === product.id);
  const newest = own.map((artifact) => artifact.version).sort((a, b) => (BigInt(a) < BigInt(b) ? 1 : BigInt(a) > BigInt(b) ? -1 : 0))[0];
  return newest === undefined ? undefined : { version: newest, artifacts: own.filter((artifact) => artifact.version === newest) };
}

/** "20261202101500" → "2026-12-02T10:15:00.000Z". */
const snapshotTime = (version: string): string => `${version.slice(0, 4)}-${version.slice(4, 6)}-${version.slice(6, 8)}T${version.slice(8, 10)}:${version.slice(10, 12)}:${version.slice(12, 14)}.000Z`;

async function readSource(product: ProductSummary, artifacts: readonly Artifact[], blobs: AdvisoryBlobs): Promise<{ state: AdvisorySourceState; advisories: Advisory[]; knownExploited: KnownExploited[] } | undefined> {
  const advisory = product.advisory;
  if (!advisory) return undefined;
  const snapshot = newestSnapshot(product, artifacts);
  const mapping = advisory.products ?? {};
  const fetchedAt = product.releases?.find((release) => release.version === snapshot?.version)?.fetchedAt ?? (snapshot && /^\d{14}$/u.test(snapshot.version) ? snapshotTime(snapshot.version) : undefined);
  const state: AdvisorySourceState = { source: product.id, kind: kinds[advisory.kind], trust: product.trust, fetchedAt: fetchedAt ?? product.sourceHealth.lastSuccessAt ?? '', products: [...new Set(Object.values(mapping))].sort() };
  const advisories: Advisory[] = [];
  const knownExploited: KnownExploited[] = [];
  const problems: string[] = [];
  let documentsRead = 0;
  const attempt = async (artifact: Artifact, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
      documentsRead += 1;
    } catch (error) {
      problems.push(`${artifact.path}: ${errorMessage(error)}`);
    }
  };
  for (const artifact of snapshot?.artifacts ?? []) {
    if (artifact.role !== 'payload') continue;
    switch (advisory.kind) {
      case 'mozilla':
        if (!mozillaAdvisoryFileName.test(artifact.fileName)) continue;
        await attempt(artifact, async () => {
          advisories.push(parseMozillaAdvisory((await blobs.read(artifact.sha256, maxMozillaAdvisoryBytes)).toString('utf8'), artifact.fileName, product.id, mapping));
        });
        break;
      case 'cisa-kev':
        await attempt(artifact, async () => {
          const catalog = parseKev(await blobs.read(artifact.sha256, maxKevBytes), artifact.path);
          state.producedAt = catalog.dateReleased;
          knownExploited.push(...catalog.knownExploited);
        });
        break;
      case 'debian-tracker':
        await attempt(artifact, async () => {
          advisories.push(...(await parseDebianTracker(await blobs.stream(artifact.sha256, maxDebianTrackerBytes), artifact.path, product.id, mapping)));
        });
        break;
      case 'csaf':
        await attempt(artifact, async () => {
          advisories.push(parseCsafDocument(await blobs.read(artifact.sha256, maxCsafBytes), artifact.path, product.id, mapping));
        });
        break;
      case 'jvn':
        await attempt(artifact, async () => {
          advisories.push(parseJvnDetail(await blobs.read(artifact.sha256, maxJvnBytes), artifact.path, product.id));
        });
        break;
    }
    if (advisories.length > advisoryLimits.advisoriesPerSource) {
      problems.push(`${product.id}: more than ${advisoryLimits.advisoriesPerSource} advisories; the rest are left out`);
      advisories.splice(advisoryLimits.advisoriesPerSource);
      break;
    }
  }
  if (!snapshot) problems.push(`${product.id}: no documents of this source are published yet`);
  // A source of which no document could be read covers nothing: its products have "no
  // advisory data", never "0 vulnerabilities".
  if (documentsRead === 0) state.products = [];
  if (problems.length > 0) state.problems = problems.slice(0, 100);
  return { state, advisories, knownExploited };
}

/** JVN identifiers a JVN source names for a CVE, added to that CVE wherever another source lists it. */
function attachJvnIds(data: AdvisoryData): void {
  const jvnSources = new Set(data.sources.filter((source) => source.kind === 'jvn').map((source) => source.source));
  if (jvnSources.size === 0) return;
  const byCve = new Map<string, Set<string>>();
  for (const advisory of data.advisories) {
    if (!jvnSources.has(advisory.source)) continue;
    for (const vulnerability of advisory.vulnerabilities) {
      const ids = byCve.get(vulnerability.cve) ?? new Set<string>();
      for (const id of vulnerability.jvn ?? []) ids.add(id);
      byCve.set(vulnerability.cve, ids);
    }
  }
  for (const advisory of data.advisories) {
    if (jvnSources.has(advisory.source)) continue;
    for (const vulnerability of advisory.vulnerabilities) {
      const ids = byCve.get(vulnerability.cve);
      if (ids && ids.size > 0) vulnerability.jvn = [...new Set([...(vulnerability.jvn ?? []), ...ids])].slice(0, 20);
    }
  }
}

let cached: { manifestSha256: string; data: Promise<AdvisoryData> } | undefined;

/**
 * The advisory data of a published state: every advisory source it carries, parsed from its
 * newest snapshot. Computed once per published state (by manifest) and shared by every caller
 * until the state changes; `null` (nothing published yet) gives no sources.
 */
export function advisoryDataOf(published: PublishedAdvisoryState | null, blobs: AdvisoryBlobs): Promise<AdvisoryData> {
  if (!published) return Promise.resolve({ sources: [], advisories: [], knownExploited: [] });
  if (cached?.manifestSha256 === published.manifestSha256) return cached.data;
  const data = (async (): Promise<AdvisoryData> => {
    const result: AdvisoryData = { sources: [], advisories: [], knownExploited: [] };
    for (const product of published.products) {
      const read = await readSource(product, published.artifacts, blobs);
      if (!read) continue;
      result.sources.push(read.state);
      result.advisories.push(...read.advisories);
      result.knownExploited.push(...read.knownExploited);
    }
    attachJvnIds(result);
    return result;
  })();
  cached = { manifestSha256: published.manifestSha256, data };
  // A failed read (a blob store fault) is not kept: the next call tries again.
  data.catch(() => {
    if (cached?.data === data) cached = undefined;
  });
  return data;
}
