import { createHash } from 'node:crypto';
import { IntegrityError, SignatureError } from '../core/errors.ts';
import type { Artifact } from '../bundle/manifest.ts';
import type { BlobDigests, DigestNeeds } from '../store/blob-store.ts';
import { packagesIndexText, parsePackages, parseRelease, snapshotVersion, type PackageEntry, type ReleaseFile } from './apt-index.ts';
import { verifyClamavSign } from './clamav-sign.ts';
import { verifyAuthenticode } from './authenticode.ts';
import { verifyCvdFile } from './clamav-cvd.ts';
import { parseHashList } from './hash-list.ts';
import { msiVersion } from './msi-properties.ts';
import { marBuildId, marVersionMatches, withFileSource } from './mozilla-mar.ts';
import { verifyClearsigned, verifyDetachedSignature } from './openpgp-signature.ts';
import type { PinnedKeyring } from './pinned-keys.ts';
import { fileNameCarriesVersion, hashListEntryMismatch } from './version-binding.ts';
import { readDebControl } from './deb-control.ts';
import {
  parseReleaseList, releaseDebArchitecture, releaseDebName, releaseListName, releasePackage, releaseSignatureName, releaseTarballName, releaseTarballPlatform, releaseVersionOfList, verifyReleaseSignature,
} from './lgwan-mirror-release.ts';

/** What the verifying side knows about blobs: digests it computed itself while writing them. */
export interface BlobAccess {
  /** Undefined when the blob is not there; `needs` names digests beyond SHA-256 the check will use. */
  digests(sha256: string, needs?: DigestNeeds): Promise<BlobDigests | undefined>;
  /** Reads a small verification-material blob (hash list, signature, InRelease, Packages). */
  read(sha256: string): Promise<Buffer>;
  /** A path for reading a large blob in place (CVDs, MSIs, the index of a complete MAR). */
  file(sha256: string): Promise<string>;
}

/**
 * Checks every artifact against the vendor's own verification material, with this side's
 * pinned keys. The fetcher runs it before anything enters a bundle and the LGWAN importer
 * runs it again before anything is published: a stolen transfer key alone cannot publish
 * what the vendor did not sign. Large blobs are never re-read: their SHA-512/256 were
 * computed while they streamed in.
 */
/** Facts learnt from verified vendor material that later stages need. */
export interface VerificationReport {
  /** sha256 of each verified InRelease → its Valid-Until, when it has one. */
  releaseValidUntil: Map<string, Date>;
}

/** An apt product's version is its suite snapshot, named by the signed `Date` (see sources/apt.ts). */
function assertSnapshotVersion(release: ReleaseFile, artifact: Artifact): void {
  const signed = snapshotVersion(release, artifact.path);
  if (signed !== artifact.version) {
    throw new IntegrityError(`${artifact.path}: field "version" is "${artifact.version}", the signed Date names snapshot ${signed}`, { path: artifact.path, field: 'version' });
  }
}

/** The digest a hash file states: its content starts with the hex digest (CSAF requirement 18). */
function statedDigest(text: string, algorithm: 'sha256' | 'sha512', what: string): string {
  const length = algorithm === 'sha512' ? 128 : 64;
  const match = new RegExp(`^([0-9a-fA-F]{${length}})(?:\\s|$)`, 'u').exec(text);
  if (!match) throw new IntegrityError(`${what}: does not start with a ${algorithm} hex digest`, { path: what });
  return match[1]!.toLowerCase();
}

