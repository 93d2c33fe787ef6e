import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { CisaKevSource, DebianSecurityTrackerSource, MozillaAdvisoriesSource } from '../catalog/schema.ts';
import { IntegrityError } from '../core/errors.ts';
import { parseKev } from '../advisories/cisa-kev.ts';
import { parseDebianTracker } from '../advisories/debian-tracker.ts';
import { maxKevBytes } from '../advisories/cisa-kev.ts';
import { maxMozillaAdvisoryBytes, mozillaAdvisoryFileName, parseMozillaAdvisory } from '../advisories/mozilla-advisories.ts';
import { advisoryArtifact, readDownloaded, snapshotVersion } from './advisory-snapshot.ts';
import { downloadChecked, fetchJson, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

/*
 * The advisory sources that sign nothing this project could pin (Mozilla's advisories on
 * GitHub, CISA KEV, Debian's tracker JSON): trust tls-only, published on each side only when
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
      parseDebianTracker(await readDownloaded(file), source.url, context.entry.id, source.releases);
    });
    return { version, artifacts: [advisoryArtifact(context, version, fileName, digests, { method: 'tls-only', statement: source.url })] };
  },
};
