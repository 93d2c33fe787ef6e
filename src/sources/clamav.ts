import { IntegrityError, UpstreamError, errorMessage } from '../core/errors.ts';
import type { Artifact } from '../bundle/manifest.ts';
import type { ClamavSource } from '../catalog/schema.ts';
import { cvdHeaderLength, parseCvdHeader, verifyCvdFile, verifyCvdHeaderSignature } from '../verify/clamav-cvd.ts';
import { verifyClamavSign } from '../verify/clamav-sign.ts';
import type { BlobDigests } from '../store/blob-store.ts';
import { downloadChecked, probeFiles, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): ClamavSource {
  if (context.entry.source.type !== 'clamav') throw new Error('clamav adapter given another source type');
  return context.entry.source;
}

function isNotFound(error: unknown): boolean {
  return error instanceof UpstreamError && error.details.status === 404;
}

/**
 * One patch and its ClamAV 1.5 `.cdiff.sign`, the patch checked by the signature before it
 * is kept. A patch the mirror does not have (404), or has without a `.sign`, is left out with
 * a warning: freshclam then downloads the whole database. A `.sign` that does not verify
 * refuses the release: that is a forged or damaged file, not a gap.
 */
async function fetchCdiff(context: SourceContext, source: ClamavSource, version: string, patch: number): Promise<Artifact[]> {
  const fileName = `${source.database}-${patch}.cdiff`;
  const url = `${source.baseUrl}${fileName}`;
  let signBytes: Buffer;
  try {
    signBytes = await context.downloader.fetchBuffer(`${url}.sign`, 64 * 1024);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    context.logger.warn({ productId: context.entry.id, url: `${url}.sign` }, 'ClamAV patch has no .sign on the mirror; left out (freshclam downloads the whole database instead)');
    return [];
  }
  let digests: BlobDigests;
  try {
    digests = await downloadChecked(context, { url, label: fileName, maxBytes: 256 * 1024 * 1024 }, async (_digests, file) => {
      await verifyClamavSign(file, signBytes, `${url}.sign`, context.keyring.clamavSign());
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    context.logger.warn({ productId: context.entry.id, url }, 'ClamAV patch not on the mirror; left out');
    return [];
  }
  const signBlob = await storeBuffer(context, signBytes, `${fileName}.sign`);
  const common = { productId: context.entry.id, version, platform: source.database, locale: 'any' } as const;
  return [
    { ...common, fileName, path: `clamav/${fileName}`, size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'clamav-cdiff', sign: signBlob.sha256 } },
    { ...common, fileName: `${fileName}.sign`, path: `clamav/${fileName}.sign`, size: signBlob.size, sha256: signBlob.sha256, role: 'material', verification: { method: 'clamav-sign', subject: digests.sha256 } },
  ];
}

/** Field of the TXT record holding each database's version: `engine:main:daily:time:…:…:…:bytecode`. */
const txtField = { main: 1, daily: 2, bytecode: 7 } as const;

/** The database's version in ClamAV's TXT record, or why it could not be read. */
export function versionFromTxt(records: readonly string[], database: keyof typeof txtField, name: string): string {
  const record = records.find((candidate) => candidate.split(':').length >= 8);
  if (!record) throw new UpstreamError(`DNS TXT ${name}: no record of the form engine:main:daily:…:bytecode (got ${JSON.stringify(records).slice(0, 120)})`, { name });
  const field = record.split(':')[txtField[database]]!;
  if (!/^[1-9]\d{0,9}$/u.test(field)) throw new UpstreamError(`DNS TXT ${name}: field ${txtField[database]} (${database}) is "${field}", not a version number`, { name });
  return field;
}

async function headerVersion(context: SourceContext): Promise<string> {
  const source = sourceOf(context);
  const url = `${source.baseUrl}${source.database}.cvd`;
  const head = await context.downloader.fetchBuffer(url, 16 * 1024 * 1024, { range: `bytes=0-${cvdHeaderLength - 1}` });
  return String(parseCvdHeader(head.subarray(0, cvdHeaderLength), url).version);
}

/**
 * One ClamAV database. The version is asked first of ClamAV's DNS TXT record, as freshclam
 * does (it spares the CDN a request per check); when that fails or is malformed, of the CVD
 * header itself with freshclam's `Range: bytes=0-511` probe. DNS is unauthenticated, so its
 * answer is only a hint: the downloaded file must carry a valid header signature and exactly
 * the announced version, or it is refused (a mirror that lags the DNS record fails this run
 * and is asked again on the next).
 */
export const clamavAdapter: SourceAdapter = {
  async latestVersion(context) {
    const source = sourceOf(context);
    if (source.versionDns) {
      try {
        return versionFromTxt(await context.downloader.resolveTxt(source.versionDns), source.database, source.versionDns);
      } catch (error) {
        context.logger.warn({ productId: context.entry.id, error: errorMessage(error) }, 'ClamAV DNS version record unavailable; asking the mirror for the CVD header');
      }
    }
    return headerVersion(context);
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const url = `${source.baseUrl}${source.database}.cvd`;
    const head = await context.downloader.fetchBuffer(url, 16 * 1024 * 1024, { range: `bytes=0-${cvdHeaderLength - 1}` });
    const header = parseCvdHeader(head.subarray(0, cvdHeaderLength), url);
    verifyCvdHeaderSignature(header, url);
    if (String(header.version) !== version) throw new IntegrityError(`${url}: version changed from ${version} to ${header.version} during the check`, { url });
    // The rest of what the fetch would download: the whole CVD, its .sign, and the patches' .sign files.
    const files = [{ url, label: `${source.database}.cvd` }];
    if (source.signFiles) files.push({ url: `${source.baseUrl}${source.database}-${version}.cvd.sign`, label: `${source.database}-${version}.cvd.sign` });
    const seen = await probeFiles(context, files);
    const sign = `; ${seen}${source.signFiles ? `; ${source.database}-${version}.cvd.sign is checked against clamavSign on download` : ''}`;
    return { artifactUrl: url, verification: `CVD header signed by ClamAV's built-in key (built ${header.buildTime}, ${header.signatures} signatures); the body is checked on download${sign}` };
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
    const artifacts: Artifact[] = [
      {
        productId: context.entry.id, version, platform: source.database, locale: 'any', fileName, path: `clamav/${fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'clamav-cvd' },
      },
    ];
    if (source.signFiles) {
      // ClamAV 1.5 names the detached signature after the version it signs; a bad one refuses the release.
      const signName = `${source.database}-${version}.cvd.sign`;
      const signUrl = `${source.baseUrl}${signName}`;
      const bytes = await context.downloader.fetchBuffer(signUrl, 64 * 1024);
      await verifyClamavSign(context.store.pathOf(digests.sha256), bytes, signUrl, context.keyring.clamavSign());
      const signBlob = await storeBuffer(context, bytes, signName);
      artifacts.push({
        productId: context.entry.id, version, platform: source.database, locale: 'any', fileName: signName, path: `clamav/${signName}`,
        size: signBlob.size, sha256: signBlob.sha256, role: 'material', verification: { method: 'clamav-sign', subject: digests.sha256 },
      });
    }
    for (let patch = Number(version); patch > Number(version) - source.cdiffs && patch > 0; patch -= 1) {
      artifacts.push(...(await fetchCdiff(context, source, version, patch)));
    }
    return { version, artifacts };
  },
};
