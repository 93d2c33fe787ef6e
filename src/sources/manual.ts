import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, UserFacingError } from '../core/errors.ts';
import type { ManualSource } from '../catalog/schema.ts';
import { HashingFileSink } from '../store/blob-store.ts';
import { compareVersions } from '../versions/index.ts';
import { downloadChecked, probeFiles, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): ManualSource {
  if (context.entry.source.type !== 'manual') throw new Error('manual adapter given another source type');
  return context.entry.source;
}

/** Copies a file an admin placed in the manual folder into the store, hashing it on the way. */
async function adoptLocalFile(context: SourceContext, file: string, expected: string): Promise<{ sha256: string; size: number }> {
  const { file: temporary, handle } = await context.store.createTemporary(path.basename(file));
  const sink = new HashingFileSink(handle, { maxBytes: Number.MAX_SAFE_INTEGER, what: file });
  try {
    await pipeline(createReadStream(file).on('error', (error) => sink.destroy(error)), sink);
  } catch (cause) {
    await handle.close();
    throw new UserFacingError('E_UPSTREAM', `${context.entry.id}: cannot read ${file} (place the file there, or give it a url in the catalog)`, { cause });
  }
  await handle.close();
  const digests = await sink.digests();
  sink.release();
  await context.store.adopt(temporary, digests, { sha256: expected, what: file });
  context.recorded.set(digests.sha256, digests);
  return digests;
}

/**
 * Products without a feed (JustSystems, …): the admin lists each release in the catalog
 * and confirms each file's sha256 in keys/manual-confirmations.yaml. The file comes from
 * its URL or from `<internet storage>/manual/<product>/`; it is taken only if it hashes to
 * the confirmed value. The trust level shown is "manually confirmed".
 */
export const manualAdapter: SourceAdapter = {
  async latestVersion(context) {
    const versions = [...new Set(sourceOf(context).files.map((file) => file.version))];
    return versions.sort((a, b) => compareVersions(context.entry.scheme, b, a))[0]!;
  },

  // Nothing to ask a vendor: report what the catalog lists and whether each file is confirmed.
  async probe(context, version) {
    const entry = context.entry;
    const files = sourceOf(context).files.filter((candidate) => candidate.version === version);
    const unconfirmed = files.filter((file) => !context.keyring.confirmedSha256(entry.id, version, file.fileName));
    if (unconfirmed.length > 0) {
      throw new IntegrityError(`${entry.id} ${version}: ${unconfirmed.map((file) => file.fileName).join(', ')} not confirmed in keys/manual-confirmations.yaml`, { productId: entry.id, version });
    }
    // Files with a URL are asked for; files an admin places are read from the internet side's storage on fetch.
    const remote = files.filter((file) => file.url !== undefined);
    const seen = remote.length > 0 ? `; ${await probeFiles(context, remote.map((file) => ({ url: file.url!, label: file.fileName })))}` : '';
    const first = files[0]!;
    return { artifactUrl: first.url ?? `(placed by an admin: manual/${entry.id}/${first.fileName})`, verification: `manual: sha256 of all ${files.length} file(s) confirmed by an admin; no vendor feed${seen}` };
  },

  async fetchRelease(context, version) {
    const entry = context.entry;
    const artifacts = [];
    for (const file of sourceOf(context).files.filter((candidate) => candidate.version === version)) {
      const sha256 = context.keyring.confirmedSha256(entry.id, version, file.fileName);
      if (!sha256) {
        throw new IntegrityError(`${entry.id} ${version}: ${file.fileName} has no confirmed sha256 (add it to keys/manual-confirmations.yaml after checking the file)`, { productId: entry.id, version });
      }
      const digests = file.url
        ? await downloadChecked(context, { url: file.url, label: file.fileName }, (got) => {
            if (got.sha256 !== sha256) throw new IntegrityError(`${file.url}: sha256 ${got.sha256} is not the confirmed ${sha256}`, { url: file.url, productId: entry.id });
          })
        : await adoptLocalFile(context, path.join(context.manualDirectory, entry.id, file.fileName), sha256);
      artifacts.push({
        productId: entry.id, version, platform: file.platform, locale: file.locale, fileName: file.fileName,
        path: `pool/${entry.id}/${version}/${file.platform}/${file.locale}/${file.fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload' as const, verification: { method: 'manual-confirmation' as const },
      });
    }
    return { version, artifacts };
  },
};
