import { defaultTenantId } from '../admin/tenants.ts';
import type { EndpointProduct, EndpointRecord } from './inventory.ts';

/**
 * What coverage needs from an inventory, split so that a database can do the counting.
 *
 * Version order is the product's scheme (mozilla, dpkg, adobe, …), which no database
 * knows. So coverage asks first for the distinct versions each product's records mention,
 * ranks them in TypeScript, and hands the ranks back: every later comparison is an integer
 * comparison that SQL can do next to the data. The lowdb store answers with the loops in
 * this file; the PostgreSQL store answers the same questions in SQL. Both are checked by
 * one test suite (test/coverage/inventory-store.test.ts).
 */
export interface CoverageSource {
  /** Every version the records of each product mention (current ones and their history). */
  versionsByProduct(tenant?: string): Promise<Map<string, Set<string>>>;
  /** Counts per product, given each product's version ranks. */
  tally(request: TallyRequest): Promise<Map<string, ProductTally>>;
  /** Endpoints in all and those not seen since `staleBefore`. */
  endpointCounts(staleBefore: Date, tenant?: string): Promise<{ total: number; stale: number }>;
}

export interface TallyRequest {
  staleBefore: Date;
  /** Only this tenant's endpoints; every tenant's when undefined (the provider operator's view). */
  tenant?: string;
  products: ProductTallyRequest[];
  /** How many of the endpoints behind to list per product (the most behind first); all are counted. */
  behindLimit: number;
}

export interface ProductTallyRequest {
  product: string;
  /** Rank of every version that parses under the product's scheme; equal versions share a rank. */
  ranks: Map<string, number>;
  /** Rank of the newest published version (undefined: nothing published, nobody is current). */
  newestRank: number | undefined;
  /** Ranks of the recent releases whose spread is measured, newest first. */
  releaseRanks: number[];
  /** Days an update has been available to a version on each rank below the newest; `unranked` for versions that do not parse. */
  daysBehind: { byRank: Map<number, number>; unranked: number };
}

/**
 * Counts of one product. An endpoint may hold several records of a product (one address whose
 * update checks come from a 64-bit and a 32-bit build, or from two channels): the endpoint
 * figures count it once, the build figures (`histogram`, `segments`) count each record.
 */
export interface ProductTally {
  /** Distinct active endpoints with at least one record of the product: an endpoint with two builds counts once. */
  population: number;
  /** Endpoints not seen since `staleBefore` that reported the product. */
  staleEndpoints: number;
  /** Active endpoints all of whose records of the product are on (or above) the newest published rank: one outdated build exposes the endpoint. */
  current: number;
  /** Per build: active records per version ("how many run version X"); an endpoint with two builds counts in both. */
  histogram: Map<string, number>;
  /** Per build: active records and current records per platform and channel; an endpoint with two platforms is in both segments. */
  segments: Array<{ platform: string | null; channel: string | null; endpoints: number; current: number }>;
  /**
   * Active endpoints not current, when something is published: how many, and the most behind (days desc, then endpoint key
   * in code-point order). Each entry is the endpoint's least-ranked record (a version that does not parse ranks below
   * every other; equal ranks by product key in code-point order), whose rank also gives its days behind.
   */
  behindCount: number;
  behind: Array<{ endpoint: string; version: string; rank: number | undefined; platform: string | null; channel: string | null; lastSeen: string }>;
  /**
   * Per release (same order as `releaseRanks`): when the first, the 50 % and the 90 % endpoint (of `population`) ran it or
   * newer. An endpoint has reached a release when every one of its records has; its time is the latest of those records'
   * earliest first-seen times of the release or anything newer.
   */
  reached: Array<{ count: number; firstAt: string | null; p50At: string | null; p90At: string | null }>;
}

/**
 * An endpoint's key: `kind:id`, and `kind:id@tenant` outside the implicit tenant, so that two
 * municipalities behind one NAT address stay two records. No id may contain `@`.
 */
export const endpointKey = (endpoint: { kind: string; id: string; tenant?: string | undefined }) =>
  endpoint.tenant === undefined || endpoint.tenant === defaultTenantId ? `${endpoint.kind}:${endpoint.id}` : `${endpoint.kind}:${endpoint.id}@${endpoint.tenant}`;

