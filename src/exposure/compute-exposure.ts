import type { AdvisoryData, KnownExploited } from '../advisories/model.ts';
import type { VersionScheme } from '../catalog/schema.ts';
import type { CoverageSource } from '../coverage/coverage-source.ts';
import type { EndpointRecord } from '../coverage/inventory.ts';
import type { VersionProfileSource } from '../coverage/version-profiles.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { compareVersions } from '../versions/index.ts';
import { advisoryIndexOf, exposureOfVersion, lineOf, type AdvisoryIndex, type CveStatement, type ProductAdvisories } from './advisory-index.ts';

/**
 * `versions`: endpoint versions are compared with fixed-in versions; `packages`: the advisories name
 * source packages, and endpoints report only the suite snapshot they fetched (no per-endpoint
 * exposure, docs/status-page.md); `none`: no advisory source covers the product ("no advisory
 * data", never "0 vulnerabilities").
 */
export type AdvisoryCoverage = 'versions' | 'packages' | 'none';

export interface KevFacts {
  dateAdded: string;
  dueDate: string;
  /** The due date has passed (in Japan's calendar: the admins are there). */
  overdue: boolean;
  knownRansomwareCampaignUse: string | null;
}

export interface CveExposure {
  cve: string;
  /** Each advisory's own words: source, advisory id, title, severity as stated (null: it states none). */
  statements: CveStatement[];
  kev: KevFacts | null;
}

export interface ProductCveExposure extends CveExposure {
  /** The fixed-in versions of this product, ascending (one per line, e.g. ESR 115 and 128). */
  fixedIn: string[];
  /** Active endpoints running a version exposed to it. */
  endpoints: number;
}

export interface ReleaseFixes {
  version: string;
  /** CVEs whose first fix published here (on this release's line) is this release. */
  cves: string[];
  kev: number;
}

export interface ProductExposure {
  productId: string;
  name: string;
  advisoryData: AdvisoryCoverage;
  sources: string[];
  /** Active endpoints exposed to at least one CVE / a KEV-listed one / one past its KEV due date. */
  exposedEndpoints: number;
  kevEndpoints: number;
  kevOverdueEndpoints: number;
  /** CVEs affecting at least one active endpoint (counted once however many advisories list them). */
  cvesAffectingEndpoints: number;
  kevCvesAffectingEndpoints: number;
  /** Exposed versions in use: distinct active endpoints per version, and what the version is exposed to. */
  versions: Array<{ version: string; endpoints: number; cves: number; kev: number; kevOverdue: number; earliestDue: string | null }>;
  /** Versions in use that do not parse under the scheme: nothing can be said about them. */
  unknownVersions: string[];
  /** Every CVE with a fix of the product, KEV first, then by CVE id (newest first). */
  cves: ProductCveExposure[];
  /** Per release published here, what it fixes. */
  releases: ReleaseFixes[];
  packageFixes: ProductAdvisories['packageFixes'];
  unusableFixes: ProductAdvisories['unusableFixes'];
  advisories: ProductAdvisories['advisories'];
}

export interface EndpointExposureSummary {
  endpoint: string;
  /** As the endpoint last reported it (agents, winget); absent when it never named itself. */
  hostname?: string;
  cves: number;
  kev: number;
  kevOverdue: number;
  earliestDue: string | null;
}

export interface ExposureReport {
  generatedAt: string;
  sources: Array<AdvisoryData['sources'][number] & { ageHours: number }>;
  endpoints: { active: number; exposed: number; kev: number; kevOverdue: number };
  /** Distinct CVEs affecting at least one active endpoint of the scope, and of them KEV-listed ones. */
  cves: { affectingEndpoints: number; kev: number; kevOverdue: number };
  products: ProductExposure[];
  /** The most exposed endpoints (overdue KEV first, then KEV, then CVE count), at most `mostExposedLimit`. */
  mostExposed: EndpointExposureSummary[];
  /** KEV entries past their due date that affect endpoints here: the alarm's input. */
  overdueKev: Array<{ cve: string; dueDate: string; endpoints: number; products: string[] }>;
}

export type ExposureSource = Pick<CoverageSource, 'versionsByProduct' | 'endpointCounts'> & VersionProfileSource & {
  /** Looked up only for the listed most-exposed endpoints, so an admin sees host names there. */
  getEndpoint?(key: string, tenant?: string): Promise<{ hostname?: string } | undefined>;
};

