import { IntegrityError, UpstreamError } from '../core/errors.ts';
import type { Artifact } from '../bundle/manifest.ts';
import type { MozillaSource } from '../catalog/schema.ts';
import { compareVersions } from '../versions/index.ts';
import { parseHashList } from '../verify/hash-list.ts';
import { marBuildId, withFileSource } from '../verify/mozilla-mar.ts';
import { verifyDetachedSignature } from '../verify/openpgp-signature.ts';
import { downloadChecked, probeFiles, storeBuffer, type FetchedRelease, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): MozillaSource {
  if (context.entry.source.type !== 'mozilla') throw new Error('mozilla adapter given another source type');
  return context.entry.source;
}

const displayName = { firefox: 'Firefox', thunderbird: 'Thunderbird' } as const;

/** Installer file names as Mozilla's archive spells them, per platform family. */
function installerNames(source: MozillaSource, platform: string, version: string): string[] {
  const name = displayName[source.product];
  if (platform.startsWith('win')) return [`${name} Setup ${version}.exe`, `${name} Setup ${version}.msi`];
  if (platform.startsWith('linux')) return [`${source.product}-${version}.tar.xz`, `${source.product}-${version}.tar.bz2`];
  return [`${name} ${version}.dmg`];
}

/**
 * Mozilla builds Japanese for macOS as its own locale, ja-JP-mac; macOS clients also report
 * that code in their update checks, so the artifact carries it too.
 */
function archiveLocale(platform: string, locale: string): string {
  return platform === 'mac' && locale === 'ja' ? 'ja-JP-mac' : locale;
}

interface WantedFile { platform: string; locale: string; listPath: string; fileName: string }

/** The files the catalog asks for, as the signed hash list names them; each must be listed. */
function wantedFiles(source: MozillaSource, productId: string, version: string, sums: Map<string, string>): WantedFile[] {
  const wanted: WantedFile[] = [];
  for (const platform of source.platforms) {
    for (const configuredLocale of source.locales) {
      const locale = archiveLocale(platform, configuredLocale);
      if (source.files.includes('installer')) {
        const found = installerNames(source, platform, version).filter((name) => sums.has(`${platform}/${locale}/${name}`));
        if (found.length === 0) throw new IntegrityError(`${productId} ${version}: SHA512SUMS lists no installer for ${platform}/${locale}`, { productId, version, platform, locale });
        for (const fileName of found) wanted.push({ platform, locale, fileName, listPath: `${platform}/${locale}/${fileName}` });
      }
      if (source.files.includes('complete-mar')) {
        const fileName = `${source.product}-${version}.complete.mar`;
        const listPath = `update/${platform}/${locale}/${fileName}`;
        if (!sums.has(listPath)) throw new IntegrityError(`${productId} ${version}: SHA512SUMS lists no ${listPath}`, { productId, version, platform, locale });
        wanted.push({ platform, locale, fileName, listPath });
      }
    }
  }
  return wanted;
}

/** Nothing listed in the hash list is believed before its signature verifies with the pinned key. */
async function fetchSignedSums(context: SourceContext, source: MozillaSource, version: string) {
  const releaseUrl = `${source.releasesUrl}${encodeURIComponent(version)}/`;
  const [sumsBytes, signatureBytes] = await Promise.all([
    context.downloader.fetchBuffer(`${releaseUrl}SHA512SUMS`, 64 * 1024 * 1024),
    context.downloader.fetchBuffer(`${releaseUrl}SHA512SUMS.asc`, 64 * 1024),
  ]);
  await verifyDetachedSignature(sumsBytes, signatureBytes, context.keyring.get(source.signingKey), `${releaseUrl}SHA512SUMS`);
  return { releaseUrl, sumsBytes, signatureBytes, sums: parseHashList(sumsBytes.toString('utf8'), `${releaseUrl}SHA512SUMS`) };
}

/**
 * Firefox and Thunderbird from Mozilla's release archive: version from product-details,
 * files from the release's SHA512SUMS, which is trusted only after its detached signature
 * verifies with the pinned Mozilla key.
 */
