import type { Artifact } from '../bundle/manifest.ts';
import type { PublishedState } from '../importer/lgwan-state.ts';
import { compareVersions } from '../versions/index.ts';

export interface PublishedIndex {
  sequence: number;
  /** Repository path → artifact. Where retained versions share a path (`clamav/daily.cvd`), the newest wins. */
  byPath: Map<string, Artifact>;
  bySha256: Map<string, Artifact>;
  /** Repository path → every published artifact at it, of every retained version (rings choose among them). */
  allByPath: Map<string, Artifact[]>;
  /** Product id → its published versions. */
  versionsOf: Map<string, string[]>;
}

const empty: PublishedIndex = { sequence: 0, byPath: new Map(), bySha256: new Map(), allByPath: new Map(), versionsOf: new Map() };
const cache = new WeakMap<PublishedState, PublishedIndex>();

/** Derived from the published state and rebuilt only when an import switched it. */
export function publishedIndex(state: PublishedState | null): PublishedIndex {
  if (!state) return empty;
  const cached = cache.get(state);
  if (cached) return cached;
  const schemes = new Map(state.products.map((product) => [product.id, product.scheme]));
  const byPath = new Map<string, Artifact>();
  const bySha256 = new Map<string, Artifact>();
  const allByPath = new Map<string, Artifact[]>();
  const versions = new Map<string, Set<string>>();
  const add = (at: string, artifact: Artifact) => {
    const list = allByPath.get(at);
    if (list) list.push(artifact);
    else allByPath.set(at, [artifact]);
  };
  for (const artifact of state.artifacts) {
    bySha256.set(artifact.sha256, artifact);
    add(artifact.path, artifact);
    let productVersions = versions.get(artifact.productId);
    if (!productVersions) versions.set(artifact.productId, (productVersions = new Set()));
    productVersions.add(artifact.version);
    const existing = byPath.get(artifact.path);
    const scheme = schemes.get(artifact.productId);
    if (!existing || (scheme && existing.productId === artifact.productId && compareVersions(scheme, artifact.version, existing.version) > 0)) {
      byPath.set(artifact.path, artifact);
    }
  }
  // apt clients with Acquire-By-Hash fetch indices as <dir>/by-hash/SHA256/<hex>: the same
  // blobs under their digests, so a client mid-update never sees a newer index than its InRelease.
  for (const artifact of state.artifacts) {
    if (artifact.verification.method !== 'apt-index') continue;
    const byHash = `${artifact.path.slice(0, artifact.path.lastIndexOf('/'))}/by-hash/SHA256/${artifact.sha256}`;
    if (!byPath.has(byHash)) byPath.set(byHash, artifact);
    add(byHash, artifact);
  }
  const versionsOf = new Map([...versions].map(([product, set]) => [product, [...set]]));
  const index = { sequence: state.sequence, byPath, bySha256, allByPath, versionsOf };
  cache.set(state, index);
  return index;
}