const day = 86_400_000;
/** Japan's calendar date of `now`, YYYY-MM-DD. */
export const japanDate = (now: Date) => new Date(now.getTime() + 9 * 3_600_000).toISOString().slice(0, 10);

export function kevFacts(entry: KnownExploited | null, today: string): KevFacts | null {
  return entry === null ? null : { dateAdded: entry.dateAdded, dueDate: entry.dueDate, overdue: entry.dueDate < today, knownRansomwareCampaignUse: entry.knownRansomwareCampaignUse ?? null };
}

const cveKeys = new Map<string, number>();
/** CVE-2024-10004 → 2024_0010004: orders by year, then number (not as text). */
const cveKey = (cve: string) => {
  let key = cveKeys.get(cve);
  if (key === undefined) {
    const [, year = '0', number = '0'] = /^CVE-(\d+)-(\d+)$/u.exec(cve) ?? [];
    key = Number(year) * 1e8 + Number(number);
    if (cveKeys.size > 1_000_000) cveKeys.clear();
    cveKeys.set(cve, key);
  }
  return key;
};
/** Newest CVE first: CVE-2024-10004 before CVE-2024-9680. */
const cveOrder = (a: string, b: string) => cveKey(b) - cveKey(a) || (a < b ? -1 : a > b ? 1 : 0);

interface Pair {
  id: number;
  product: string;
  version: string;
  cves: number[];
  kev: number;
  kevOverdue: number;
  earliestDue: string | null;
}

function schemesOf(state: LgwanState): Map<string, VersionScheme> {
  return new Map((state.published?.products ?? []).map((product) => [product.id, product.scheme]));
}

/** The advisory index for a state's products (shared with the pages that show one endpoint or advisory). */
export const indexFor = (state: LgwanState, data: AdvisoryData) => advisoryIndexOf(data, schemesOf(state));

export function coverageOf(index: AdvisoryIndex, product: string): AdvisoryCoverage {
  if (!index.covered.has(product)) return 'none';
  const entry = index.products.get(product);
  return entry && entry.groups.length === 0 && entry.packageFixes.length > 0 ? 'packages' : 'versions';
}

const productCvesCache = new WeakMap<ProductAdvisories, { today: string; cves: Array<Omit<ProductCveExposure, 'endpoints'> & { number: number }> }>();

/** A product's CVEs, KEV-listed first, then newest first: the same for every tenant, so computed once per advisory data and day. */
function productCves(entry: ProductAdvisories, index: AdvisoryIndex, today: string) {
  const cached = productCvesCache.get(entry);
  if (cached?.today === today) return cached.cves;
  const cves = entry.groups
    .flatMap((group) => group.cves.map((number) => ({ number, fixedIn: group.fixes })))
    .map(({ number, fixedIn }) => {
      const info = index.cves[number]!;
      return { number, cve: info.cve, statements: info.statements, kev: kevFacts(info.kev, today), fixedIn };
    })
    .sort((a, b) => Number(b.kev !== null) - Number(a.kev !== null) || cveOrder(a.cve, b.cve));
  productCvesCache.set(entry, { today, cves });
  return cves;
}

const releaseFixesCache = new WeakMap<ProductAdvisories, { key: string; fixes: ReleaseFixes[] }>();

/** Per published release, the CVEs it is the first release here to fix (on its line); computed once per advisory data and release list. */
function releaseFixes(entry: ProductAdvisories, index: AdvisoryIndex, releases: string[], today: string): ReleaseFixes[] {
  const key = `${today}\u0000${releases.join('\u0000')}`;
  const cached = releaseFixesCache.get(entry);
  if (cached?.key === key) return cached.fixes;
  const fixes = computeReleaseFixes(entry, index, releases, today);
  releaseFixesCache.set(entry, { key, fixes });
  return fixes;
}

function computeReleaseFixes(entry: ProductAdvisories, index: AdvisoryIndex, releases: string[], today: string): ReleaseFixes[] {
  const scheme = entry.scheme;
  const sorted = [...releases].sort((a, b) => compareVersions(scheme, a, b));
  const fixes = new Map<string, Set<number>>(sorted.map((version) => [version, new Set()]));
  for (const group of entry.groups) {
    group.fixes.forEach((fixedIn, position) => {
      const line = group.lines[position];
      const first = sorted.find((release) => lineOf(scheme, release) === line && compareVersions(scheme, release, fixedIn) >= 0);
      if (first !== undefined) for (const cve of group.cves) fixes.get(first)!.add(cve);
    });
  }
  return sorted.reverse().map((version) => {
    const cves = [...fixes.get(version)!].map((number) => index.cves[number]!);
    return { version, cves: cves.map((info) => info.cve).sort(cveOrder), kev: cves.filter((info) => kevFacts(info.kev, today) !== null).length };
  });
}

