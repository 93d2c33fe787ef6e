import { createReadStream } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Artifact } from '../bundle/manifest.ts';
import type { LocalReleaseSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError, UserFacingError } from '../core/errors.ts';
import { HashingFileSink, type BlobDigests } from '../store/blob-store.ts';
import { compareVersions } from '../versions/index.ts';
import {
  parseReleaseList, releaseDebArchitecture, releaseDebName, releaseListName, releaseSignatureName, releaseTarballName, releaseTarballPlatform, releaseVersionOfList, verifyReleaseSignature,
} from '../verify/lgwan-mirror-release.ts';
import { storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

/** SHA256SUMS is a few lines; its signature 64 bytes. */
const maxListBytes = 64 * 1024;

function sourceOf(context: SourceContext): LocalReleaseSource {
  if (context.entry.source.type !== 'local-release') throw new Error('local-release adapter given another source type');
  return context.entry.source;
}

interface Candidate {
  folder: string;
  version: string;
}

async function readSmall(file: string, what: string): Promise<Buffer> {
  const info = await stat(file).catch((cause: NodeJS.ErrnoException) => {
    throw new UpstreamError(`${file}: ${cause.code === 'ENOENT' ? 'missing' : `cannot be read (${cause.code ?? cause.message})`}: a release folder holds ${releaseListName} and ${releaseSignatureName} beside the files (${what})`, { file }, cause);
  });
  if (info.size > maxListBytes) throw new IntegrityError(`${file}: ${info.size} bytes, more than a ${path.basename(file)} holds`, { file });
  return readFile(file);
}

/** The folder itself and each sub-folder that holds a SHA256SUMS, with the version its .deb line names. */
async function candidates(context: SourceContext): Promise<Candidate[]> {
  const source = sourceOf(context);
  const listing = await readdir(source.folder, { withFileTypes: true }).catch((cause: NodeJS.ErrnoException) => {
    throw new UserFacingError('E_UPSTREAM', `${context.entry.id}: source.folder ${source.folder} ${cause.code === 'ENOENT' ? 'does not exist' : `cannot be read (${cause.code ?? cause.message})`}: create it and drop a release there (the .deb, the tarball, ${releaseListName}, ${releaseSignatureName}; docs/operations.md)`, { cause, details: { file: source.folder } });
  });
  const folders = [source.folder, ...listing.filter((item) => item.isDirectory()).map((item) => path.join(source.folder, item.name)).sort()];
  const found: Candidate[] = [];
  for (const folder of folders) {
    const list = path.join(folder, releaseListName);
    if (!(await stat(list).catch(() => undefined))?.isFile()) continue;
    const version = releaseVersionOfList(parseReleaseList((await readSmall(list, 'discovery')).toString('utf8'), list), list);
    const twin = found.find((candidate) => candidate.version === version);
    if (twin) throw new UpstreamError(`${list}: release ${version} is also in ${twin.folder}: keep one copy of each release in ${source.folder}`, { file: list });
    found.push({ folder, version });
  }
  if (found.length === 0) {
    throw new UpstreamError(`${source.folder}: no release in it (a release is the folder "npm run package" writes: the .deb, the tarball, ${releaseListName} and ${releaseSignatureName}, copied into this folder or a sub-folder of it)`, { file: source.folder });
  }
  return found;
}

async function releaseFolder(context: SourceContext, version: string): Promise<string> {
  const match = (await candidates(context)).find((candidate) => candidate.version === version);
  if (!match) throw new UpstreamError(`${sourceOf(context).folder}: release ${version} is no longer there`, { file: sourceOf(context).folder, version });
  return match.folder;
}

/** SHA256SUMS and its signature read, and the signature checked against the pinned release key before any file it lists is touched. */
async function verifiedList(context: SourceContext, folder: string, version: string): Promise<{ sums: Buffer; signature: Buffer; entries: Map<string, string>; signedBy: string }> {
  const source = sourceOf(context);
  const listFile = path.join(folder, releaseListName);
  const [sums, signature] = await Promise.all([readSmall(listFile, 'the list'), readSmall(path.join(folder, releaseSignatureName), 'its signature')]);
  const signedBy = verifyReleaseSignature(sums, signature, context.keyring.ed25519(source.releaseKey), listFile);
  const entries = parseReleaseList(sums.toString('utf8'), listFile);
  const named = releaseVersionOfList(entries, listFile);
  if (named !== version) throw new IntegrityError(`${listFile}: is of release ${named}, not ${version} (changed while it was read)`, { file: listFile });
  return { sums, signature, entries, signedBy };
}

/** Copies a release file into the store, hashing it on the way; taken only if it hashes to its line in the signed list. */
async function adoptListedFile(context: SourceContext, file: string, expected: string, maxBytes: number): Promise<BlobDigests> {
  const { file: temporary, handle } = await context.store.createTemporary(path.basename(file));
  const sink = new HashingFileSink(handle, { maxBytes, what: file });
  try {
    await pipeline(createReadStream(file).on('error', (error) => sink.destroy(error)), sink);
  } catch (cause) {
    await handle.close();
    await rm(temporary, { force: true });
    throw new UpstreamError(`${file}: cannot be read (${String(cause)}): ${releaseListName} lists it, so the release needs it`, { file }, cause);
  }
  await handle.close();
  const digests = await sink.digests();
  sink.release();
  if (digests.sha256 !== expected) {
    await rm(temporary, { force: true });
    throw new IntegrityError(`${file}: sha256 ${digests.sha256} differs from ${expected} in the signed ${releaseListName} beside it: the file changed after it was signed`, { file, field: 'sha256' });
  }
  await context.store.adopt(temporary, digests, { sha256: expected, what: file });
  context.recorded.set(digests.sha256, digests);
  return digests;
}

/**
 * lgwan-mirror's own releases from a folder on the internet-side host (catalogs/lgwan-mirror.yaml).
 * The newest release there is the version (compared by the catalog's scheme); SHA256SUMS
 * must be signed by the pinned release key before any file is copied, each file must hash to
 * its line, and verify-artifacts.ts reads the version in the .deb's control file.
 */
export const localReleaseAdapter: SourceAdapter = {
  async latestVersion(context) {
    const found = await candidates(context);
    return found.map((candidate) => candidate.version).reduce((newest, candidate) => (compareVersions(context.entry.scheme, candidate, newest) > 0 ? candidate : newest));
  },

  async probe(context, version) {
    const folder = await releaseFolder(context, version);
    const { entries, signedBy } = await verifiedList(context, folder, version);
    let total = 0;
    for (const name of [releaseDebName(version), releaseTarballName(version)].filter((name) => entries.has(name))) {
      const info = await stat(path.join(folder, name)).catch(() => undefined);
      if (!info?.isFile()) throw new UpstreamError(`${path.join(folder, name)}: missing, though ${releaseListName} lists it`, { file: path.join(folder, name) });
      total += info.size;
    }
    return { artifactUrl: path.join(folder, releaseDebName(version)), verification: `${releaseListName} signed by the pinned release key ${signedBy.slice(0, 16)}…; its files are there (${total} bytes); each is hashed against it on fetch` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const id = context.entry.id;
    const folder = await releaseFolder(context, version);
    const { sums, signature, entries } = await verifiedList(context, folder, version);
    const sumsDigests = await storeBuffer(context, sums, releaseListName);
    const signatureDigests = await storeBuffer(context, signature, releaseSignatureName);
    const verification = (entry: string) => ({ method: 'lgwan-mirror-release' as const, key: source.releaseKey, sums: sumsDigests.sha256, signature: signatureDigests.sha256, entry });
    const artifact = (fileName: string, platform: string, digests: BlobDigests, role: Artifact['role']): Artifact => ({
      productId: id, version, platform, locale: 'any', fileName, path: `pool/${id}/${version}/${platform}/any/${fileName}`,
      size: digests.size, sha256: digests.sha256, role, verification: verification(fileName),
    });
    const artifacts: Artifact[] = [artifact(releaseListName, 'any', sumsDigests, 'material'), artifact(releaseSignatureName, 'any', signatureDigests, 'material')];
    for (const [name, platform] of [[releaseDebName(version), releaseDebArchitecture], [releaseTarballName(version), releaseTarballPlatform]] as const) {
      const expected = entries.get(name);
      if (expected === undefined) continue;
      artifacts.push(artifact(name, platform, await adoptListedFile(context, path.join(folder, name), expected, source.maxBytes), 'payload'));
    }
    return { version, artifacts };
  },
};
