import type { ProductSummary } from '../bundle/manifest.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { compareVersions } from '../versions/index.ts';
import type { CoverageSource, ProductTally, ProductTallyRequest } from './coverage-source.ts';

export interface VersionCount {
  version: string;
  count: number;
}

export interface EndpointBehind {
  endpoint: string;
  version: string;
  platform: string | null;
  channel: string | null;
  /** Published versions newer than the endpoint's (null when its version does not parse). */
  versionsBehind: number | null;
  /** Days since a newer version became available here. */
  daysBehind: number;
  lastSeen: string;
}

export interface SegmentCoverage {
  platform: string | null;
  channel: string | null;
  endpoints: number;
  current: number;
  share: number | null;
}

export interface ReleaseLatency {
  version: string;
  /** First seen at the vendor by the fetcher (the feeds we read give no publication time). */
  firstSeenAt: string | null;
  fetchedAt: string | null;
  bundledAt: string | null;
  publishedAt: string | null;
  firstEndpointAt: string | null;
  p50At: string | null;
  p90At: string | null;
  hours: { toPublish: number | null; toFirstEndpoint: number | null; toP50: number | null; toP90: number | null };
}

export interface ProductCoverage {
  productId: string;
  name: string;
  vendor: string;
  trust: ProductSummary['trust'];
  newestVendor: string | null;
  newestPublished: string | null;
  publishedSince: string | null;
  /** Active endpoints running the product: one address running two builds (platforms or channels) is one endpoint. */
  endpoints: number;
  staleEndpoints: number;
  /** Active endpoints all of whose builds are on the newest published version (one outdated build exposes the endpoint). */
  current: number;
  share: number | null;
  /** Builds per version: an endpoint running two builds counts in each one's version. */
  histogram: VersionCount[];
  /** Builds per platform and channel: an endpoint running two builds counts in each one's segment. */
  segments: SegmentCoverage[];
  /** Active endpoints behind the newest published version, all counted. */
  behindCount: number;
  /** The most behind of them (at most `behindLimit`, 1,000 by default), most days behind first, each by its least up-to-date build. */
  behind: EndpointBehind[];
  latency: ReleaseLatency[];
  latencySummary: { releases: number; medianHoursToPublish: number | null; medianHoursToP90: number | null };
}

export interface CoverageReport {
  generatedAt: string;
  endpoints: { total: number; active: number; stale: number };
  products: ProductCoverage[];
}

const hour = 3_600_000;
const day = 24 * hour;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const hoursBetween = (from: string | null, to: string | null) => (from && to ? Math.round(((Date.parse(to) - Date.parse(from)) / hour) * 10) / 10 : null);

/**
 * Ranks every version a product's data mentions once, so that the many comparisons below
 * are integer comparisons (100,000 endpoints × 30 products is the size to plan for).
 * A version that does not parse under the product's scheme gets no rank.
 */
function rankVersions(scheme: ProductSummary['scheme'], versions: Iterable<string>): Map<string, number> {
  const valid = [...new Set(versions)].filter((version) => {
    try {
      compareVersions(scheme, version, version);
      return true;
    } catch {
      return false;
    }
  });
  valid.sort((a, b) => compareVersions(scheme, a, b));
  const ranks = new Map<string, number>();
  valid.forEach((version, index) => {
    const previous = valid[index - 1];
    // Equal versions ("115.9.1esr" and "115.9.1") share a rank.
    ranks.set(version, previous !== undefined && compareVersions(scheme, previous, version) === 0 ? ranks.get(previous)! : index);
  });
  return ranks;
}