export async function verifyArtifacts(artifacts: readonly Artifact[], access: BlobAccess, keyring: PinnedKeyring): Promise<VerificationReport> {
  const bySha256 = new Map<string, Artifact>();
  for (const artifact of artifacts) bySha256.set(artifact.sha256, artifact);
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    let pending = memo.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = work();
      memo.set(key, pending);
    }
    return pending;
  };

  const requireArtifact = (sha256: string, method: Artifact['verification']['method'], from: Artifact): Artifact => {
    const material = bySha256.get(sha256);
    if (!material || material.verification.method !== method) {
      throw new IntegrityError(`${from.path}: its verification refers to blob ${sha256}, which is not a ${method} artifact of this set`, { path: from.path });
    }
    return material;
  };

  /** Material vouches only for its own product and version: relabelling one side of the pair is refused. */
  const requireSameRelease = (material: Artifact, from: Artifact): void => {
    if (material.productId !== from.productId || material.version !== from.version) {
      throw new IntegrityError(
        `${from.path}: field "version" (or "productId") says ${from.productId} ${from.version}, but the signed material it is checked against (${material.path}) is ${material.productId} ${material.version}`,
        { path: from.path, field: 'version' },
      );
    }
  };

  const digestsOf = async (artifact: Artifact, needs?: DigestNeeds): Promise<BlobDigests> => {
    const digests = await access.digests(artifact.sha256, needs);
    if (!digests) throw new IntegrityError(`${artifact.path}: blob ${artifact.sha256} is missing`, { path: artifact.path, sha256: artifact.sha256 });
    if (digests.sha256 !== artifact.sha256) {
      // Only a blob read again from the store can differ from its own name.
      throw new IntegrityError(`${artifact.path}: the stored blob ${artifact.sha256} now has sha256 ${digests.sha256}: its copy on disk changed after it was verified (a disk fault or an edit)`, { path: artifact.path, sha256: artifact.sha256 });
    }
    if (digests.size !== artifact.size) {
      throw new IntegrityError(`${artifact.path}: blob has ${digests.size} bytes, the record says ${artifact.size}`, { path: artifact.path });
    }
    return digests;
  };

  const verifiedHashList = (artifact: Artifact): Promise<Map<string, string>> =>
    once(`hash-list:${artifact.sha256}`, async () => {
      await verifyOne(artifact);
      const list = parseHashList((await access.read(artifact.sha256)).toString('utf8'), artifact.path);
      // A SHA512SUMS names no version in its text, but every file it lists carries it.
      if (![...list.keys()].some((entry) => fileNameCarriesVersion(entry.split('/').at(-1) ?? entry, artifact.version))) {
        throw new IntegrityError(`${artifact.path}: field "version" is "${artifact.version}", but no file in this signed hash list is of that version`, { path: artifact.path, field: 'version' });
      }
      return list;
    });

  const verifiedRelease = (artifact: Artifact): Promise<ReleaseFile> =>
    once(`release:${artifact.sha256}`, async () => {
      if (artifact.verification.method !== 'apt-inrelease') throw new Error('unreachable');
      await digestsOf(artifact);
      const signed = await verifyClearsigned((await access.read(artifact.sha256)).toString('utf8'), keyring.get(artifact.verification.key), artifact.path);
      const release = parseRelease(signed.text, artifact.path);
      assertSnapshotVersion(release, artifact);
      return release;
    });

  const verifiedPackages = (artifact: Artifact): Promise<Map<string, PackageEntry>> =>
    once(`packages:${artifact.sha256}`, async () => {
      await verifyOne(artifact);
      const text = packagesIndexText(await access.read(artifact.sha256), artifact.path);
      // InRelease also lists the uncompressed index (Debian's archives do, though they do not serve it):
      // what was decompressed must be exactly that.
      if (artifact.verification.method === 'apt-index' && /\.(gz|xz)$/u.test(artifact.verification.entry)) {
        const release = await verifiedRelease(requireArtifact(artifact.verification.release, 'apt-inrelease', artifact));
        const plain = release.sha256.get(artifact.verification.entry.replace(/\.(gz|xz)$/u, ''));
        const bytes = Buffer.from(text, 'utf8');
        if (plain && (plain.size !== bytes.length || plain.sha256 !== createHash('sha256').update(bytes).digest('hex'))) {
          throw new IntegrityError(`${artifact.path}: decompressed, it differs from the uncompressed index InRelease lists (${plain.size} bytes, sha256 ${plain.sha256})`, { path: artifact.path });
        }
      }
      const entries = parsePackages(text, artifact.path);
      return new Map(entries.map((entry) => [entry.filename, entry]));
    });

  /** One OpenSSL check per (file, .sign) pair, whichever of the two artifacts asks first. */
  const verifiedClamavSign = (subject: Artifact, sign: Artifact): Promise<void> =>
    once(`clamav-sign:${subject.sha256}:${sign.sha256}`, async () => {
      await digestsOf(sign);
      await verifyClamavSign(await access.file(subject.sha256), await access.read(sign.sha256), sign.path, keyring.clamavSign());
    });

  /** An lgwan-mirror release's SHA256SUMS, its signature by the pinned release key checked once, and bound to the release's version. */
  const verifiedReleaseList = (list: Artifact, signature: Artifact, key: string): Promise<Map<string, string>> =>
    once(`release-list:${list.sha256}:${signature.sha256}:${key}`, async () => {
      await Promise.all([digestsOf(list), digestsOf(signature)]);
      const [bytes, signed] = await Promise.all([access.read(list.sha256), access.read(signature.sha256)]);
      verifyReleaseSignature(bytes, signed, keyring.ed25519(key), list.path);
      const entries = parseReleaseList(bytes.toString('utf8'), list.path);
      const version = releaseVersionOfList(entries, list.path);
      if (version !== list.version) {
        throw new IntegrityError(`${list.path}: field "version" is "${list.version}", the signed ${releaseListName} is of release ${version}`, { path: list.path, field: 'version' });
      }
      return entries;
    });

  async function verifyReleaseFile(artifact: Artifact, verification: Extract<Artifact['verification'], { method: 'lgwan-mirror-release' }>, digests: BlobDigests): Promise<void> {
    const list = requireArtifact(verification.sums, 'lgwan-mirror-release', artifact);
    const signature = requireArtifact(verification.signature, 'lgwan-mirror-release', artifact);
    for (const material of [list, signature]) {
      requireSameRelease(material, artifact);
      const named = material.verification as typeof verification;
      if (named.sums !== verification.sums || named.signature !== verification.signature || named.key !== verification.key) {
        throw new IntegrityError(`${artifact.path}: field "verification" names ${releaseListName} ${verification.sums} and its signature ${verification.signature} under key ${verification.key}; ${material.path} names others`, { path: artifact.path, field: 'verification' });
      }
    }
    if (list.fileName !== releaseListName || signature.fileName !== releaseSignatureName) {
      throw new IntegrityError(`${artifact.path}: field "verification" must name the release's ${releaseListName} and ${releaseSignatureName}, not ${list.fileName} and ${signature.fileName}`, { path: artifact.path, field: 'verification' });
    }
    const entries = await verifiedReleaseList(list, signature, verification.key);
    if (artifact.sha256 === verification.sums || artifact.sha256 === verification.signature) {
      const expected = artifact.sha256 === verification.sums ? releaseListName : releaseSignatureName;
      if (artifact.fileName !== expected || verification.entry !== expected) {
        throw new IntegrityError(`${artifact.path}: field "fileName" is "${artifact.fileName}" (entry "${verification.entry}"), but this blob is the release's ${expected}`, { path: artifact.path, field: 'fileName' });
      }
      return;
    }
    if (verification.entry !== artifact.fileName) {
      throw new IntegrityError(`${artifact.path}: field "verification.entry" is "${verification.entry}", the file is ${artifact.fileName}`, { path: artifact.path, field: 'verification.entry' });
    }
    const listed = entries.get(verification.entry);
    if (listed === undefined) throw new IntegrityError(`${artifact.path}: "${verification.entry}" is not in the signed ${releaseListName} (${list.path})`, { path: artifact.path, field: 'fileName' });
    if (listed !== digests.sha256) {
      throw new IntegrityError(`${artifact.path}: sha256 ${digests.sha256} differs from the signed ${releaseListName}'s ${listed} (${list.path})`, { path: artifact.path, field: 'sha256' });
    }
    if (artifact.fileName === releaseDebName(artifact.version)) {
      if (artifact.platform !== releaseDebArchitecture) {
        throw new IntegrityError(`${artifact.path}: field "platform" is "${artifact.platform}", an lgwan-mirror .deb is for ${releaseDebArchitecture}`, { path: artifact.path, field: 'platform' });
      }
      // The package dpkg would install must be this version: the list binds the name, the control file what dpkg reads.
      const control = await readDebControl(await access.file(artifact.sha256), artifact.path);
      for (const [field, value, expected] of [['Package', control.package, releasePackage], ['Version', control.version, artifact.version], ['Architecture', control.architecture, releaseDebArchitecture]] as const) {
        if (value !== expected) {
          throw new IntegrityError(`${artifact.path}: the .deb's control field "${field}" is "${value}", the release is ${releasePackage} ${artifact.version} (${releaseDebArchitecture})`, { path: artifact.path, field });
        }
      }
      return;
    }
    if (artifact.fileName === releaseTarballName(artifact.version)) {
      if (artifact.platform !== releaseTarballPlatform) {
        throw new IntegrityError(`${artifact.path}: field "platform" is "${artifact.platform}", the lgwan-mirror tarball is for ${releaseTarballPlatform}`, { path: artifact.path, field: 'platform' });
      }
      return;
    }
    throw new IntegrityError(`${artifact.path}: field "fileName" is "${artifact.fileName}": not ${releaseDebName(artifact.version)} or ${releaseTarballName(artifact.version)} of the release ${artifact.version}`, { path: artifact.path, field: 'fileName' });
  }

  async function verifyOne(artifact: Artifact): Promise<void> {
    return once(`artifact:${artifact.path}`, async () => {
      const verification = artifact.verification;
      const digests = await digestsOf(artifact, { sha512: verification.method === 'hash-list-entry' });
      switch (verification.method) {
        case 'openpgp-detached': {
          const [data, signature] = await Promise.all([access.read(artifact.sha256), access.read(verification.signature)]);
          await verifyDetachedSignature(data, signature, keyring.get(verification.key), artifact.path);
          return;
        }
        case 'signature-of': {
          const subject = requireArtifact(verification.subject, 'openpgp-detached', artifact);
          if (subject.verification.method !== 'openpgp-detached' || subject.verification.signature !== artifact.sha256) {
            throw new SignatureError(`${artifact.path}: is not the signature of ${subject.path}`, { path: artifact.path });
          }
          await verifyOne(subject);
          return;
        }
        case 'hash-list-entry': {
          const hashList = requireArtifact(verification.hashList, 'openpgp-detached', artifact);
          requireSameRelease(hashList, artifact);
          const list = await verifiedHashList(hashList);
          const listed = list.get(verification.entry);
          if (!verification.entry.endsWith(`/${artifact.fileName}`) && verification.entry !== artifact.fileName) {
            throw new IntegrityError(`${artifact.path}: hash list entry "${verification.entry}" names another file`, { path: artifact.path });
          }
          const mismatch = hashListEntryMismatch(verification.entry, artifact);
          if (mismatch) throw new IntegrityError(`${artifact.path}: ${mismatch}`, { path: artifact.path });
          if (listed === undefined) throw new IntegrityError(`${artifact.path}: "${verification.entry}" is not in the signed hash list`, { path: artifact.path });
          // A blob written without SHA-512 cannot be checked against a SHA-512 list: refused, never skipped.
          if (digests.sha512 === undefined) throw new IntegrityError(`${artifact.path}: no SHA-512 was computed for it, so it cannot be checked against the signed hash list`, { path: artifact.path });
          if (listed !== digests.sha512) {
            throw new IntegrityError(`${artifact.path}: SHA-512 ${digests.sha512.slice(0, 16)}… differs from the signed hash list's ${listed.slice(0, 16)}…`, { path: artifact.path });
          }
          // The build ID update.xml offers must be the one Mozilla wrote into this MAR, not one a record claims.
          // (Only complete MARs are offered; records of other files written by older versions may carry one, unused.)
          const buildId = artifact.attributes?.buildId;
          if (buildId !== undefined && artifact.fileName.endsWith('.complete.mar')) {
            const inside = await withFileSource(await access.file(artifact.sha256), (source) => marBuildId(source, artifact.path));
            if (inside.buildId !== buildId) {
              throw new IntegrityError(`${artifact.path}: field "attributes.buildId" is "${buildId}", the MAR's ${inside.from} says ${inside.buildId}`, { path: artifact.path });
            }
            if (inside.version !== undefined && !marVersionMatches(inside.version, artifact.version)) {
              throw new IntegrityError(`${artifact.path}: field "version" is "${artifact.version}", the MAR's ${inside.from} says Version=${inside.version}`, { path: artifact.path, field: 'version' });
            }
          }
          return;
        }
        case 'apt-inrelease':
          await verifiedRelease(artifact);
          return;
        case 'apt-index': {
          const releaseArtifact = requireArtifact(verification.release, 'apt-inrelease', artifact);
          requireSameRelease(releaseArtifact, artifact);
          const release = await verifiedRelease(releaseArtifact);
          const listed = release.sha256.get(verification.entry);
          if (!listed) throw new IntegrityError(`${artifact.path}: "${verification.entry}" is not listed in the signed InRelease`, { path: artifact.path });
          if (listed.sha256 !== digests.sha256 || listed.size !== digests.size) {
            throw new IntegrityError(`${artifact.path}: differs from the signed InRelease (sha256 ${listed.sha256}, ${listed.size} bytes)`, { path: artifact.path });
          }
          return;
        }
        case 'apt-package': {
          const index = requireArtifact(verification.index, 'apt-index', artifact);
          requireSameRelease(index, artifact);
          const packages = await verifiedPackages(index);
          const listed = packages.get(verification.filename);
          if (!listed) throw new IntegrityError(`${artifact.path}: "${verification.filename}" is not in the signed Packages index`, { path: artifact.path });
          if (listed.sha256 !== digests.sha256 || listed.size !== digests.size) {
            throw new IntegrityError(`${artifact.path}: differs from the signed Packages entry (${listed.package} ${listed.version}, sha256 ${listed.sha256})`, { path: artifact.path });
          }
          if (listed.architecture !== artifact.platform) {
            throw new IntegrityError(`${artifact.path}: field "platform" is "${artifact.platform}", the signed Packages entry says Architecture ${listed.architecture}`, { path: artifact.path, field: 'platform' });
          }
          if (artifact.fileName !== verification.filename.split('/').at(-1)) {
            throw new IntegrityError(`${artifact.path}: field "fileName" is "${artifact.fileName}", the signed Packages entry names ${verification.filename}`, { path: artifact.path, field: 'fileName' });
          }
          return;
        }
        case 'manual-confirmation': {
          const confirmation = keyring.manualConfirmation(digests.sha256);
          if (!confirmation || confirmation.product !== artifact.productId || confirmation.version !== artifact.version) {
            throw new SignatureError(`${artifact.path}: sha256 ${digests.sha256} is not confirmed for ${artifact.productId} ${artifact.version} in this side's keys/manual-confirmations.yaml`, { path: artifact.path });
          }
          return;
        }
        case 'clamav-cvd': {
          const header = await verifyCvdFile(await access.file(artifact.sha256), artifact.path);
          if (String(header.version) !== artifact.version) {
            throw new IntegrityError(`${artifact.path}: the CVD header says version ${header.version}, the record says ${artifact.version}`, { path: artifact.path });
          }
          return;
        }
        case 'clamav-sign': {
          // The .sign of a CVD (`daily-27501.cvd.sign`) or of a patch (`daily-27501.cdiff.sign`).
          const subject = bySha256.get(verification.subject);
          if (!subject || (subject.verification.method !== 'clamav-cvd' && subject.verification.method !== 'clamav-cdiff')) {
            throw new IntegrityError(`${artifact.path}: its verification refers to blob ${verification.subject}, which is not a ClamAV database or patch of this set`, { path: artifact.path });
          }
          const expectedName = subject.verification.method === 'clamav-cvd' ? `${subject.fileName.replace(/\.cvd$/u, '')}-${subject.version}.cvd.sign` : `${subject.fileName}.sign`;
          if (subject.productId !== artifact.productId || subject.version !== artifact.version || artifact.fileName !== expectedName) {
            throw new IntegrityError(`${artifact.path}: is not the .sign file of ${subject.path} ${subject.version} (expected ${expectedName})`, { path: artifact.path });
          }
          await verifyOne(subject);
          await verifiedClamavSign(subject, artifact);
          return;
        }
        case 'clamav-cdiff': {
          const sign = requireArtifact(verification.sign, 'clamav-sign', artifact);
          if (!/^(main|daily|bytecode)-[1-9]\d{0,9}\.cdiff$/u.test(artifact.fileName) || sign.fileName !== `${artifact.fileName}.sign` || sign.verification.method !== 'clamav-sign' || sign.verification.subject !== artifact.sha256) {
            throw new IntegrityError(`${artifact.path}: a ClamAV patch must be named <database>-<number>.cdiff and be checked by its own .sign (found ${sign.fileName})`, { path: artifact.path });
          }
          await verifiedClamavSign(artifact, sign);
          return;
        }
        case 'authenticode': {
          const file = await access.file(artifact.sha256);
          await verifyAuthenticode(file, artifact.path, keyring.authenticode(verification.signer));
          if (verification.msiVersion) {
            const inside = await msiVersion(file, artifact.path, verification.msiVersion);
            if (inside !== artifact.version) {
              throw new IntegrityError(`${artifact.path}: the MSI itself says version ${inside} (${verification.msiVersion.name}), the record says ${artifact.version}`, { path: artifact.path });
            }
          }
          return;
        }
        case 'vendor-hash-over-tls':
        case 'tls-only': {
          // The size and SHA-256 were checked against the statement when fetched and are covered
          // by the transfer signature; nothing signed by the vendor is left to check here.
          if (!keyring.acceptsUnsigned(artifact.productId)) {
            const what = verification.method === 'tls-only' ? 'TLS alone' : 'a vendor hash over TLS';
            throw new SignatureError(
              `${artifact.path}: ${artifact.productId} is verified only by ${what} (${verification.statement}); this side publishes that only for products listed under unsignedProducts in its keys/pins.yaml`,
              { path: artifact.path, productId: artifact.productId },
            );
          }
          return;
        }
        case 'lgwan-mirror-release':
          await verifyReleaseFile(artifact, verification, digests);
          return;
        case 'hash-file': {
          // CSAF requirement 18: `<document>.<algorithm>`, starting with the hex digest. The
          // document itself is trusted through its own method (its signature); this only
          // checks that the hash file served beside it agrees.
          const subject = bySha256.get(verification.subject);
          if (!subject || subject.verification.method === 'hash-file') {
            throw new IntegrityError(`${artifact.path}: its verification refers to blob ${verification.subject}, which is not a document of this set`, { path: artifact.path, field: 'verification.subject' });
          }
          requireSameRelease(subject, artifact);
          if (artifact.fileName !== `${subject.fileName}.${verification.algorithm}`) {
            throw new IntegrityError(`${artifact.path}: field "fileName" is "${artifact.fileName}", the ${verification.algorithm} hash file of ${subject.fileName} is ${subject.fileName}.${verification.algorithm}`, { path: artifact.path, field: 'fileName' });
          }
          await verifyOne(subject);
          const stated = statedDigest((await access.read(artifact.sha256)).toString('utf8'), verification.algorithm, artifact.path);
          const subjectDigests = await digestsOf(subject, { sha512: verification.algorithm === 'sha512' });
          const actual = verification.algorithm === 'sha512' ? subjectDigests.sha512 : subjectDigests.sha256;
          if (actual === undefined) throw new IntegrityError(`${artifact.path}: no SHA-512 was computed for ${subject.path}, so it cannot be checked against its hash file`, { path: artifact.path });
          if (stated !== actual) {
            throw new IntegrityError(`${artifact.path}: states ${verification.algorithm} ${stated.slice(0, 16)}…, but ${subject.path} has ${actual.slice(0, 16)}…`, { path: artifact.path, field: 'sha256' });
          }
          return;
        }
        default: {
          // A method this version does not know is refused, never passed over.
          const unknown: never = verification;
          throw new IntegrityError(`${artifact.path}: unknown verification method ${(unknown as { method: string }).method}`, { path: artifact.path });
        }
      }
    });
  }

  for (const artifact of artifacts) await verifyOne(artifact);
  const report: VerificationReport = { releaseValidUntil: new Map() };
  for (const artifact of artifacts) {
    if (artifact.verification.method !== 'apt-inrelease') continue;
    const validUntil = (await verifiedRelease(artifact)).validUntil;
    if (validUntil) report.releaseValidUntil.set(artifact.sha256, validUntil);
  }
  return report;
}
