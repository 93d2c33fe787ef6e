import type { Low } from 'lowdb';
import type { Artifact, ProductSummary } from '../bundle/manifest.ts';
import type { RecordedDigests } from '../store/blob-store.ts';
import { openJsonState, readJsonState, type RevisedLow } from '../store/json-state.ts';
import { rangesOf, type SequenceRange } from './sequence-gaps.ts';

export interface PublishedState {
  sequence: number;
  manifestSha256: string;
  bundleCreatedAt: string;
  publishedAt: string;
  products: ProductSummary[];
  artifacts: Artifact[];
  /** Products only TLS vouches for that this side's keys/pins.yaml does not list under unsignedProducts: not published here. */
  notAccepted?: string[];
}

export interface Refusal {
  at: string;
  bundle: string;
  code: string;
  reason: string;
  /** Where its reason (and, if `kept`, its copy) went under <storage>/quarantine. */
  quarantinedAs: string | null;
  /** What arrived is not what was sent (rebuilt by a sanitiser, cut short, renamed, altered). */
  changedInTransit?: boolean;
  /** false: only recorded, not copied (quarantine quota reached). Absent in older states: copied. */
  kept?: boolean;
}

export interface LgwanState {
  /** What the repository serves; replaced whole, in one atomic write, by each import. */
  published: PublishedState | null;
  /** High-water marks: advanced only after a bundle is fully verified and published. */
  transfer: {
    highestSequence: number;
    lastManifestSha256: string | null;
    lastImportAt: string | null;
    lastBundle: string | null;
    /** Sequence numbers skipped by a jump forward, as ranges (a jump may be of any size). */
    missingSequenceRanges: SequenceRange[];
    waiting: { bundle: string; sequence: number; missingBlobs: string[] } | null;
    /** The last import that failed on this side (disk full, I/O); cleared by the next successful import. */
    lastImportError: { at: string; bundle: string; reason: string } | null;
    /** Bundles sent as parts whose parts have not all arrived (by TOC name). */
    incomplete: Record<string, { sequence: number; firstSeenAt: string; missing: string[]; timedOut: boolean; /** Parts present but not the bytes the TOC names. */ changed?: string[] }>;
  };
  refusals: Refusal[];
  /** Spool entries already handled (name → size/mtime/outcome), so a poll does not re-read them. */
  processed: Record<string, { size: number; mtimeMs: number; outcome: string }>;
  /** Digests computed while each blob was received. */
  digests: Record<string, RecordedDigests>;
  /** When each product version first became available here ("since when"). */
  firstPublished: Record<string, Record<string, string>>;
  /** sha256 of each imported apt InRelease → its Valid-Until: apt refuses the suite after it. */
  releaseValidUntil: Record<string, string>;
  /** Transfer key rotation: null current means the key pinned in the config (generation 1). */
  transferKeys: {
    current: { keyId: string; spki: string; generation: number; since: string } | null;
    next: { keyId: string; spki: string; announcedAt: string; viaBundle: string } | null;
    history: { keyId: string; generation: number; retiredAt: string; retiredBy: string }[];
  };
  /** Per product and version, the internet side's timings (kept after retention drops the files). */
  releaseTimeline: Record<string, Record<string, { firstSeenAt: string; fetchedAt: string; firstBundledAt: string | null }>>;
}

export const emptyLgwanState: LgwanState = {
  published: null,
  transfer: { highestSequence: 0, lastManifestSha256: null, lastImportAt: null, lastBundle: null, missingSequenceRanges: [], waiting: null, incomplete: {}, lastImportError: null },
  refusals: [],
  processed: {},
  digests: {},
  firstPublished: {},
  releaseValidUntil: {},
  releaseTimeline: {},
  transferKeys: { current: null, next: null, history: [] },
};

export type LgwanDatabase = Low<LgwanState>;
/** The state file opened by its one writer: counts its writes (status-answers.ts). */
export type LgwanStateFile = RevisedLow<LgwanState>;

/** Fields added to transfer since the file was written. */
function withTransferDefaults(state: LgwanState): LgwanState {
  const { missingSequences, ...transfer } = state.transfer as LgwanState['transfer'] & { missingSequences?: number[] };
  state.transfer = { ...emptyLgwanState.transfer, ...transfer };
  // States written before gaps were ranges kept every skipped number.
  if (missingSequences) state.transfer.missingSequenceRanges = rangesOf(missingSequences);
  return state;
}

/** For the importer, the state's one writer. */
export async function openLgwanState(file: string): Promise<LgwanStateFile> {
  const database = await openJsonState(file, emptyLgwanState);
  withTransferDefaults(database.data);
  return database;
}

/** For readers beside a running LGWAN side: touches nothing. */
export async function readLgwanState(file: string): Promise<LgwanState> {
  return withTransferDefaults(await readJsonState(file, emptyLgwanState));
}