/** Coverage, version spread and patch latency of every published product, from the endpoint inventory. */
export async function computeCoverage(state: LgwanState, source: CoverageSource, options: { now: Date; endpointStaleDays: number; latencyReleases?: number; behindLimit?: number; tenant?: string }): Promise<CoverageReport> {
  const now = options.now.getTime();
  const staleBefore = new Date(now - options.endpointStaleDays * day);
  const published = state.published;
  const mentionedByProduct = await source.versionsByProduct(options.tenant);

  interface Plan {
    product: NonNullable<LgwanState['published']>['products'][number];
    request: ProductTallyRequest;
    newestPublished: string | null;
    releaseVersions: string[];
    rankOf(version: string): number | undefined;
    behindByRank: Map<number | undefined, { versionsBehind: number | null; daysBehind: number }>;
  }
  const plans: Plan[] = [];
  for (const product of published?.products ?? []) {
    const publishedVersions = new Set<string>();
    for (const artifact of published!.artifacts) if (artifact.productId === product.id) publishedVersions.add(artifact.version);
    const timeline = state.releaseTimeline[product.id] ?? {};
    const firstPublished = state.firstPublished[product.id] ?? {};
    const mentioned = new Set<string>([...publishedVersions, ...Object.keys(timeline), ...Object.keys(firstPublished), ...(mentionedByProduct.get(product.id) ?? [])]);
    if (product.latestSeen) mentioned.add(product.latestSeen.version);
    const ranks = rankVersions(product.scheme, mentioned);
    const rankOf = (version: string) => ranks.get(version);
    let newestPublished: string | null = null;
    for (const version of publishedVersions) if (newestPublished === null || (rankOf(version) ?? -1) > (rankOf(newestPublished) ?? -1)) newestPublished = version;
    const releaseVersions = [...new Set([...Object.keys(timeline), ...Object.keys(firstPublished)])]
      .filter((version) => rankOf(version) !== undefined)
      .sort((a, b) => rankOf(b)! - rankOf(a)!)
      .slice(0, options.latencyReleases ?? 10);
    // How far behind depends only on the version an endpoint runs: one answer per rank.
    const newestRank = newestPublished === null ? undefined : rankOf(newestPublished);
    const publications = Object.entries(firstPublished)
      .map(([version, at]) => ({ rank: rankOf(version), at: Date.parse(at) }))
      .filter((entry): entry is { rank: number; at: number } => entry.rank !== undefined);
    const publishedRanks = [...publishedVersions].map(rankOf).filter((rank): rank is number => rank !== undefined);
    const behindOf = (rank: number | undefined) => {
      let availableSince = Number.POSITIVE_INFINITY;
      const newer = new Set<number>();
      for (const publication of publications) {
        if (rank === undefined || publication.rank > rank) {
          availableSince = Math.min(availableSince, publication.at);
          if (newestRank !== undefined && publication.rank <= newestRank) newer.add(publication.rank);
        }
      }
      for (const publishedRank of publishedRanks) if (rank === undefined || publishedRank > rank) newer.add(publishedRank);
      return { versionsBehind: rank === undefined ? null : newer.size, daysBehind: Number.isFinite(availableSince) ? Math.max(0, Math.floor((now - availableSince) / day)) : 0 };
    };
    const behindByRank = new Map<number | undefined, { versionsBehind: number | null; daysBehind: number }>([[undefined, behindOf(undefined)]]);
    for (const rank of new Set(ranks.values())) if (newestRank === undefined || rank < newestRank) behindByRank.set(rank, behindOf(rank));
    const daysByRank = new Map<number, number>();
    for (const [rank, answer] of behindByRank) if (rank !== undefined) daysByRank.set(rank, answer.daysBehind);
    plans.push({
      product, newestPublished, releaseVersions, rankOf, behindByRank,
      request: {
        product: product.id, ranks, newestRank, releaseRanks: releaseVersions.map((version) => rankOf(version)!),
        daysBehind: { byRank: daysByRank, unranked: behindByRank.get(undefined)!.daysBehind },
      },
    });
  }
  const [tallies, counts] = await Promise.all([source.tally({ staleBefore, tenant: options.tenant, products: plans.map((plan) => plan.request), behindLimit: options.behindLimit ?? 1000 }), source.endpointCounts(staleBefore, options.tenant)]);

  const products: ProductCoverage[] = [];
  for (const { product, newestPublished, releaseVersions, rankOf, behindByRank } of plans) {
    const timeline = state.releaseTimeline[product.id] ?? {};
    const firstPublished = state.firstPublished[product.id] ?? {};
    const tally = tallies.get(product.id) ?? emptyTally(releaseVersions.length);
    // The store lists the most behind first, in the order of these same day counts.
    const behind: EndpointBehind[] = tally.behind.map(({ rank, ...entry }) => ({ ...entry, ...(behindByRank.get(rank) ?? { versionsBehind: null, daysBehind: 0 }) }));

    // Patch latency of recent releases: vendor → fetched → bundled → published → endpoints.
    const latency: ReleaseLatency[] = releaseVersions.map((version, index) => {
      const reached = tally.reached[index] ?? { count: 0, firstAt: null, p50At: null, p90At: null };
      const times = timeline[version];
      const publishedAt = firstPublished[version] ?? null;
      return {
        version,
        firstSeenAt: times?.firstSeenAt ?? null,
        fetchedAt: times?.fetchedAt ?? null,
        bundledAt: times?.firstBundledAt ?? null,
        publishedAt,
        firstEndpointAt: reached.firstAt,
        p50At: reached.p50At,
        p90At: reached.p90At,
        hours: {
          toPublish: hoursBetween(times?.firstSeenAt ?? null, publishedAt),
          toFirstEndpoint: hoursBetween(publishedAt, reached.firstAt),
          toP50: hoursBetween(publishedAt, reached.p50At),
          toP90: hoursBetween(publishedAt, reached.p90At),
        },
      };
    });

    products.push({
      productId: product.id,
      name: product.name,
      vendor: product.vendor,
      trust: product.trust,
      newestVendor: product.latestSeen?.version ?? null,
      newestPublished,
      publishedSince: newestPublished === null ? null : (firstPublished[newestPublished] ?? null),
      endpoints: tally.population,
      staleEndpoints: tally.staleEndpoints,
      current: tally.current,
      share: tally.population === 0 ? null : tally.current / tally.population,
      histogram: [...tally.histogram].map(([version, count]) => ({ version, count })).sort((a, b) => (rankOf(b.version) ?? -1) - (rankOf(a.version) ?? -1) || b.count - a.count || (a.version < b.version ? -1 : 1)),
      segments: tally.segments
        .map((segment) => ({ ...segment, share: segment.endpoints === 0 ? null : segment.current / segment.endpoints }))
        .sort((a, b) => `${a.platform}${a.channel}`.localeCompare(`${b.platform}${b.channel}`)),
      behindCount: tally.behindCount,
      behind,
      latency,
      latencySummary: {
        releases: latency.length,
        medianHoursToPublish: median(latency.map((release) => release.hours.toPublish).filter((value): value is number => value !== null)),
        medianHoursToP90: median(latency.map((release) => release.hours.toP90).filter((value): value is number => value !== null)),
      },
    });
  }

  return { generatedAt: options.now.toISOString(), endpoints: { total: counts.total, active: counts.total - counts.stale, stale: counts.stale }, products };
}

function emptyTally(releases: number): ProductTally {
  return { population: 0, staleEndpoints: 0, current: 0, histogram: new Map(), segments: [], behindCount: 0, behind: [], reached: Array.from({ length: releases }, () => ({ count: 0, firstAt: null, p50At: null, p90At: null })) };
}
