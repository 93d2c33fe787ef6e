import { IntegrityError, UpstreamError, errorMessage } from '../core/errors.ts';
import type { Artifact } from '../bundle/manifest.ts';
import type { AptSource } from '../catalog/schema.ts';
import { assertSafeRelativePath } from '../core/safe-name.ts';
import { compareVersions } from '../versions/index.ts';
import { isPackagesIndex, packagesIndexText, parsePackages, parseRelease, snapshotVersion, type ReleaseFile } from '../verify/apt-index.ts';
import { verifyClearsigned, verifyDetachedSignature } from '../verify/openpgp-signature.ts';
import { downloadChecked, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): AptSource {
  if (context.entry.source.type !== 'apt') throw new Error('apt adapter given another source type');
  return context.entry.source;
}

/** A file the archive may or may not publish: undefined on 404, any other failure is an error. */
async function fetchOptional(context: SourceContext, url: string): Promise<Buffer | undefined> {
  try {
    return await context.downloader.fetchBuffer(url, 64 * 1024 * 1024);
  } catch (error) {
    if (error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}


async function fetchVerifiedRelease(context: SourceContext): Promise<{ bytes: Buffer; release: ReleaseFile; url: string }> {
  const source = sourceOf(context);
  const url = `${source.baseUrl}dists/${source.suite}/InRelease`;
  const bytes = await context.downloader.fetchBuffer(url, 64 * 1024 * 1024);
  const signed = await verifyClearsigned(bytes.toString('utf8'), context.keyring.get(source.signingKey), url);
  const release = parseRelease(signed.text, url);
  if (release.validUntil && release.validUntil.getTime() < Date.now()) {
    throw new UpstreamError(`${url}: expired (Valid-Until ${release.validUntil.toISOString()}); the mirror is serving a stale suite`, { url });
  }
  return { bytes, release, url };
}

/**
 * A Debian/Ubuntu suite mirrored byte for byte: the signed InRelease, the chosen indices
 * exactly as listed in it, and the newest pool file of each chosen package. Indices are
 * never rewritten, so clients check Debian's own signature (PROTOCOLS.md, apt).
 */
export const aptAdapter: SourceAdapter = {
  async latestVersion(context) {
    const { release, url } = await fetchVerifiedRelease(context);
    return snapshotVersion(release, url);
  },

  async probe(context) {
    const source = sourceOf(context);
    const { release, url } = await fetchVerifiedRelease(context);
    const missing = source.indexFiles.filter((file) => !release.sha256.has(file));
    if (missing.length > 0) throw new IntegrityError(`${url}: lists no ${missing.join(', ')}`, { url });
    const validity = release.validUntil ? `, valid until ${release.validUntil.toISOString()}` : ', no Valid-Until';
    return { artifactUrl: url, verification: `InRelease signed by pinned key "${source.signingKey}"${validity}; lists all ${source.indexFiles.length} wanted indices` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const entry = context.entry;
    const { bytes, release, url: releaseUrl } = await fetchVerifiedRelease(context);
    if (snapshotVersion(release, releaseUrl) !== version) {
      // The suite moved between discovery and fetch: the next run picks the new one up.
      throw new UpstreamError(`${releaseUrl}: changed while fetching (now ${snapshotVersion(release, releaseUrl)}, expected ${version})`, { url: releaseUrl });
    }
    const distsPath = `apt/${source.mirror}/dists/${source.suite}`;
    const inRelease = await storeBuffer(context, bytes, 'InRelease');
    const artifacts: Artifact[] = [
      {
        productId: entry.id, version, platform: 'any', locale: 'any', fileName: 'InRelease', path: `${distsPath}/InRelease`,
        size: inRelease.size, sha256: inRelease.sha256, role: 'material', verification: { method: 'apt-inrelease', key: source.signingKey },
      },
    ];

    // Release + Release.gpg, when the archive publishes them and they verify: older clients and
    // some tools read these, apt itself reads InRelease. Debian's security archive has been seen
    // serving a Release.gpg weeks older than its Release (gpgv: BAD signature): such a pair is
    // left out, with a warning, rather than failing the suite whose InRelease verified.
    const releaseBytes = await fetchOptional(context, `${source.baseUrl}dists/${source.suite}/Release`);
    const releaseSignature = releaseBytes ? await fetchOptional(context, `${source.baseUrl}dists/${source.suite}/Release.gpg`) : undefined;
    const releaseVerified =
      releaseBytes && releaseSignature
        ? await verifyDetachedSignature(releaseBytes, releaseSignature, context.keyring.get(source.signingKey), `${source.baseUrl}dists/${source.suite}/Release`).then(
            () => true,
            (error: unknown) => {
              context.logger.warn({ productId: entry.id, error: errorMessage(error) }, 'Release.gpg does not verify over Release; publishing InRelease only');
              return false;
            },
          )
        : false;
    if (releaseBytes && releaseSignature && releaseVerified) {
      const releaseBlob = await storeBuffer(context, releaseBytes, 'Release');
      const signatureBlob = await storeBuffer(context, releaseSignature, 'Release.gpg');
      artifacts.push(
        {
          productId: entry.id, version, platform: 'any', locale: 'any', fileName: 'Release', path: `${distsPath}/Release`,
          size: releaseBlob.size, sha256: releaseBlob.sha256, role: 'material', verification: { method: 'openpgp-detached', key: source.signingKey, signature: signatureBlob.sha256 },
        },
        {
          productId: entry.id, version, platform: 'any', locale: 'any', fileName: 'Release.gpg', path: `${distsPath}/Release.gpg`,
          size: signatureBlob.size, sha256: signatureBlob.sha256, role: 'material', verification: { method: 'signature-of', subject: releaseBlob.sha256 },
        },
      );
    }

    let packagesText: { text: string; sha256: string } | undefined;
    for (const indexFile of source.indexFiles) {
      const listed = release.sha256.get(indexFile);
      if (!listed) throw new IntegrityError(`${releaseUrl}: index ${indexFile} (catalog ${entry.id}, field source.indexFiles) is not listed in InRelease`, { productId: entry.id });
      const url = `${source.baseUrl}dists/${source.suite}/${indexFile}`;
      const fileName = indexFile.split('/').at(-1)!;
      const bytesOfIndex = await context.downloader.fetchBuffer(url, listed.size);
      const digests = await storeBuffer(context, bytesOfIndex, fileName);
      if (digests.sha256 !== listed.sha256 || digests.size !== listed.size) {
        throw new IntegrityError(`${url}: sha256 ${digests.sha256} (${digests.size} bytes) differs from InRelease (${listed.sha256}, ${listed.size} bytes)`, { url });
      }
      artifacts.push({
        productId: entry.id, version, platform: 'any', locale: 'any', fileName, path: `${distsPath}/${indexFile}`,
        size: digests.size, sha256: digests.sha256, role: 'material', verification: { method: 'apt-index', release: inRelease.sha256, entry: indexFile },
      });
      if (isPackagesIndex(fileName) && !packagesText) packagesText = { text: packagesIndexText(bytesOfIndex, url), sha256: digests.sha256 };
    }
    if (!packagesText) throw new IntegrityError(`catalog ${entry.id}: source.indexFiles needs a Packages, Packages.gz or Packages.xz index to select packages from`, { productId: entry.id });

    const packages = parsePackages(packagesText.text, `${distsPath}/Packages`);
    for (const name of source.packages) {
      const candidates = packages.filter((candidate) => candidate.package === name);
      const newest = candidates.sort((a, b) => compareVersions('dpkg', b.version, a.version))[0];
      if (!newest) throw new IntegrityError(`catalog ${entry.id}: package ${name} is not in ${source.suite}`, { productId: entry.id, package: name });
      const filename = assertSafeRelativePath(newest.filename, `Packages: Filename of ${name}`);
      const url = `${source.baseUrl}${filename.split('/').map(encodeURIComponent).join('/')}`;
      const digests = await downloadChecked(context, { url, label: filename.split('/').at(-1)!, expectedSize: newest.size }, (got) => {
        if (got.sha256 !== newest.sha256) throw new IntegrityError(`${url}: sha256 ${got.sha256} differs from the signed Packages index (${newest.sha256})`, { url });
      });
      artifacts.push({
        productId: entry.id, version, platform: newest.architecture, locale: 'any', fileName: filename.split('/').at(-1)!, path: `apt/${source.mirror}/${filename}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'apt-package', index: packagesText.sha256, filename },
      });
    }
    return { version, artifacts };
  },
};
