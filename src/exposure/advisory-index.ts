import type { Advisory, AdvisoryData, KnownExploited } from '../advisories/model.ts';
import type { VersionScheme } from '../catalog/schema.ts';
import { compareVersions } from '../versions/index.ts';

/*
 * The advisories of one published state, arranged for mapping endpoint versions to them
 * (issue 16). Built once per AdvisoryData object and product scheme, then shared by every
 * tenant's report: per product, each CVE's fixed-in versions, sorted in the product's scheme,
 * and CVEs grouped by identical fix sets (one advisory's CVEs usually share them), so that an
 * endpoint version is compared with a group once, not with every CVE.
 */

/** What one advisory says about one CVE: severity exactly as it states it. */
export interface CveStatement {
  source: string;
  advisory: string;
  title: string;
  severity: string | null;
}

export interface CveInfo {
  cve: string;
  statements: CveStatement[];
  kev: KnownExploited | null;
}

/** A fix of a source package (a distribution tracker): see docs/status-page.md, "Exposure". */
export interface PackageFix {
  package: string;
  fixedIn: string;
  cves: string[];
  source: string;
  advisory: string;
}

interface FixGroup {
  /** Fixed-in versions, ascending in the product's scheme (equal ones once). */
  fixes: string[];
  /** Each fix's position in the product's `fixVersions`: comparisons with an endpoint version become integer ones. */
  ranks: number[];
  /** The "line" of each fix (see lineOf). */
  lines: string[];
  /** Global CVE numbers, ascending. */
  cves: number[];
  /** When the earliest advisory naming these fixes was published (ms; NaN when it says not). */
  firstFixedAt: number;
}

export interface ProductAdvisories {
  product: string;
  scheme: VersionScheme;
  /** Advisory sources that cover the product (catalog ids). */
  sources: string[];
  groups: FixGroup[];
  /** Every distinct fixed-in version, ascending. */
  fixVersions: string[];
  /** CVEs of the product (global numbers), ascending. */
  cves: number[];
  packageFixes: PackageFix[];
  /** Per line, when the newest advisory with a fix on it was published (ms): which lines the publisher still maintained. */
  lineLastFixedAt: Map<string, number>;
  /** Fixed-in versions that do not parse under the product's scheme: left out, and said so. */
  unusableFixes: Array<{ source: string; advisory: string; fixedIn: string }>;
  /** Advisories that name a fix of the product. */
  advisories: Array<{ source: string; id: string; title: string; published: string | null }>;
}

export interface AdvisoryIndex {
  data: AdvisoryData;
  /** Global CVE numbers: index into this list. */
  cves: CveInfo[];
  cveNumber: Map<string, number>;
  /** Products an advisory source says it covers. */
  covered: Set<string>;
  products: Map<string, ProductAdvisories>;
  advisory(source: string, id: string): Advisory | undefined;
  /** CVE numbers that occur in more than one product (the only ones a per-endpoint count must deduplicate). */
  shared: Uint8Array;
}

/**
 * The "line" of a version: its first numeric component (Firefox ESR 115 and 128 are two lines
 * of one product), or one line for integer schemes. A fix at or below a version counts for it
 * only on its own line: 115.15esr fixes a CVE for 115.16esr, not for 128.1esr, which needs 128.2esr.
 */
export function lineOf(scheme: VersionScheme, version: string): string {
  if (scheme === 'integer') return '';
  return /^\d+/u.exec(version)?.[0] ?? '';
}

const parses = (scheme: VersionScheme, version: string) => {
  try {
    compareVersions(scheme, version, version);
    return true;
  } catch {
    return false;
  }
};

const indexes = new WeakMap<AdvisoryData, Map<string, AdvisoryIndex>>();

/** The index of `data` for products of the given schemes (cached per data object and scheme set). */
export function advisoryIndexOf(data: AdvisoryData, schemes: ReadonlyMap<string, VersionScheme>): AdvisoryIndex {
  const signature = [...schemes].map(([product, scheme]) => `${product}=${scheme}`).sort().join(',');
  let byScheme = indexes.get(data);
  if (!byScheme) indexes.set(data, (byScheme = new Map()));
  const cached = byScheme.get(signature);
  if (cached) return cached;
  const index = buildIndex(data, schemes);
  // One published state has one product list; a few tenants' subsets at most.
  if (byScheme.size > 16) byScheme.clear();
  byScheme.set(signature, index);
  return index;
}

