import type { Low } from 'lowdb';
import type { Artifact } from '../bundle/manifest.ts';
import type { RecordedDigests } from '../store/blob-store.ts';
import { openJsonState, readJsonState } from '../store/json-state.ts';

export interface ReleaseRecord {
  version: string;
  firstSeenAt: string;
  fetchedAt: string;
  /** When this release first went into a bundle (transfer time for patch latency). */
  firstBundledAt?: string;
  artifacts: Artifact[];
}

export interface SourceHealth {
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
}

export interface ProductState {
  latestSeen: { version: string; firstSeenAt: string } | null;
  health: SourceHealth;
  /** Newest first, trimmed to the catalog's retention. */
  releases: ReleaseRecord[];
}

export interface InternetState {
  products: Record<string, ProductState>;
  /** Digests computed while each blob streamed in (sha512 is needed to check hash lists without re-reading). */
  digests: Record<string, RecordedDigests>;
  transfer: {
    lastSequence: number;
    lastManifestSha256: string | null;
    /** Fingerprint of the state the last bundle described; an unchanged state sends no bundle. */
    lastStateDigest: string | null;
    /** When the last bundle was written; a quiet vendor still gets a heartbeat bundle. */
    lastBundleAt: string | null;
    /** When each blob last went into a bundle: new blobs go at once, old ones again with the carousel. */
    sentBlobs: Record<string, string>;
    /**
     * The bundle being written, recorded durably before its first byte reaches the spool: a
     * sequence that may have left is never reused for other content. After a crash the same
     * manifest bytes are sent again (issue 13: a retry once wrote a different bundle 2).
     */
    reserved?: ReservedBundle | null;
  };
}

export interface ReservedBundle {
  sequence: number;
  /** The exact manifest bytes (UTF-8 JSON) the bundle carries; Ed25519 signs them the same way again. */
  manifest: string;
  manifestSha256: string;
  stateDigest: string;
}

export const emptyInternetState: InternetState = {
  products: {},
  digests: {},
  transfer: { lastSequence: 0, lastManifestSha256: null, lastStateDigest: null, lastBundleAt: null, sentBlobs: {}, reserved: null },
};

export function emptyProductState(): ProductState {
  return { latestSeen: null, health: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 }, releases: [] };
}

export type InternetDatabase = Low<InternetState>;

export function openInternetState(file: string): Promise<InternetDatabase> {
  return openJsonState(file, emptyInternetState);
}

/** For readers beside a running internet side: touches nothing. */
export function readInternetState(file: string): Promise<InternetState> {
  return readJsonState(file, emptyInternetState);
}
