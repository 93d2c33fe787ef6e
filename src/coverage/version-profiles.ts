import { endpointKey, inTenant } from './coverage-source.ts';
import type { EndpointRecord } from './inventory.ts';

/**
 * What exposure to advisories (issue 16) asks of an inventory: group the active endpoints by
 * which of the given (product, version) pairs they run. The caller numbers the pairs that
 * matter (those exposed to something); an endpoint's profile is the set of those numbers its
 * records carry, and endpoints with the same profile are exposed to the same CVEs, so the
 * mapping is done once per profile, not per endpoint. The lowdb store answers with the loop
 * below, PostgreSQL in SQL (postgres-inventory.ts); test/exposure/version-profiles.test.ts
 * checks both against each other.
 */
export interface VersionProfileRequest {
  /** Endpoints not seen since then are stale and left out, as coverage does. */
  staleBefore: Date;
  tenant?: string;
  pairs: ReadonlyArray<{ product: string; version: string; id: number }>;
  /** Endpoint keys listed per profile (the first in code-point order); all are counted. */
  sampleLimit: number;
}

export interface VersionProfile {
  /** Pair numbers, ascending, none twice. */
  ids: number[];
  /** Distinct active endpoints with exactly this profile (an endpoint with two builds counts once). */
  endpoints: number;
  /** Up to `sampleLimit` of their keys, in code-point order. */
  sample: string[];
}

export interface VersionProfileSource {
  /** Profiles of active endpoints that run at least one of the pairs; the others are not listed. */
  versionProfiles(request: VersionProfileRequest): Promise<VersionProfile[]>;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `versionProfiles` over endpoint records held in memory. */
export function profilesOfRecords(endpoints: Iterable<EndpointRecord>, request: VersionProfileRequest): VersionProfile[] {
  const pairs = new Map<string, Map<string, number>>();
  for (const pair of request.pairs) {
    let versions = pairs.get(pair.product);
    if (!versions) pairs.set(pair.product, (versions = new Map()));
    versions.set(pair.version, pair.id);
  }
  const staleBefore = request.staleBefore.getTime();
  const profiles = new Map<string, VersionProfile>();
  const ids: number[] = [];
  for (const endpoint of inTenant(endpoints, request.tenant)) {
    if (Date.parse(endpoint.lastSeen) < staleBefore) continue;
    ids.length = 0;
    for (const productKey in endpoint.products) {
      const record = endpoint.products[productKey]!;
      const id = pairs.get(record.product)?.get(record.version);
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
    if (ids.length === 0) continue;
    ids.sort((a, b) => a - b);
    const key = ids.join(',');
    let profile = profiles.get(key);
    if (!profile) profiles.set(key, (profile = { ids: [...ids], endpoints: 0, sample: [] }));
    profile.endpoints += 1;
    if (request.sampleLimit > 0) {
      profile.sample.push(endpointKey(endpoint));
      // Kept small while counting: sorted and cut whenever it doubles.
      if (profile.sample.length >= request.sampleLimit * 2) profile.sample = profile.sample.sort(byCodePoint).slice(0, request.sampleLimit);
    }
  }
  for (const profile of profiles.values()) profile.sample = profile.sample.sort(byCodePoint).slice(0, request.sampleLimit);
  return [...profiles.values()];
}
