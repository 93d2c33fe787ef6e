import { IntegrityError } from '../core/errors.ts';
import type { ClamavSource } from '../catalog/schema.ts';
import { cvdHeaderLength, parseCvdHeader, verifyCvdFile, verifyCvdHeaderSignature } from '../verify/clamav-cvd.ts';
import { downloadChecked, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): ClamavSource {
  if (context.entry.source.type !== 'clamav') throw new Error('clamav adapter given another source type');
  return context.entry.source;
}

/**
 * One ClamAV database. The version comes from the CVD header, read with the same
 * `Range: bytes=0-511` probe freshclam uses; the full file is then checked against the
 * header signature and must carry the version the probe announced.
 */
export const clamavAdapter: SourceAdapter = {
  async latestVersion(context) {
    const source = sourceOf(context);
    const url = `${source.baseUrl}${source.database}.cvd`;
    const head = await context.downloader.fetchBuffer(url, 16 * 1024 * 1024, { range: `bytes=0-${cvdHeaderLength - 1}` });
    return String(parseCvdHeader(head.subarray(0, cvdHeaderLength), url).version);
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const url = `${source.baseUrl}${source.database}.cvd`;
    const head = await context.downloader.fetchBuffer(url, 16 * 1024 * 1024, { range: `bytes=0-${cvdHeaderLength - 1}` });
    const header = parseCvdHeader(head.subarray(0, cvdHeaderLength), url);
    verifyCvdHeaderSignature(header, url);
    if (String(header.version) !== version) throw new IntegrityError(`${url}: version changed from ${version} to ${header.version} during the check`, { url });
    return { artifactUrl: url, verification: `CVD header signed by ClamAV's built-in key (built ${header.buildTime}, ${header.signatures} signatures); the body is checked on download` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const fileName = `${source.database}.cvd`;
    const url = `${source.baseUrl}${fileName}`;
    const digests = await downloadChecked(context, { url, label: fileName, maxBytes: 2 * 1024 ** 3 }, async (_digests, file) => {
      const header = await verifyCvdFile(file, url);
      if (String(header.version) !== version) {
        throw new IntegrityError(`${url}: announced version ${version} but the file is version ${header.version}`, { url, productId: context.entry.id });
      }
    });
    return {
      version,
      artifacts: [
        {
          productId: context.entry.id, version, platform: source.database, locale: 'any', fileName, path: `clamav/${fileName}`,
          size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'clamav-cvd' },
        },
      ],
    };
  },
};