/**
 * Exposure of a scope's endpoints to the advisories: per product the CVEs fixed in versions newer
 * than the one an endpoint runs, their KEV entries, and the endpoints counted once per endpoint
 * key (as coverage counts them). The work is per distinct (product, version) and per distinct
 * profile of exposed versions, never per endpoint and CVE.
 */
export async function computeExposure(state: LgwanState, data: AdvisoryData, source: ExposureSource, options: { now: Date; endpointStaleDays: number; tenant?: string; mostExposedLimit?: number }): Promise<ExposureReport> {
  const now = options.now;
  const today = japanDate(now);
  const staleBefore = new Date(now.getTime() - options.endpointStaleDays * day);
  const index = indexFor(state, data);
  const published = state.published?.products ?? [];
  const mostExposedLimit = options.mostExposedLimit ?? 100;
  const [versionsByProduct, counts] = await Promise.all([source.versionsByProduct(options.tenant), source.endpointCounts(staleBefore, options.tenant)]);

  // Every exposed (product, version) in use gets a number; only those go to the inventory.
  const pairs: Pair[] = [];
  const unknownVersions = new Map<string, string[]>();
  for (const product of published) {
    const entry = index.products.get(product.id);
    if (!entry || coverageOf(index, product.id) !== 'versions') continue;
    for (const version of versionsByProduct.get(product.id) ?? []) {
      const exposure = exposureOfVersion(entry, version);
      if (exposure === null) {
        unknownVersions.set(product.id, [...(unknownVersions.get(product.id) ?? []), version]);
        continue;
      }
      if (exposure.cves.length === 0) continue;
      let kev = 0;
      let kevOverdue = 0;
      let earliestDue: string | null = null;
      for (const number of exposure.cves) {
        const facts = kevFacts(index.cves[number]!.kev, today);
        if (!facts) continue;
        kev += 1;
        if (facts.overdue) kevOverdue += 1;
        if (earliestDue === null || facts.dueDate < earliestDue) earliestDue = facts.dueDate;
      }
      pairs.push({ id: pairs.length, product: product.id, version, cves: exposure.cves, kev, kevOverdue, earliestDue });
    }
  }
  const profiles = await source.versionProfiles({ staleBefore, ...(options.tenant === undefined ? {} : { tenant: options.tenant }), pairs: pairs.map(({ id, product, version }) => ({ id, product, version })), sampleLimit: mostExposedLimit });

  // Per product: endpoints per version and per CVE, from each profile's part in that product.
  interface Tally { exposed: number; kev: number; kevOverdue: number; versionEndpoints: Map<number, number>; cveEndpoints: Map<number, number>; subProfiles: Map<string, { pairs: Pair[]; endpoints: number }> }
  const tallies = new Map<string, Tally>();
  const tallyOf = (product: string) => {
    let tally = tallies.get(product);
    if (!tally) tallies.set(product, (tally = { exposed: 0, kev: 0, kevOverdue: 0, versionEndpoints: new Map(), cveEndpoints: new Map(), subProfiles: new Map() }));
    return tally;
  };
  const totals = { exposed: 0, kev: 0, kevOverdue: 0 };
  const affecting = new Set<number>();
  // Per-endpoint distinct CVE counts: only CVEs of several products can be counted twice, so only those are stamped.
  const stamp = new Uint32Array(index.cves.length);
  let stampSeq = 0;
  const ranked: Array<EndpointExposureSummary & { sample: string[]; endpoints: number }> = [];
  const overdue = new Map<number, { endpoints: number; products: Set<string> }>();
  for (const profile of profiles) {
    const profilePairs = profile.ids.map((id) => pairs[id]!);
    totals.exposed += profile.endpoints;
    if (profilePairs.some((pair) => pair.kev > 0)) totals.kev += profile.endpoints;
    if (profilePairs.some((pair) => pair.kevOverdue > 0)) totals.kevOverdue += profile.endpoints;
    const byProduct = new Map<string, Pair[]>();
    for (const pair of profilePairs) byProduct.set(pair.product, [...(byProduct.get(pair.product) ?? []), pair]);
    for (const [product, productPairs] of byProduct) {
      const tally = tallyOf(product);
      tally.exposed += profile.endpoints;
      if (productPairs.some((pair) => pair.kev > 0)) tally.kev += profile.endpoints;
      if (productPairs.some((pair) => pair.kevOverdue > 0)) tally.kevOverdue += profile.endpoints;
      for (const pair of productPairs) tally.versionEndpoints.set(pair.id, (tally.versionEndpoints.get(pair.id) ?? 0) + profile.endpoints);
      const key = productPairs.map((pair) => pair.id).join(',');
      const sub = tally.subProfiles.get(key);
      if (sub) sub.endpoints += profile.endpoints;
      else tally.subProfiles.set(key, { pairs: productPairs, endpoints: profile.endpoints });
    }
    // One endpoint of this profile: its distinct CVEs, KEV-listed and overdue ones, earliest due date.
    stampSeq += 1;
    let cves = 0;
    let kev = 0;
    let kevOverdue = 0;
    let earliestDue: string | null = null;
    for (const pair of profilePairs) {
      for (const number of pair.cves) {
        if (index.shared[number] === 1) {
          if (stamp[number] === stampSeq) continue;
          stamp[number] = stampSeq;
        }
        cves += 1;
        const entry = index.cves[number]!.kev;
        if (entry) {
          kev += 1;
          if (entry.dueDate < today) {
            kevOverdue += 1;
            let record = overdue.get(number);
            if (!record) overdue.set(number, (record = { endpoints: 0, products: new Set() }));
            record.endpoints += profile.endpoints;
            record.products.add(pair.product);
          }
          if (earliestDue === null || entry.dueDate < earliestDue) earliestDue = entry.dueDate;
        }
      }
    }
    ranked.push({ endpoint: profile.sample[0] ?? '', cves, kev, kevOverdue, earliestDue, sample: profile.sample, endpoints: profile.endpoints });
  }
  // Per product and CVE: an endpoint running two exposed builds of one product counts once (its sub-profile).
  for (const tally of tallies.values()) {
    for (const sub of tally.subProfiles.values()) {
      const seen = new Set<number>();
      for (const pair of sub.pairs) for (const number of pair.cves) seen.add(number);
      for (const number of seen) {
        tally.cveEndpoints.set(number, (tally.cveEndpoints.get(number) ?? 0) + sub.endpoints);
        affecting.add(number);
      }
    }
  }
  ranked.sort((a, b) => b.kevOverdue - a.kevOverdue || b.kev - a.kev || b.cves - a.cves || (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  const mostExposed: EndpointExposureSummary[] = [];
  for (const entry of ranked) {
    for (const endpoint of entry.sample) {
      if (mostExposed.length >= mostExposedLimit) break;
      mostExposed.push({ endpoint, cves: entry.cves, kev: entry.kev, kevOverdue: entry.kevOverdue, earliestDue: entry.earliestDue });
    }
    if (mostExposed.length >= mostExposedLimit) break;
  }
  if (source.getEndpoint) {
    const hostnames = await Promise.all(mostExposed.map((entry) => source.getEndpoint!(entry.endpoint, options.tenant).then((record) => record?.hostname, () => undefined)));
    hostnames.forEach((hostname, index) => {
      if (hostname) mostExposed[index]!.hostname = hostname;
    });
  }

  const products: ProductExposure[] = published.map((product) => {
    const entry = index.products.get(product.id)!;
    const tally = tallies.get(product.id);
    const advisoryData = coverageOf(index, product.id);
    const cves: ProductCveExposure[] = productCves(entry, index, today).map(({ number, ...cve }) => ({ ...cve, endpoints: tally?.cveEndpoints.get(number) ?? 0 }));
    const versions = pairs
      .filter((pair) => pair.product === product.id && (tally?.versionEndpoints.get(pair.id) ?? 0) > 0)
      .map((pair) => ({ version: pair.version, endpoints: tally!.versionEndpoints.get(pair.id)!, cves: pair.cves.length, kev: pair.kev, kevOverdue: pair.kevOverdue, earliestDue: pair.earliestDue }))
      .sort((a, b) => compareVersions(product.scheme, a.version, b.version));
    const releases = [...new Set((state.published?.artifacts ?? []).filter((artifact) => artifact.productId === product.id).map((artifact) => artifact.version))];
    return {
      productId: product.id,
      name: product.name,
      advisoryData,
      sources: entry.sources,
      exposedEndpoints: tally?.exposed ?? 0,
      kevEndpoints: tally?.kev ?? 0,
      kevOverdueEndpoints: tally?.kevOverdue ?? 0,
      cvesAffectingEndpoints: tally?.cveEndpoints.size ?? 0,
      kevCvesAffectingEndpoints: [...(tally?.cveEndpoints.keys() ?? [])].filter((number) => index.cves[number]!.kev !== null).length,
      versions,
      unknownVersions: unknownVersions.get(product.id) ?? [],
      cves: advisoryData === 'none' ? [] : cves,
      releases: advisoryData === 'versions' ? releaseFixes(entry, index, releases, today) : [],
      packageFixes: entry.packageFixes,
      unusableFixes: entry.unusableFixes,
      advisories: entry.advisories,
    };
  });

  return {
    generatedAt: now.toISOString(),
    sources: data.sources.map((entry) => ({ ...entry, ageHours: Math.round(((now.getTime() - Date.parse(entry.fetchedAt)) / 3_600_000) * 10) / 10 })),
    endpoints: { active: counts.total - counts.stale, exposed: totals.exposed, kev: totals.kev, kevOverdue: totals.kevOverdue },
    cves: { affectingEndpoints: affecting.size, kev: [...affecting].filter((number) => index.cves[number]!.kev !== null).length, kevOverdue: overdue.size },
    products,
    mostExposed,
    overdueKev: [...overdue]
      .map(([number, record]) => ({ cve: index.cves[number]!.cve, dueDate: index.cves[number]!.kev!.dueDate, endpoints: record.endpoints, products: [...record.products].sort() }))
      .sort((a, b) => (a.dueDate < b.dueDate ? -1 : a.dueDate > b.dueDate ? 1 : cveOrder(a.cve, b.cve))),
  };
}

export interface EndpointCve extends CveExposure {
  /** The products (and versions) on this endpoint exposed to it, with the version that fixes it. */
  via: Array<{ product: string; version: string; fixedIn: string }>;
}

export interface EndpointExposure {
  endpoint: string;
  cves: EndpointCve[];
  kev: number;
  kevOverdue: number;
  earliestDue: string | null;
  /** Per product record: whether anything can be said (no advisory data, version not comparable, package trackers). */
  products: Array<{ product: string; version: string; advisoryData: AdvisoryCoverage; comparable: boolean; cves: number }>;
}

/** One endpoint's exposure, CVE by CVE (the endpoint page and /api/v1/endpoints/<key>/exposure). */
export function endpointExposure(state: LgwanState, data: AdvisoryData, endpoint: EndpointRecord, key: string, now: Date): EndpointExposure {
  const index = indexFor(state, data);
  const today = japanDate(now);
  const byCve = new Map<number, EndpointCve>();
  const products: EndpointExposure['products'] = [];
  for (const record of Object.values(endpoint.products)) {
    const entry = index.products.get(record.product);
    const advisoryData = entry ? coverageOf(index, record.product) : 'none';
    const exposure = entry && advisoryData === 'versions' ? exposureOfVersion(entry, record.version) : null;
    products.push({ product: record.product, version: record.version, advisoryData, comparable: exposure !== null, cves: exposure?.cves.length ?? 0 });
    if (!exposure) continue;
    exposure.cves.forEach((number, position) => {
      const info = index.cves[number]!;
      let cve = byCve.get(number);
      if (!cve) byCve.set(number, (cve = { cve: info.cve, statements: info.statements, kev: kevFacts(info.kev, today), via: [] }));
      if (!cve.via.some((via) => via.product === record.product && via.version === record.version)) cve.via.push({ product: record.product, version: record.version, fixedIn: exposure.fixedIn[position]! });
    });
  }
  const cves = [...byCve.values()].sort((a, b) => Number(b.kev?.overdue ?? false) - Number(a.kev?.overdue ?? false) || Number(b.kev !== null) - Number(a.kev !== null) || cveOrder(a.cve, b.cve));
  const dues = cves.flatMap((cve) => (cve.kev ? [cve.kev.dueDate] : [])).sort();
  return { endpoint: key, cves, kev: dues.length, kevOverdue: cves.filter((cve) => cve.kev?.overdue).length, earliestDue: dues[0] ?? null, products };
}
