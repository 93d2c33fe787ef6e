import * as z from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { GithubReleaseSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { parseHashList } from '../verify/hash-list.ts';
import { downloadChecked, fetchJson, probeFiles, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): GithubReleaseSource {
  if (context.entry.source.type !== 'github-release') throw new Error('github-release adapter given another source type');
  return context.entry.source;
}

const assetSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._+-]+$/u),
  size: z.int().min(1),
  browser_download_url: z.url({ protocol: /^https$/u }),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/u).nullish(),
});
/** The part of GitHub's latest-release answer we read. */
const releaseSchema = z.object({ tag_name: z.string().min(1), draft: z.boolean(), prerelease: z.boolean(), assets: z.array(assetSchema) });
type Asset = z.infer<typeof assetSchema>;

async function latestRelease(context: SourceContext) {
  const source = sourceOf(context);
  const release = await fetchJson(context, source.apiUrl, releaseSchema, 'a GitHub release');
  if (release.draft || release.prerelease) throw new UpstreamError(`${source.apiUrl}: the latest release ${release.tag_name} is a draft or pre-release`, { url: source.apiUrl });
  const tag = release.tag_name;
  const version = tag.startsWith(source.tagPrefix) ? tag.slice(source.tagPrefix.length) : tag;
  try {
    compareVersions(context.entry.scheme, version, version);
  } catch (cause) {
    throw new UpstreamError(`${context.entry.id}: ${source.apiUrl} tags its latest release "${tag}", not a ${context.entry.scheme} version`, { url: source.apiUrl }, cause);
  }
  return { version, assets: release.assets };
}

/** Exactly one asset per pattern: two matches would make the choice depend on the API's order. */
function pick(assets: readonly Asset[], pattern: string, what: string, url: string): Asset {
  const expression = new RegExp(pattern, 'u');
  const matches = assets.filter((asset) => expression.test(asset.name));
  if (matches.length !== 1) throw new UpstreamError(`${url}: ${matches.length} assets match ${what} /${pattern}/ (${assets.map((asset) => asset.name).join(', ') || 'no assets'})`, { url });
  return matches[0]!;
}

/**
 * Releases on GitHub (7-Zip, Notepad++). Each chosen asset must have the size the API states
 * and the SHA-256 of the vendor's checksum asset when the catalog names one; otherwise the
 * SHA-256 GitHub computed when the file was uploaded, which proves only that these are the
 * bytes uploaded (trust tls-only). Either way no vendor signature is checked, so each side
 * publishes the files only for products its keys/pins.yaml lists under unsignedProducts.
 */
export const githubReleaseAdapter: SourceAdapter = {
  async latestVersion(context) {
    return (await latestRelease(context)).version;
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const release = await latestRelease(context);
    if (release.version !== version) throw new UpstreamError(`${source.apiUrl}: changed from ${version} during the check`, { url: source.apiUrl });
    const assets = source.assets.map((wanted) => pick(release.assets, wanted.pattern, `platform ${wanted.platform}`, source.apiUrl));
    const check = source.checksums ? `the vendor's checksum asset ${pick(release.assets, source.checksums.pattern, 'the checksums', source.apiUrl).name}` : "GitHub's upload digest";
    const seen = await probeFiles(context, assets.map((asset) => ({ url: asset.browser_download_url, label: asset.name, expectedSize: asset.size })));
    return { artifactUrl: assets[0]!.browser_download_url, verification: `release ${version} on GitHub; SHA-256 from ${check} (over TLS, no signature); ${seen} of the sizes GitHub states` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const release = await latestRelease(context);
    if (release.version !== version) throw new UpstreamError(`${source.apiUrl}: the latest release is now ${release.version}, not ${version}; tried again next run`, { url: source.apiUrl });
    let listed: Map<string, string> | undefined;
    let statement = `${source.apiUrl} (GitHub's upload digest)`;
    if (source.checksums) {
      const asset = pick(release.assets, source.checksums.pattern, 'the checksums', source.apiUrl);
      const text = (await context.downloader.fetchText(asset.browser_download_url, 1024 * 1024)).replace(/\r\n/gu, '\n');
      listed = parseHashList(text, asset.browser_download_url, 64);
      statement = asset.browser_download_url;
    }
    const artifacts: Artifact[] = [];
    for (const wanted of source.assets) {
      const asset = pick(release.assets, wanted.pattern, `platform ${wanted.platform}`, source.apiUrl);
      const expected = listed ? listed.get(asset.name) : asset.digest?.slice('sha256:'.length);
      if (!expected) {
        throw new IntegrityError(listed ? `${statement}: does not list ${asset.name}` : `${source.apiUrl}: GitHub states no digest for ${asset.name}`, { url: source.apiUrl, productId: context.entry.id });
      }
      const digests = await downloadChecked(context, { url: asset.browser_download_url, label: asset.name, expectedSize: asset.size }, (got) => {
        if (got.sha256 !== expected) throw new IntegrityError(`${asset.browser_download_url}: sha256 ${got.sha256} differs from ${expected} (${listed ? 'the vendor\'s checksums' : "GitHub's digest"})`, { url: asset.browser_download_url });
      });
      artifacts.push({
        productId: context.entry.id, version, platform: wanted.platform, locale: 'any', fileName: asset.name, path: `pool/${context.entry.id}/${version}/${wanted.platform}/any/${asset.name}`,
        size: digests.size, sha256: digests.sha256, role: 'payload',
        verification: listed ? { method: 'vendor-hash-over-tls', statement } : { method: 'tls-only', statement },
      });
    }
    return { version, artifacts };
  },
};
