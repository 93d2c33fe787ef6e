import type { TrustLevel } from '../catalog/schema.ts';

/*
 * Advisory data (issue 16) as both sides use it. The internet side fetches each advisory
 * source's own documents (Mozilla's advisories data, CISA KEV, Debian's security tracker,
 * CSAF providers) and carries them, with their verification material, as artifacts of a
 * catalog entry; the LGWAN side re-verifies those artifacts on import and parses them with
 * the parsers in this folder into the normalized shapes below. Nothing here is fetched on
 * the LGWAN side: `url` is shown as text, the advisory's own text is served locally.
 *
 * Every string comes from outside: parsers bound each field (see limits) and count.
 */

export const advisoryLimits = {
  idChars: 128,
  titleChars: 500,
  textChars: 64 * 1024,
  urlChars: 2048,
  severityChars: 64,
  cvesPerAdvisory: 2000,
  advisoriesPerSource: 200_000,
} as const;

export const cvePattern = /^CVE-\d{4}-\d{4,7}$/u;
/** JVN's identifiers: JVNDB-2024-012345 (JVN iPedia), JVN#12345678, JVNVU#12345678. */
export const jvnPattern = /^(?:JVNDB-\d{4}-\d{6}|JVN(?:VU|TA)?#\d{8})$/u;

export type AdvisorySourceKind = 'mozilla' | 'cisa-kev' | 'debian-tracker' | 'ubuntu' | 'csaf' | 'jvn';

export interface AdvisoryVulnerability {
  cve: string;
  /** As the advisory states it ("high", "critical", a CVSS base score); absent when it states none. */
  severity?: string;
  title?: string;
  /** JVN identifiers of this CVE, where a JVN source names them. */
  jvn?: string[];
}

/** Which release of one of our catalog products fixes (some of) an advisory's vulnerabilities. */
export interface AdvisoryFix {
  /** Our catalog product id (firefox, thunderbird, debian-bookworm-security, …). */
  product: string;
  /** The first version, in the product's version scheme, that fixes them. */
  fixedIn: string;
  /**
   * For distribution trackers: the source package the fix is in; `fixedIn` is then that
   * package's version (dpkg scheme), not a version of the catalog product.
   */
  package?: string;
  /** The CVEs this fix covers; absent: all of the advisory's. */
  cves?: string[];
}

export interface Advisory {
  /** Catalog id of the advisory source it came from. */
  source: string;
  /** The publisher's own id: mfsa2024-63, DSA-5830-1, a CSAF document's tracking id, … */
  id: string;
  title: string;
  /** ISO 8601, as the publisher dates it. */
  published?: string;
  /** The publisher's page for it: shown as text, never fetched on the LGWAN side. */
  url?: string;
  /** The advisory's own text (plain text, bounded), served locally. */
  text?: string;
  vulnerabilities: AdvisoryVulnerability[];
  fixes: AdvisoryFix[];
}

/** One entry of CISA's Known Exploited Vulnerabilities catalog. */
export interface KnownExploited {
  cve: string;
  vendorProject: string;
  product: string;
  /** YYYY-MM-DD */
  dateAdded: string;
  /** YYYY-MM-DD: by when CISA requires US federal agencies to remediate. */
  dueDate: string;
  knownRansomwareCampaignUse?: string;
}

/** What one advisory source last delivered. */
export interface AdvisorySourceState {
  source: string;
  kind: AdvisorySourceKind;
  trust: TrustLevel;
  /** When the internet side fetched it (ISO). */
  fetchedAt: string;
  /** When the publisher produced it, where the data says (ISO). */
  producedAt?: string;
  /** Our catalog products it has data for: a product no source covers has "no advisory data". */
  products: string[];
  /**
   * Documents of this source that could not be read (file and reason), left out of the data.
   * Optional, added with the parsers: absent when every document was read.
   */
  problems?: string[];
}

/** Everything the LGWAN side knows about advisories, for one published state. */
export interface AdvisoryData {
  sources: AdvisorySourceState[];
  advisories: Advisory[];
  knownExploited: KnownExploited[];
}

export const emptyAdvisoryData: AdvisoryData = { sources: [], advisories: [], knownExploited: [] };
