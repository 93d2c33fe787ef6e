import { createHash } from 'node:crypto';
import { IntegrityError, UpstreamError, errorMessage } from '../core/errors.ts';
import type { Artifact } from '../bundle/manifest.ts';
import type { AptSource } from '../catalog/schema.ts';
import { assertSafeRelativePath } from '../core/safe-name.ts';
import { compareVersions } from '../versions/index.ts';
import { isPackagesIndex, packagesIndexText, parsePackages, parseRelease, snapshotVersion, type PackageEntry, type ReleaseFile } from '../verify/apt-index.ts';
import { verifyClearsigned, verifyDetachedSignature } from '../verify/openpgp-signature.ts';
import { selectIndexGroups, type IndexGroup } from './apt-index-selection.ts';
import { downloadChecked, probeFiles, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): AptSource {
  if (context.entry.source.type !== 'apt') throw new Error('apt adapter given another source type');
  return context.entry.source;
}

/** A file the archive may or may not publish: undefined on 404, any other failure is an error. */
async function fetchOptional(context: SourceContext, url: string, limit = 64 * 1024 * 1024): Promise<Buffer | undefined> {
  try {
    return await context.downloader.fetchBuffer(url, limit);
  } catch (error) {
    if (error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}

/**
 * Where a client fetches an index: with `Acquire-By-Hash: yes` apt asks for
 * <dir>/by-hash/SHA256/<sha256> (apt's acquire-item.cc), which an archive keeps for every
 * InRelease it still serves, while the plain path may already hold a newer copy (Debian's
 * security archive was seen serving a binary-all/Packages.xz of another size than its
 * InRelease listed). The by-hash path is asked first, the plain path when it is missing.
 */
function indexUrls(source: AptSource, release: ReleaseFile, indexFile: string): string[] {
  const plain = `${source.baseUrl}dists/${source.suite}/${indexFile}`;
  if (release.fields.get('Acquire-By-Hash')?.toLowerCase() !== 'yes') return [plain];
  const listed = release.sha256.get(indexFile)!;
  const directory = indexFile.includes('/') ? `${indexFile.slice(0, indexFile.lastIndexOf('/'))}/` : '';
  return [`${source.baseUrl}dists/${source.suite}/${directory}by-hash/SHA256/${listed.sha256}`, plain];
}

/** The first of `urls` that answers, or undefined when all are 404. */
async function firstServed<T>(urls: string[], attempt: (url: string) => Promise<T | undefined>): Promise<{ url: string; value: T } | undefined> {
  for (const url of urls) {
    const value = await attempt(url);
    if (value !== undefined) return { url, value };
  }
  return undefined;
}

/** The size the server states for a file without sending it (HEAD); undefined on 404. */
async function probeSize(context: SourceContext, url: string): Promise<number | undefined> {
  try {
    return (await context.downloader.probeSize(url)).size;
  } catch (error) {
    if (error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}

/** The indices to mirror; the suite must list a Packages index for every configured component and architecture. */
function wantedIndexGroups(release: ReleaseFile, source: AptSource, productId: string, releaseUrl: string): IndexGroup[] {
  const groups = selectIndexGroups(release, source);
  for (const component of source.components) {
    for (const architecture of source.architectures) {
      if (!groups.some((group) => group.name === `${component}/binary-${architecture}/Packages`)) {
        throw new IntegrityError(`${releaseUrl}: lists no ${component}/binary-${architecture}/Packages index (catalog ${productId}, fields source.components and source.architectures)`, { productId });
      }
    }
  }
  return groups;
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
    const groups = wantedIndexGroups(release, source, context.entry.id, url);
    // Every listed form of every wanted index, as the fetch would ask for it: size only, without the body.
    const served: string[] = [];
    const missing: string[] = [];
    for (const group of groups) {
      const found: string[] = [];
      for (const indexFile of group.listed) {
        const listed = release.sha256.get(indexFile)!;
        const answer = await firstServed(indexUrls(source, release, indexFile), (candidate) => probeSize(context, candidate));
        if (answer === undefined) continue;
        if (answer.value !== listed.size) throw new IntegrityError(`${answer.url}: the server states ${answer.value} bytes, InRelease lists ${listed.size} for ${indexFile}`, { url });
        found.push(indexFile);
      }
      if (found.length === 0) missing.push(group.name);
      served.push(...found);
    }
    if (missing.length > 0) throw new UpstreamError(`${url}: lists ${missing.join(', ')} but the archive serves none of its forms (catalog ${context.entry.id}, fields source.components and source.architectures)`, { url });
    // The packages the fetch would download, from the Packages indices checked against InRelease.
    const candidates: PackageEntry[] = [];
    for (const group of groups.filter((candidate) => candidate.kind === 'packages')) {
      const indexFile = group.listed.find((listed) => isPackagesIndex(listed.split('/').at(-1)!) && served.includes(listed));
      if (!indexFile) continue;
      const listed = release.sha256.get(indexFile)!;
      const fetched = await firstServed(indexUrls(source, release, indexFile), (candidate) => fetchOptional(context, candidate, listed.size));
      if (!fetched) throw new UpstreamError(`${indexFile}: no longer served`, { url });
      const indexUrl = fetched.url;
      const bytes = fetched.value;
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 !== listed.sha256) throw new IntegrityError(`${indexUrl}: sha256 ${sha256} differs from InRelease (${listed.sha256})`, { url: indexUrl });
      candidates.push(...parsePackages(packagesIndexText(bytes, indexFile), indexUrl));
    }
    const debs = source.packages.map((name) => {
      const newest = candidates.filter((candidate) => candidate.package === name).sort((a, b) => compareVersions('dpkg', b.version, a.version))[0];
      if (!newest) throw new IntegrityError(`catalog ${context.entry.id}: package ${name} (field source.packages) is not in ${source.suite}`, { productId: context.entry.id, package: name });
      const filename = assertSafeRelativePath(newest.filename, `Packages: Filename of ${name}`);
      return { url: `${source.baseUrl}${filename.split('/').map(encodeURIComponent).join('/')}`, label: `${name} ${newest.version}`, expectedSize: newest.size };
    });
    const seen = await probeFiles(context, debs);
    const validity = release.validUntil ? `, valid until ${release.validUntil.toISOString()}` : ', no Valid-Until';
    return { artifactUrl: url, verification: `InRelease signed by pinned key "${source.signingKey}"${validity}; ${groups.length} indices a client asks for, served as ${served.length} files of the sizes InRelease lists (${served.join(', ')}); packages ${debs.map((deb) => deb.label).join(', ')}: ${seen} of the sizes Packages lists` };
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

    // Every index InRelease lists that a stock client of these components and architectures asks
    // for, in every listed form the archive serves: a 404 on any index InRelease lists makes
    // apt-get update fail as a whole ("Some index files failed to download", acquire-item.cc).
    const groups = wantedIndexGroups(release, source, entry.id, releaseUrl);
    const packageIndices: { text: string; sha256: string; path: string }[] = [];
    for (const group of groups) {
      let fetchedAny = false;
      for (const indexFile of group.listed) {
        const listed = release.sha256.get(indexFile)!;
        const fileName = indexFile.split('/').at(-1)!;
        // Archives list forms they do not serve (Debian and Ubuntu list the uncompressed Packages
        // and Translation but serve only compressed ones): a 404 skips that form only.
        const fetched = await firstServed(indexUrls(source, release, indexFile), (candidate) => fetchOptional(context, candidate, listed.size));
        if (!fetched) continue;
        const { url, value: bytesOfIndex } = fetched;
        const digests = await storeBuffer(context, bytesOfIndex, fileName);
        if (digests.sha256 !== listed.sha256 || digests.size !== listed.size) {
          throw new IntegrityError(`${url}: sha256 ${digests.sha256} (${digests.size} bytes) differs from InRelease (${listed.sha256}, ${listed.size} bytes)`, { url });
        }
        fetchedAny = true;
        artifacts.push({
          productId: entry.id, version, platform: 'any', locale: 'any', fileName, path: `${distsPath}/${indexFile}`,
          size: digests.size, sha256: digests.sha256, role: 'material', verification: { method: 'apt-index', release: inRelease.sha256, entry: indexFile },
        });
        if (group.kind === 'packages' && isPackagesIndex(fileName) && !packageIndices.some((index) => index.path.startsWith(`${distsPath}/${group.name}`))) {
          packageIndices.push({ text: packagesIndexText(bytesOfIndex, indexFile), sha256: digests.sha256, path: `${distsPath}/${indexFile}` });
        }
      }
      if (!fetchedAny) {
        throw new UpstreamError(`${releaseUrl}: lists ${group.listed.join(', ')} but the archive serves none of them (catalog ${entry.id}, fields source.components and source.architectures); a client asking for it would fail its update`, { url: releaseUrl });
      }
      if (group.kind === 'packages' && !packageIndices.some((index) => index.path.startsWith(`${distsPath}/${group.name}`))) {
        throw new IntegrityError(`${releaseUrl}: ${group.name} is served only as ${group.listed.join(', ')}; the mirror reads Packages, Packages.gz or Packages.xz to select packages`, { url: releaseUrl });
      }
    }

    const candidates = packageIndices.flatMap((index) => parsePackages(index.text, index.path).map((stanza) => ({ stanza, index: index.sha256 })));
    for (const name of source.packages) {
      const newest = candidates.filter((candidate) => candidate.stanza.package === name).sort((a, b) => compareVersions('dpkg', b.stanza.version, a.stanza.version))[0];
      if (!newest) throw new IntegrityError(`catalog ${entry.id}: package ${name} (field source.packages) is not in ${source.suite} ${source.components.join(' ')} for ${source.architectures.join(', ')}`, { productId: entry.id, package: name });
      const filename = assertSafeRelativePath(newest.stanza.filename, `Packages: Filename of ${name}`);
      const url = `${source.baseUrl}${filename.split('/').map(encodeURIComponent).join('/')}`;
      const digests = await downloadChecked(context, { url, label: filename.split('/').at(-1)!, expectedSize: newest.stanza.size }, (got) => {
        if (got.sha256 !== newest.stanza.sha256) throw new IntegrityError(`${url}: sha256 ${got.sha256} differs from the signed Packages index (${newest.stanza.sha256})`, { url });
      });
      artifacts.push({
        productId: entry.id, version, platform: newest.stanza.architecture, locale: 'any', fileName: filename.split('/').at(-1)!, path: `apt/${source.mirror}/${filename}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'apt-package', index: newest.index, filename },
      });
    }
    return { version, artifacts };
  },
};