function buildIndex(data: AdvisoryData, schemes: ReadonlyMap<string, VersionScheme>): AdvisoryIndex {
  const kev = new Map(data.knownExploited.map((entry) => [entry.cve, entry]));
  const cves: CveInfo[] = [];
  const cveNumber = new Map<string, number>();
  const numberOf = (cve: string) => {
    let number = cveNumber.get(cve);
    if (number === undefined) {
      cveNumber.set(cve, (number = cves.length));
      cves.push({ cve, statements: [], kev: kev.get(cve) ?? null });
    }
    return number;
  };
  const covered = new Set(data.sources.flatMap((source) => source.products));
  const byAdvisory = new Map<string, Advisory>();
  interface Working {
    fixesByCve: Map<number, Set<string>>;
    firstFixedAt: Map<number, number>;
    lineLastFixedAt: Map<string, number>;
    packageFixes: PackageFix[];
    unusable: ProductAdvisories['unusableFixes'];
    advisories: Map<string, ProductAdvisories['advisories'][number]>;
  }
  const working = new Map<string, Working>();
  const productsOfCve = new Map<number, Set<string>>();
  for (const advisory of data.advisories) {
    byAdvisory.set(`${advisory.source}\u0000${advisory.id}`, advisory);
    const stated = new Map(advisory.vulnerabilities.map((vulnerability) => [vulnerability.cve, vulnerability]));
    for (const vulnerability of advisory.vulnerabilities) {
      // A CVE listed in several advisories is one CVE; each advisory's own words about it are kept.
      cves[numberOf(vulnerability.cve)]!.statements.push({ source: advisory.source, advisory: advisory.id, title: vulnerability.title ?? advisory.title, severity: vulnerability.severity ?? null });
    }
    for (const fix of advisory.fixes) {
      const scheme = schemes.get(fix.product);
      if (scheme === undefined) continue;
      let product = working.get(fix.product);
      if (!product) working.set(fix.product, (product = { fixesByCve: new Map(), firstFixedAt: new Map(), lineLastFixedAt: new Map(), packageFixes: [], unusable: [], advisories: new Map() }));
      product.advisories.set(`${advisory.source}\u0000${advisory.id}`, { source: advisory.source, id: advisory.id, title: advisory.title, published: advisory.published ?? null });
      const fixed = fix.cves ?? [...stated.keys()];
      if (fix.package !== undefined) {
        product.packageFixes.push({ package: fix.package, fixedIn: fix.fixedIn, cves: fixed, source: advisory.source, advisory: advisory.id });
        for (const cve of fixed) numberOf(cve);
        continue;
      }
      if (!parses(scheme, fix.fixedIn)) {
        product.unusable.push({ source: advisory.source, advisory: advisory.id, fixedIn: fix.fixedIn });
        continue;
      }
      const publishedAt = advisory.published === undefined ? Number.NaN : Date.parse(advisory.published);
      const line = lineOf(scheme, fix.fixedIn);
      if (Number.isFinite(publishedAt) && !(publishedAt <= (product.lineLastFixedAt.get(line) ?? Number.NEGATIVE_INFINITY))) product.lineLastFixedAt.set(line, publishedAt);
      for (const cve of fixed) {
        const number = numberOf(cve);
        let versions = product.fixesByCve.get(number);
        if (!versions) product.fixesByCve.set(number, (versions = new Set()));
        versions.add(fix.fixedIn);
        // NaN (an advisory without a date) wins: then nothing is assumed about parallel lines.
        const earliest = product.firstFixedAt.get(number);
        product.firstFixedAt.set(number, earliest === undefined ? publishedAt : Number.isNaN(earliest) || Number.isNaN(publishedAt) ? Number.NaN : Math.min(earliest, publishedAt));
        let products = productsOfCve.get(number);
        if (!products) productsOfCve.set(number, (products = new Set()));
        products.add(fix.product);
      }
    }
  }

  const products = new Map<string, ProductAdvisories>();
  const sourcesOf = (product: string) => data.sources.filter((source) => source.products.includes(product)).map((source) => source.source);
  for (const [product, scheme] of schemes) {
    const entry = working.get(product);
    const sorted = (versions: Iterable<string>) => {
      const list = [...new Set(versions)].sort((a, b) => compareVersions(scheme, a, b));
      return list.filter((version, position) => position === 0 || compareVersions(scheme, list[position - 1]!, version) !== 0);
    };
    const groups = new Map<string, FixGroup>();
    for (const [cve, versions] of entry?.fixesByCve ?? []) {
      const fixes = sorted(versions);
      const firstFixedAt = entry!.firstFixedAt.get(cve) ?? Number.NaN;
      const key = `${fixes.join('\u0000')}\u0000${firstFixedAt}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { fixes, ranks: [], lines: fixes.map((version) => lineOf(scheme, version)), cves: [], firstFixedAt }));
      group.cves.push(cve);
    }
    const fixVersions = sorted([...(entry?.fixesByCve.values() ?? [])].flatMap((versions) => [...versions]));
    const rankOf = (version: string) => {
      // fixVersions holds one of each group of equal versions: find the one equal to `version`.
      let low = 0;
      let high = fixVersions.length - 1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        const order = compareVersions(scheme, fixVersions[middle]!, version);
        if (order === 0) return middle;
        if (order < 0) low = middle + 1;
        else high = middle - 1;
      }
      throw new Error(`${product}: fixed-in version ${version} missing from its own list`);
    };
    for (const group of groups.values()) {
      group.cves.sort((a, b) => a - b);
      group.ranks = group.fixes.map(rankOf);
    }
    products.set(product, {
      product,
      scheme,
      sources: sourcesOf(product),
      groups: [...groups.values()],
      fixVersions,
      cves: [...(entry?.fixesByCve.keys() ?? [])].sort((a, b) => a - b),
      packageFixes: entry?.packageFixes ?? [],
      lineLastFixedAt: entry?.lineLastFixedAt ?? new Map(),
      unusableFixes: entry?.unusable ?? [],
      advisories: [...(entry?.advisories.values() ?? [])],
    });
  }
  const shared = new Uint8Array(cves.length);
  for (const [number, names] of productsOfCve) if (names.size > 1) shared[number] = 1;
  return { data, cves, cveNumber, covered, products, advisory: (source, id) => byAdvisory.get(`${source}\u0000${id}`), shared };
}

/** The CVEs of `product` not fixed in `version`, each with the version that fixes it for this one. */
export interface VersionExposure {
  /** Global CVE numbers, ascending. */
  cves: number[];
  /** Per CVE (same order): the fixed-in version that applies to this version. */
  fixedIn: string[];
}

/**
 * Which of a product's CVEs a version is exposed to: those with a fix newer than it and no fix at
 * or below it on its own line (lineOf). A CVE fixed only on newer lines is not counted for a line
 * the publisher was still fixing after that (a later advisory has a fix on it): publishers such as
 * Mozilla fix each maintained line in its own advisory and leave out the lines a bug does not
 * affect (CVE-2024-9402: "present in Firefox 130, Firefox ESR 128.2", not in ESR 115). A line with
 * no later fix (Firefox 130 once 131 is out, an abandoned ESR) is exposed. null when the version
 * does not parse under the scheme: nothing can be said about it, which is not "no vulnerabilities".
 */
export function exposureOfVersion(product: ProductAdvisories, version: string): VersionExposure | null {
  if (!parses(product.scheme, version)) return null;
  const line = lineOf(product.scheme, version);
  // How many of the product's fixed-in versions are at or below this one (a binary search, once).
  const fixes = product.fixVersions;
  let low = 0;
  let high = fixes.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (compareVersions(product.scheme, fixes[middle]!, version) <= 0) low = middle + 1;
    else high = middle;
  }
  const atOrBelow = low;
  const found: Array<{ cve: number; fixedIn: string }> = [];
  for (const group of product.groups) {
    // Groups hold one or two fixes (one per line): a linear walk is the cheapest search.
    let below = -1;
    let above = -1;
    for (let position = 0; position < group.ranks.length; position += 1) {
      if (group.ranks[position]! < atOrBelow) below = position;
      else {
        above = position;
        break;
      }
    }
    if (above === -1) continue;
    if (below !== -1 && group.lines[below] === line) continue;
    if (!group.lines.includes(line) && (product.lineLastFixedAt.get(line) ?? Number.NaN) >= group.firstFixedAt) continue;
    // The fix on the version's own line, when there is one; else the next newer one.
    let fixedIn = group.fixes[above]!;
    for (let position = above; position < group.fixes.length; position += 1) {
      if (group.lines[position] === line) {
        fixedIn = group.fixes[position]!;
        break;
      }
    }
    for (const cve of group.cves) found.push({ cve, fixedIn });
  }
  found.sort((a, b) => a.cve - b.cve);
  return { cves: found.map((entry) => entry.cve), fixedIn: found.map((entry) => entry.fixedIn) };
}
