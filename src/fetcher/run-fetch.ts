import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedCatalogEntry } from '../catalog/load-catalog.ts';
import { advisorySourceTypes } from '../catalog/schema.ts';
import type { Artifact } from '../bundle/manifest.ts';
import { LgwanMirrorError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Downloader } from '../fetch/download.ts';
import { adapterFor, type SourceContext } from '../sources/index.ts';
import { recordedDigests, storedDigests, type BlobDigests, type BlobStore } from '../store/blob-store.ts';
import { compareVersions } from '../versions/index.ts';
import { verifyArtifacts, type BlobAccess } from '../verify/verify-artifacts.ts';
import type { PinnedKeyring } from '../verify/pinned-keys.ts';
import { emptyProductState, type InternetDatabase } from './internet-state.ts';

export interface FetchOptions {
  entries: readonly LoadedCatalogEntry[];
  database: InternetDatabase;
  store: BlobStore;
  downloader: Downloader;
  keyring: PinnedKeyring;
  logger: Logger;
  storageRoot: string;
  now?: () => Date;
}

export interface ProductFetchOutcome {
  productId: string;
  status: 'fetched' | 'up-to-date' | 'failed';
  version?: string;
  error?: string;
}

/** Access to the internet side's own blobs, with digests recorded when they were written. */
export function internetBlobAccess(store: BlobStore, database: InternetDatabase, fresh: Map<string, BlobDigests>): BlobAccess {
  return {
    async digests(sha256, needs) {
      const written = fresh.get(sha256);
      if (written) return (await store.has(sha256)) ? written : undefined;
      const digests = await storedDigests(store, sha256, database.data.digests[sha256], needs);
      if (digests?.sha256 === sha256) database.data.digests[sha256] = recordedDigests(digests);
      return digests;
    },
    read: (sha256) => readFile(store.pathOf(sha256)),
    file: async (sha256) => store.pathOf(sha256),
  };
}

function sameDocuments(a: readonly Artifact[], b: readonly Artifact[]): boolean {
  const names = (artifacts: readonly Artifact[]) => artifacts.map((artifact) => `${artifact.fileName}\u0000${artifact.sha256}`).sort().join('\n');
  return names(a) === names(b);
}

/**
 * The internet side's main job for each product: ask the vendor for the newest version,
 * fetch and verify it if it is new, and record the outcome as source health. One
 * product's failure never stops the others.
 */
export async function runFetch(options: FetchOptions): Promise<ProductFetchOutcome[]> {
  const now = options.now ?? (() => new Date());
  const outcomes: ProductFetchOutcome[] = [];
  for (const entry of options.entries) {
    const log = options.logger.child({ productId: entry.id });
    const state = (options.database.data.products[entry.id] ??= emptyProductState());
    const recorded = new Map<string, BlobDigests>();
    const context: SourceContext = {
      entry,
      downloader: options.downloader,
      store: options.store,
      recorded,
      keyring: options.keyring,
      logger: log,
      quarantineDirectory: path.join(options.storageRoot, 'quarantine'),
      manualDirectory: path.join(options.storageRoot, 'manual'),
    };
    const adapter = adapterFor(entry.source);
    const seenBefore = state.latestSeen;
    try {
      const version = await adapter.latestVersion(context);
      if (state.latestSeen && compareVersions(entry.scheme, version, state.latestSeen.version) < 0) {
        throw new LgwanMirrorError('E_ROLLBACK', `${entry.id}: the vendor now offers ${version}, older than ${state.latestSeen.version} seen before; refusing a downgrade`, {
          details: { productId: entry.id, offered: version, seen: state.latestSeen.version },
        });
      }
      if (!state.latestSeen || state.latestSeen.version !== version) state.latestSeen = { version, firstSeenAt: now().toISOString() };
      if (state.releases.some((release) => release.version === version)) {
        outcomes.push({ productId: entry.id, status: 'up-to-date', version });
      } else {
        log.info({ version }, 'new release, fetching');
        const release = await adapter.fetchRelease(context, version);
        // Second line of defence: the same check the LGWAN importer will run, on this side's own digests.
        await verifyArtifacts(release.artifacts, internetBlobAccess(options.store, options.database, recorded), options.keyring);
        for (const [sha256, digests] of recorded) options.database.data.digests[sha256] = recordedDigests(digests);
        // An advisory source's version is its fetch snapshot: the same documents again are no new release.
        const newest = state.releases[0];
        if ((advisorySourceTypes as readonly string[]).includes(entry.source.type) && newest && sameDocuments(newest.artifacts, release.artifacts)) {
          state.latestSeen = seenBefore;
          outcomes.push({ productId: entry.id, status: 'up-to-date', version: newest.version });
          state.health = { ...state.health, lastSuccessAt: now().toISOString(), consecutiveFailures: 0 };
          await options.database.write();
          continue;
        }
        // One release per version, whatever else ran meanwhile: two sets of signature files
        // for one version would make the LGWAN side (rightly) refuse the bundle.
        const duplicate = state.releases.findIndex((release) => release.version === version);
        if (duplicate !== -1) state.releases.splice(duplicate, 1);
        state.releases.push({ version, firstSeenAt: state.latestSeen.firstSeenAt, fetchedAt: now().toISOString(), artifacts: release.artifacts });
        state.releases.sort((a, b) => compareVersions(entry.scheme, b.version, a.version));
        state.releases.splice(entry.retention);
        log.info({ version, artifacts: release.artifacts.length, bytes: release.artifacts.reduce((sum, artifact) => sum + artifact.size, 0) }, 'release fetched and verified');
        outcomes.push({ productId: entry.id, status: 'fetched', version });
      }
      state.health = { ...state.health, lastSuccessAt: now().toISOString(), consecutiveFailures: 0 };
    } catch (error) {
      log.error({ error: errorMessage(error) }, 'fetch failed');
      state.health = { ...state.health, lastErrorAt: now().toISOString(), lastError: errorMessage(error), consecutiveFailures: state.health.consecutiveFailures + 1 };
      outcomes.push({ productId: entry.id, status: 'failed', error: errorMessage(error) });
    }
    await options.database.write();
  }
  return outcomes;
}