export const mozillaAdapter: SourceAdapter = {
  async latestVersion(context) {
    const source = sourceOf(context);
    const text = await context.downloader.fetchText(source.versionsUrl, 1024 * 1024);
    let feed: unknown;
    try {
      feed = JSON.parse(text);
    } catch (cause) {
      throw new UpstreamError(`${source.versionsUrl}: not JSON`, { url: source.versionsUrl }, cause);
    }
    const version = (feed as Record<string, unknown>)[source.versionKey];
    if (typeof version !== 'string' || version === '') {
      throw new UpstreamError(`${source.versionsUrl}: field ${source.versionKey} is missing or empty`, { url: source.versionsUrl });
    }
    compareVersions(context.entry.scheme, version, version);
    return version;
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const { releaseUrl, sums } = await fetchSignedSums(context, source, version);
    const wanted = wantedFiles(source, context.entry.id, version, sums);
    const urlOf = (file: WantedFile) => `${releaseUrl}${file.listPath.split('/').map(encodeURIComponent).join('/')}`;
    const seen = await probeFiles(context, wanted.map((file) => ({ url: urlOf(file), label: file.listPath })));
    // Where the build ID sits in a real complete MAR is read here from the vendor's own file
    // (index and application.ini by ranged requests, a few KB), so the first live run shows it.
    // Not yet verified: the MAR's SHA-512 is checked against SHA512SUMS when it is fetched.
    const buildIds: string[] = [];
    for (const file of wanted.filter((candidate) => candidate.fileName.endsWith('.complete.mar'))) {
      const url = urlOf(file);
      const { size } = await context.downloader.probeSize(url);
      const found = await marBuildId(
        {
          size,
          read: async (offset, length) => {
            const bytes = await context.downloader.fetchBuffer(url, length + 1024, { range: `bytes=${offset}-${offset + length - 1}` });
            if (bytes.length !== length) throw new UpstreamError(`${url}: asked for ${length} bytes at ${offset}, got ${bytes.length}`, { url });
            return bytes;
          },
        },
        url,
      );
      buildIds.push(`${file.platform}/${file.locale} ${found.buildId} (${found.from})`);
    }
    return {
      artifactUrl: urlOf(wanted[0]!),
      verification: `SHA512SUMS signed by pinned key "${source.signingKey}"; lists all ${wanted.length} wanted files; ${seen}${buildIds.length > 0 ? `; build IDs in the complete MARs: ${buildIds.join(', ')}` : ''}`,
    };
  },

  async fetchRelease(context, version): Promise<FetchedRelease> {
    const source = sourceOf(context);
    const entry = context.entry;
    const { releaseUrl, sumsBytes, signatureBytes, sums } = await fetchSignedSums(context, source, version);

    const sumsBlob = await storeBuffer(context, sumsBytes, 'SHA512SUMS');
    const signatureBlob = await storeBuffer(context, signatureBytes, 'SHA512SUMS.asc');
    const materialPath = `pool/${entry.id}/${version}/any/any`;
    const artifacts: Artifact[] = [
      {
        productId: entry.id, version, platform: 'any', locale: 'any', fileName: 'SHA512SUMS', path: `${materialPath}/SHA512SUMS`,
        size: sumsBlob.size, sha256: sumsBlob.sha256, role: 'material',
        verification: { method: 'openpgp-detached', key: source.signingKey, signature: signatureBlob.sha256 },
      },
      {
        productId: entry.id, version, platform: 'any', locale: 'any', fileName: 'SHA512SUMS.asc', path: `${materialPath}/SHA512SUMS.asc`,
        size: signatureBlob.size, sha256: signatureBlob.sha256, role: 'material',
        verification: { method: 'signature-of', subject: sumsBlob.sha256 },
      },
    ];

    const wanted = wantedFiles(source, entry.id, version, sums);

    const downloaded = await Promise.all(
      wanted.map(async (file) => {
        const url = `${releaseUrl}${file.listPath.split('/').map(encodeURIComponent).join('/')}`;
        let buildId: string | undefined;
        const digests = await downloadChecked(context, { url, label: file.fileName, sha512: true }, async (got, temporaryFile) => {
          const listed = sums.get(file.listPath);
          if (listed !== got.sha512) {
            throw new IntegrityError(`${url}: SHA-512 ${got.sha512?.slice(0, 16)}… differs from the signed SHA512SUMS (${listed?.slice(0, 16)}…)`, { url, productId: entry.id });
          }
          // update.xml needs each build's ID. Mozilla publishes <platform>_info.txt only under
          // candidates/, never in releases/ or SHA512SUMS: the ID is read from the complete MAR,
          // whose bytes the signed list has just vouched for.
          if (file.fileName.endsWith('.complete.mar')) buildId = (await withFileSource(temporaryFile, (source) => marBuildId(source, url))).buildId;
        });
        return { file, digests, buildId };
      }),
    );
    for (const { file, digests, buildId } of downloaded) {
      artifacts.push({
        productId: entry.id, version, platform: file.platform, locale: file.locale, fileName: file.fileName,
        path: `pool/${entry.id}/${version}/${file.platform}/${file.locale}/${file.fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload',
        verification: { method: 'hash-list-entry', hashList: sumsBlob.sha256, entry: file.listPath, algorithm: 'sha512' },
        ...(buildId ? { attributes: { buildId } } : {}),
      });
    }
    return { version, artifacts };
  },
};
