import type { AdvisoryData } from '../../src/advisories/model.ts';
import type { Artifact, ProductSummary } from '../../src/bundle/manifest.ts';
import type { EndpointRecord } from '../../src/coverage/inventory.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';

/*
 * Advisory data as part A's parsers would hand it over, written by hand (the mapping is under
 * test here, not the parsing) from real publisher documents, cut down to a few CVEs
 * (test/fixtures/SOURCES.md, "Exposure fixtures"): Mozilla's mfsa2024-46 (Firefox 131),
 * mfsa2024-47 (Firefox ESR 128.3) and mfsa2024-51 (Firefox 131.0.2, ESR 128.3.1, ESR 115.16.1),
 * and CISA KEV's entry for CVE-2024-9680 (added 2024-10-15, due 2024-11-05).
 * `products` maps Mozilla's product names to the catalog ids of the test.
 */
export function mozillaAdvisories(products: { firefox: string; esr?: string } = { firefox: 'firefox', esr: 'firefox-esr' }, fetchedAt = '2024-10-16T00:00:00Z'): AdvisoryData {
  const esr = products.esr;
  return {
    sources: [
      { source: 'mozilla-advisories', kind: 'mozilla', trust: 'tls-only', fetchedAt, products: [products.firefox, ...(esr ? [esr] : [])] },
      { source: 'cisa-kev', kind: 'cisa-kev', trust: 'tls-only', fetchedAt, products: [] },
    ],
    advisories: [
      {
        source: 'mozilla-advisories', id: 'mfsa2024-46', title: 'Security Vulnerabilities fixed in Firefox 131', published: '2024-10-01',
        url: 'https://www.mozilla.org/en-US/security/advisories/mfsa2024-46/',
        text: 'Compromised content process can bypass site isolation.\nA compromised content process could have allowed for the arbitrary loading of cross-origin pages.',
        vulnerabilities: [
          { cve: 'CVE-2024-9392', severity: 'high', title: 'Compromised content process can bypass site isolation' },
          { cve: 'CVE-2024-9396', severity: 'moderate', title: 'Potential memory corruption may occur when cloning certain objects' },
          { cve: 'CVE-2024-9401', severity: 'high', title: 'Memory safety bugs fixed in Firefox 131, Firefox ESR 115.16, Firefox ESR 128.3, Thunderbird 131, and Thunderbird 128.3' },
          { cve: 'CVE-2024-9403', severity: 'high', title: 'Memory safety bugs fixed in Firefox 131 and Thunderbird 131' },
        ],
        fixes: [{ product: products.firefox, fixedIn: '131.0' }],
      },
      ...(esr
        ? [{
            source: 'mozilla-advisories', id: 'mfsa2024-47', title: 'Security Vulnerabilities fixed in Firefox ESR 128.3', published: '2024-10-01',
            vulnerabilities: [
              { cve: 'CVE-2024-9392', severity: 'high', title: 'Compromised content process can bypass site isolation' },
              { cve: 'CVE-2024-8900', severity: 'moderate', title: 'Clipboard write permission bypass' },
              { cve: 'CVE-2024-9396', severity: 'moderate', title: 'Potential memory corruption may occur when cloning certain objects' },
              { cve: 'CVE-2024-9401', severity: 'high', title: 'Memory safety bugs fixed in Firefox 131, Firefox ESR 115.16, Firefox ESR 128.3, Thunderbird 131, and Thunderbird 128.3' },
            ],
            fixes: [{ product: esr, fixedIn: '128.3.0esr' }],
          }]
        : []),
      {
        source: 'mozilla-advisories', id: 'mfsa2024-51', title: 'Security Vulnerability fixed in Firefox 131.0.2, Firefox ESR 128.3.1, Firefox ESR 115.16.1', published: '2024-10-09',
        text: 'An attacker was able to achieve code execution in the content process by exploiting a use-after-free in Animation timelines.\nWe have had reports of this vulnerability being exploited in the wild.',
        vulnerabilities: [{ cve: 'CVE-2024-9680', severity: 'critical', title: 'Use-after-free in Animation timeline' }],
        fixes: [{ product: products.firefox, fixedIn: '131.0.2' }, ...(esr ? [{ product: esr, fixedIn: '128.3.1esr' }, { product: esr, fixedIn: '115.16.1esr' }] : [])],
      },
    ],
    knownExploited: [{ cve: 'CVE-2024-9680', vendorProject: 'Mozilla', product: 'Firefox', dateAdded: '2024-10-15', dueDate: '2024-11-05', knownRansomwareCampaignUse: 'Unknown' }],
  };
}

const health = { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 };

export function product(id: string, scheme: ProductSummary['scheme'] = 'mozilla', name = id): ProductSummary {
  return { id, name, vendor: 'Mozilla', scheme, trust: 'signed-hash-list', retention: 2, latestSeen: null, sourceHealth: health };
}

export function artifact(productId: string, version: string): Artifact {
  return {
    productId, version, platform: 'win64', locale: 'ja', fileName: `${productId}-${version}.complete.mar`, path: `pool/${productId}/${version}/win64/ja/${productId}-${version}.complete.mar`,
    size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' },
  };
}

/** A published state with these products and releases. */
export function stateWith(products: ProductSummary[], releases: Record<string, string[]>, publishedAt = '2024-10-16T00:00:00Z'): LgwanState {
  return {
    ...structuredClone(emptyLgwanState),
    published: {
      sequence: 2, manifestSha256: '0'.repeat(64), bundleCreatedAt: publishedAt, publishedAt,
      products,
      artifacts: Object.entries(releases).flatMap(([id, versions]) => versions.map((version) => artifact(id, version))),
    },
  };
}

/** An endpoint record running `runs` (product → version, or product → versions for several builds). */
export function endpoint(id: string, lastSeen: string, runs: Record<string, string | string[]>, tenant?: string): EndpointRecord {
  const products: EndpointRecord['products'] = {};
  for (const [productId, versions] of Object.entries(runs)) {
    (Array.isArray(versions) ? versions : [versions]).forEach((version, build) => {
      const platform = build === 0 ? 'win64' : 'win32';
      products[`${productId}/${platform}`] = { product: productId, version, platform, source: 'agent', seenAt: lastSeen, firstSeen: { [version]: lastSeen } };
    });
  }
  return { kind: 'agent', id, ...(tenant ? { tenant } : {}), firstSeen: lastSeen, lastSeen, products };
}
