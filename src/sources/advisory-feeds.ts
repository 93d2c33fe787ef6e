import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as z from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { CisaKevSource, DebianSecurityTrackerSource, JvnSource, MozillaAdvisoriesSource } from '../catalog/schema.ts';
import { IntegrityError } from '../core/errors.ts';
import { parseKev } from '../advisories/cisa-kev.ts';
import { parseDebianTracker } from '../advisories/debian-tracker.ts';
import { maxJvnBytes, parseJvnDetail, parseJvnOverview } from '../advisories/jvn.ts';
import { maxKevBytes } from '../advisories/cisa-kev.ts';
import { maxMozillaAdvisoryBytes, mozillaAdvisoryFileName, parseMozillaAdvisory } from '../advisories/mozilla-advisories.ts';
import { advisoryArtifact, readDownloaded, snapshotVersion } from './advisory-snapshot.ts';
import { downloadChecked, fetchJson, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

/*
 * The advisory sources that sign nothing this project could pin (Mozilla's advisories on
 * GitHub, CISA KEV, Debian's tracker JSON, JVN iPedia through MyJVN): trust tls-only, published on each side only when
 * its keys/pins.yaml lists the entry under unsignedProducts. Each document is parsed here
 * too, so a malformed one is refused (and quarantined) before it enters a bundle.
 */

function sourceOf<T extends { type: string }>(context: SourceContext, type: T['type']): T {
  if (context.entry.source.type !== type) throw new Error(`${type} adapter given another source type`);
  return context.entry.source as unknown as T;
}

/** GitHub's contents API listing of a folder (the fields read). */
const contentsListing = z
  .array(z.object({ name: z.string().max(255), type: z.string(), sha: z.string().regex(/^[0-9a-f]{40}$/u), size: z.int().min(0), download_url: z.url().nullable() }))
  .max(1000);

/** Git's blob id of `data` (what the contents API states as `sha`). */
export function gitBlobSha1(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export const mozillaAdvisoriesAdapter: SourceAdapter = {
  latestVersion: async () => snapshotVersion(),

  async probe(context) {
    const source = sourceOf<MozillaAdvisoriesSource>(context, 'mozilla-advisories');
    const counts: number[] = [];
    for (const url of source.listingUrls) counts.push((await fetchJson(context, url, contentsListing, 'a GitHub contents listing')).filter((item) => mozillaAdvisoryFileName.test(item.name)).length);
    return { artifactUrl: source.listingUrls[0]!, verification: `${counts.reduce((a, b) => a + b, 0)} advisory files listed (TLS only: nothing is signed)` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf<MozillaAdvisoriesSource>(context, 'mozilla-advisories');
    const artifacts: Artifact[] = [];
    for (const listingUrl of source.listingUrls) {
      const listing = await fetchJson(context, listingUrl, contentsListing, 'a GitHub contents listing');
      for (const item of listing) {
        if (item.type !== 'file' || !mozillaAdvisoryFileName.test(item.name) || item.download_url === null) continue;
        const data = await context.downloader.fetchBuffer(item.download_url, maxMozillaAdvisoryBytes);
        // The listing's git blob id is GitHub's statement over TLS: it catches a cut or mixed-up file, not a forged one.
        if (gitBlobSha1(data) !== item.sha) throw new IntegrityError(`${item.download_url}: git blob id ${gitBlobSha1(data)} differs from ${item.sha} in ${listingUrl}`, { url: item.download_url });
        parseMozillaAdvisory(data.toString('utf8'), item.name, context.entry.id, source.products);
        const digests = await storeBuffer(context, data, item.name);
        artifacts.push(advisoryArtifact(context, version, item.name, digests, { method: 'tls-only', statement: `${listingUrl} (git blob ${item.sha})` }));
      }
    }
    return { version, artifacts };
  },
};

export const cisaKevAdapter: SourceAdapter = {
  latestVersion: async () => snapshotVersion(),

  async probe(context) {
    const source = sourceOf<CisaKevSource>(context, 'cisa-kev');
    const { size } = await context.downloader.probeSize(source.url);
    return { artifactUrl: source.url, verification: `the feed answers (${size} bytes; TLS only: CISA signs nothing)` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf<CisaKevSource>(context, 'cisa-kev');
    const fileName = source.url.split('/').at(-1)?.replace(/[^A-Za-z0-9._-]/gu, '_') || 'known_exploited_vulnerabilities.json';
    const digests = await downloadChecked(context, { url: source.url, label: fileName, maxBytes: maxKevBytes }, async (_got, file) => {
      parseKev(await readDownloaded(file), source.url);
    });
    return { version, artifacts: [advisoryArtifact(context, version, fileName, digests, { method: 'tls-only', statement: source.url })] };
  },
};

export const debianSecurityTrackerAdapter: SourceAdapter = {
  latestVersion: async () => snapshotVersion(),

  async probe(context) {
    const source = sourceOf<DebianSecurityTrackerSource>(context, 'debian-security-tracker');
    const { size } = await context.downloader.probeSize(source.url);
    return { artifactUrl: source.url, verification: `the tracker JSON answers (${size} bytes; TLS only: the tracker signs nothing)` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf<DebianSecurityTrackerSource>(context, 'debian-security-tracker');
    const fileName = 'debian-security-tracker.json';
    const digests = await downloadChecked(context, { url: source.url, label: fileName, maxBytes: source.maxBytes }, async (_got, file) => {
      await parseDebianTracker(createReadStream(file), source.url, context.entry.id, source.releases, source.maxBytes);
    });
    return { version, artifacts: [advisoryArtifact(context, version, fileName, digests, { method: 'tls-only', statement: source.url })] };
  },
};

/** MyJVN API queries (github.com/MyJVN/np docs: getVulnOverviewList, getVulnDetailInfo; version OKA). */
export const myJvnQuery = {
  overview: (range: string, lang: string, startItem: number) => `?method=getVulnOverviewList&feed=oka&modifiedRangeDate=${range}&startItem=${startItem}&maxCountItem=50&lang=${lang}`,
  detail: (id: string, lang: string) => `?method=getVulnDetailInfo&feed=oka&vulnId=${id}&ft=jvncsaf&lang=${lang}`,
};

async function jvnIds(context: SourceContext, source: JvnSource): Promise<string[]> {
  const ids: string[] = [];
  let startItem = 1;
  for (;;) {
    const url = `${source.apiUrl}${myJvnQuery.overview(source.modifiedRange, source.lang, startItem)}`;
    const page = parseJvnOverview(await context.downloader.fetchBuffer(url, maxJvnBytes), url);
    for (const id of page.ids) if (!ids.includes(id)) ids.push(id);
    // Paged by MyJVN's own counters; an answer that does not advance ends the listing.
    if (ids.length >= source.maxEntries || page.ids.length === 0 || page.next > page.totalRes || page.next <= startItem) break;
    startItem = page.next;
  }
  return ids.slice(0, source.maxEntries);
}

export const jvnAdapter: SourceAdapter = {
  latestVersion: async () => snapshotVersion(),

  async probe(context) {
    const source = sourceOf<JvnSource>(context, 'jvn');
    const ids = await jvnIds(context, { ...source, maxEntries: Math.min(source.maxEntries, 50) });
    return { artifactUrl: `${source.apiUrl}${myJvnQuery.overview(source.modifiedRange, source.lang, 1)}`, verification: `${ids.length} JVN iPedia entries listed on the first page (TLS only: MyJVN signs nothing)` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf<JvnSource>(context, 'jvn');
    const artifacts: Artifact[] = [];
    for (const id of await jvnIds(context, source)) {
      const url = `${source.apiUrl}${myJvnQuery.detail(id, source.lang)}`;
      const data = await context.downloader.fetchBuffer(url, maxJvnBytes);
      const advisory = parseJvnDetail(data, url, context.entry.id);
      if (advisory.id !== id) throw new IntegrityError(`${url}: answers for ${advisory.id}, not ${id}`, { url });
      const fileName = `${id}.json`;
      artifacts.push(advisoryArtifact(context, version, fileName, await storeBuffer(context, data, fileName), { method: 'tls-only', statement: url }));
    }
    return { version, artifacts };
  },
};