/** The tenant an endpoint record belongs to (records from before tenants existed are the implicit one's). */
export const tenantOf = (endpoint: { tenant?: string | undefined }) => endpoint.tenant ?? defaultTenantId;

/** The records of one tenant, or all of them. */
export function* inTenant(endpoints: Iterable<EndpointRecord>, tenant: string | undefined): Iterable<EndpointRecord> {
  for (const endpoint of endpoints) if (tenant === undefined || tenantOf(endpoint) === tenant) yield endpoint;
}

/** The k-th earliest of `sorted` where k = ⌈share × population⌉, or null when fewer reached it. */
export function reachedAt(sorted: readonly number[], share: number, population: number): string | null {
  const needed = Math.ceil(share * population);
  return needed > 0 && sorted.length >= needed ? new Date(sorted[needed - 1]!).toISOString() : null;
}

/** Whether a record of rank `rank` and product key `key` comes before the other in "least" order: unranked first, then by rank, then by product key in code-point order. */
const lessThan = (rank: number | undefined, key: string, otherRank: number | undefined, otherKey: string) =>
  rank === otherRank ? key < otherKey : rank === undefined ? true : otherRank === undefined ? false : rank < otherRank;

/** The counting of `CoverageSource.tally` over endpoint records held in memory. */
export function tallyRecords(endpoints: Iterable<EndpointRecord>, request: TallyRequest): Map<string, ProductTally> {
  const staleBefore = request.staleBefore.getTime();
  interface Working extends ProductTally {
    asked: ProductTallyRequest;
    staleKeys: Set<string>;
    segmentMap: Map<string, ProductTally['segments'][number]>;
    reachedTimes: number[][];
    /** The endpoint being counted (its sequence number), its least-ranked record, and per release when all its records had reached it (NaN: one has not). */
    endpointSeq: number;
    least: { record: EndpointProduct; rank: number | undefined; productKey: string } | undefined;
    endpointReached: number[];
  }
  const tallies = new Map<string, Working>();
  for (const product of request.products) {
    tallies.set(product.product, {
      population: 0, staleEndpoints: 0, current: 0, histogram: new Map(), segments: [], behindCount: 0, behind: [], reached: [],
      asked: product, staleKeys: new Set(), segmentMap: new Map(), reachedTimes: product.releaseRanks.map(() => []),
      endpointSeq: -1, least: undefined, endpointReached: product.releaseRanks.map(() => Number.NEGATIVE_INFINITY),
    });
  }
  // Timestamps repeat a lot (one check-in stamps many products): parse each string once.
  const parsedTimes = new Map<string, number>();
  const parseTime = (value: string) => {
    let parsed = parsedTimes.get(value);
    if (parsed === undefined) parsedTimes.set(value, (parsed = Date.parse(value)));
    return parsed;
  };

  let seq = 0;
  const touched: Working[] = [];
  for (const endpoint of inTenant(endpoints, request.tenant)) {
    seq += 1;
    const stale = parseTime(endpoint.lastSeen) < staleBefore;
    const key = endpointKey(endpoint);
    touched.length = 0;
    for (const productKey in endpoint.products) {
      const record = endpoint.products[productKey]!;
      const tally = tallies.get(record.product);
      if (!tally) continue;
      const asked = tally.asked;
      if (stale) {
        tally.staleKeys.add(key);
        continue;
      }
      if (tally.endpointSeq !== seq) {
        tally.endpointSeq = seq;
        tally.least = undefined;
        tally.endpointReached.fill(Number.NEGATIVE_INFINITY);
        touched.push(tally);
      }
      // Per build: the histogram and the segments count every record.
      tally.histogram.set(record.version, (tally.histogram.get(record.version) ?? 0) + 1);
      const rank = asked.ranks.get(record.version);
      const isCurrent = rank !== undefined && asked.newestRank !== undefined && rank >= asked.newestRank;
      const segmentKey = `${record.platform ?? ''}\u0000${record.channel ?? ''}`;
      let segment = tally.segmentMap.get(segmentKey);
      if (!segment) tally.segmentMap.set(segmentKey, (segment = { platform: record.platform ?? null, channel: record.channel ?? null, endpoints: 0, current: 0 }));
      segment.endpoints += 1;
      if (isCurrent) segment.current += 1;
      // Per endpoint: its least-ranked record decides whether it is current and how far behind.
      if (!tally.least || lessThan(rank, productKey, tally.least.rank, tally.least.productKey)) tally.least = { record, rank, productKey };
      // When this record first ran each release or anything newer; the endpoint reached it when its last record did.
      const firstSeen = record.firstSeen ?? { [record.version]: record.seenAt };
      for (let index = 0; index < asked.releaseRanks.length; index += 1) {
        let earliest = Number.POSITIVE_INFINITY;
        for (const version in firstSeen) {
          const seenRank = asked.ranks.get(version);
          if (seenRank !== undefined && seenRank >= asked.releaseRanks[index]!) earliest = Math.min(earliest, parseTime(firstSeen[version]!));
        }
        // NaN (never reached) stays NaN under Math.max.
        tally.endpointReached[index] = Number.isFinite(earliest) ? Math.max(tally.endpointReached[index]!, earliest) : Number.NaN;
      }
    }
    for (const tally of touched) {
      const { record, rank } = tally.least!;
      const asked = tally.asked;
      tally.population += 1;
      // Unranked records come first, so the least one is current only when every record is.
      if (rank !== undefined && asked.newestRank !== undefined && rank >= asked.newestRank) tally.current += 1;
      else if (asked.newestRank !== undefined) tally.behind.push({ endpoint: key, version: record.version, rank, platform: record.platform ?? null, channel: record.channel ?? null, lastSeen: endpoint.lastSeen });
      for (let index = 0; index < tally.endpointReached.length; index += 1) {
        const time = tally.endpointReached[index]!;
        if (Number.isFinite(time)) tally.reachedTimes[index]!.push(time);
      }
    }
  }

  const answer = new Map<string, ProductTally>();
  for (const [product, { asked, staleKeys, segmentMap, reachedTimes, endpointSeq: _seq, least: _least, endpointReached: _reached, ...tally }] of tallies) {
    const days = (rank: number | undefined) => (rank === undefined ? asked.daysBehind.unranked : (asked.daysBehind.byRank.get(rank) ?? 0));
    const behind = tally.behind
      .map((entry) => ({ entry, days: days(entry.rank) }))
      .sort((a, b) => b.days - a.days || (a.entry.endpoint < b.entry.endpoint ? -1 : a.entry.endpoint > b.entry.endpoint ? 1 : 0))
      .slice(0, request.behindLimit)
      .map(({ entry }) => entry);
    answer.set(product, {
      ...tally,
      behindCount: tally.behind.length,
      behind,
      staleEndpoints: staleKeys.size,
      segments: [...segmentMap.values()],
      reached: reachedTimes.map((times) => {
        times.sort((a, b) => a - b);
        return { count: times.length, firstAt: times.length > 0 ? new Date(times[0]!).toISOString() : null, p50At: reachedAt(times, 0.5, tally.population), p90At: reachedAt(times, 0.9, tally.population) };
      }),
    });
  }
  return answer;
}

/** Distinct versions per product over endpoint records held in memory. */
export function versionsOfRecords(endpoints: Iterable<EndpointRecord>, tenant?: string): Map<string, Set<string>> {
  const versions = new Map<string, Set<string>>();
  for (const endpoint of inTenant(endpoints, tenant)) {
    for (const productKey in endpoint.products) {
      const record = endpoint.products[productKey]!;
      let set = versions.get(record.product);
      if (!set) versions.set(record.product, (set = new Set()));
      set.add(record.version);
      for (const version in record.firstSeen) set.add(version);
    }
  }
  return versions;
}

/** A `CoverageSource` over a list of records: the lowdb store, tests and the benchmark use it. */
export function recordsCoverageSource(records: () => Iterable<EndpointRecord>): CoverageSource {
  return {
    versionsByProduct: async (tenant) => versionsOfRecords(records(), tenant),
    tally: async (request) => tallyRecords(records(), request),
    async endpointCounts(staleBefore, tenant) {
      let total = 0;
      let stale = 0;
      for (const endpoint of inTenant(records(), tenant)) {
        total += 1;
        if (Date.parse(endpoint.lastSeen) < staleBefore.getTime()) stale += 1;
      }
      return { total, stale };
    },
  };
}
