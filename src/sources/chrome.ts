import * as z from 'zod';
import type { ChromeSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { verifyAuthenticode } from '../verify/authenticode.ts';
import { msiVersion } from '../verify/msi-properties.ts';
import { downloadChecked, fetchJson, probeFiles, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): ChromeSource {
  if (context.entry.source.type !== 'chrome') throw new Error('chrome adapter given another source type');
  return context.entry.source;
}

/** The part of a Version History API answer we read: `{ versions: [{ version }] }`. */
const versionListSchema = z.object({ versions: z.array(z.object({ version: z.string().min(1) })).min(1) });

async function announcedVersions(context: SourceContext): Promise<string[]> {
  const list = await fetchJson(context, sourceOf(context).versionsUrl, versionListSchema, 'a Version History list of versions');
  return list.versions.map((entry) => entry.version);
}

const fileNameOf = (source: ChromeSource) => decodeURIComponent(new URL(source.msiUrl).pathname.split('/').at(-1) ?? 'chrome.msi') || 'chrome.msi';

/**
 * Google Chrome's enterprise MSI. The newest version the API lists is taken by comparing
 * versions (the answer's order is not relied on; a string that does not parse is an error
 * naming the product). The MSI URL is rolling, so the file is proven twice before it is
 * kept: its Authenticode signature by the pinned signer, and the version written inside it,
 * which must be the one the API announced (during a staged rollout they can differ: the
 * fetch is refused and tried again on the next run).
 */
export const chromeAdapter: SourceAdapter = {
  async latestVersion(context) {
    const versions = await announcedVersions(context);
    try {
      return versions.reduce((newest, candidate) => (compareVersions(context.entry.scheme, candidate, newest) > 0 ? candidate : newest));
    } catch (cause) {
      throw new UpstreamError(`${context.entry.id}: ${sourceOf(context).versionsUrl} lists a version that is not ${context.entry.scheme}: ${(cause as Error).message}`, { url: sourceOf(context).versionsUrl }, cause);
    }
  },

  async probe(context, version) {
    const source = sourceOf(context);
    // The MSI is about 100 MB: the live check asks for one byte of it and leaves the signature to the fetch.
    const seen = await probeFiles(context, [{ url: source.msiUrl, label: fileNameOf(source) }]);
    return {
      artifactUrl: source.msiUrl,
      verification: `version ${version} from the Version History API; ${seen}; the MSI's Authenticode signature (pinned signer "${source.signer}") and the version inside it are checked on download`,
    };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const fileName = fileNameOf(source);
    const trust = context.keyring.authenticode(source.signer);
    const digests = await downloadChecked(context, { url: source.msiUrl, label: fileName, maxBytes: source.maxBytes }, async (_digests, file) => {
      await verifyAuthenticode(file, source.msiUrl, trust);
      const inside = await msiVersion(file, source.msiUrl, source.msiVersion);
      if (inside !== version) {
        throw new IntegrityError(`${source.msiUrl}: the feed announced ${version} but the MSI is ${inside} (${source.msiVersion.name}); refused, tried again next run`, {
          url: source.msiUrl,
          productId: context.entry.id,
        });
      }
    });
    return {
      version,
      artifacts: [
        {
          productId: context.entry.id, version, platform: source.platform, locale: 'any', fileName, path: `pool/${context.entry.id}/${version}/${source.platform}/any/${fileName}`,
          size: digests.size, sha256: digests.sha256, role: 'payload',
          verification: { method: 'authenticode', signer: source.signer, msiVersion: source.msiVersion },
        },
      ],
    };
  },
};
