import { verify } from 'node:crypto';
import { IntegrityError, SignatureError } from '../core/errors.ts';
import { parseHashList } from './hash-list.ts';
import type { PinnedEd25519Key } from './pinned-keys.ts';

/*
 * lgwan-mirror's own release, as scripts/package.sh writes it: the .deb, the tarball,
 * SHA256SUMS (sha256sum's "<hex>  <name>" lines) and SHA256SUMS.sig (a raw Ed25519 signature
 * over SHA256SUMS's exact bytes by the release key; `openssl pkeyutl -verify -rawin` checks it).
 * Shared by the internet side's source, both sides' verification and `lgwan-mirror upgrade`.
 */
export const releasePackage = 'lgwan-mirror';
export const releaseListName = 'SHA256SUMS';
export const releaseSignatureName = 'SHA256SUMS.sig';
export const releaseDebArchitecture = 'amd64';
export const releaseTarballPlatform = 'linux-x64';

export const releaseDebName = (version: string): string => `${releasePackage}_${version}_${releaseDebArchitecture}.deb`;
export const releaseTarballName = (version: string): string => `${releasePackage}-${version}-${releaseTarballPlatform}.tar.gz`;

/** Checks SHA256SUMS's signature against every pinned key of that name; returns the fingerprint that signed. */
export function verifyReleaseSignature(sums: Buffer, signature: Buffer, key: PinnedEd25519Key, what: string): string {
  if (signature.length !== 64) {
    throw new SignatureError(`${what}: ${releaseSignatureName} has ${signature.length} bytes; an Ed25519 signature has 64`, { what, field: releaseSignatureName });
  }
  const index = key.publicKeys.findIndex((publicKey) => verify(null, sums, publicKey, signature));
  if (index === -1) {
    throw new SignatureError(
      `${what}: ${releaseSignatureName} is not a signature of ${releaseListName} by the pinned release key "${key.name}" (${key.fingerprints.join(', ')}, ${key.file}): signed by another key, or either file changed`,
      { what, field: releaseSignatureName, key: key.name },
    );
  }
  return key.fingerprints[index]!;
}

/** SHA256SUMS → file name → sha256; a malformed line is an error (hash-list.ts). */
export function parseReleaseList(text: string, what: string): Map<string, string> {
  const list = parseHashList(text, what, 64);
  for (const name of list.keys()) {
    if (name.includes('/')) throw new IntegrityError(`${what}: "${name}" is not a plain file name (a release lists the files beside it)`, { what, field: name });
  }
  return list;
}

/** The version a (verified) SHA256SUMS is of: the one .deb it lists, `lgwan-mirror_<version>_amd64.deb`. */
export function releaseVersionOfList(list: ReadonlyMap<string, string>, what: string): string {
  const versions = [...list.keys()].map((name) => /^lgwan-mirror_([0-9A-Za-z.+~-]+)_amd64\.deb$/u.exec(name)?.[1]).filter((version) => version !== undefined);
  if (versions.length !== 1) {
    throw new IntegrityError(`${what}: lists ${versions.length === 0 ? 'no' : versions.length} lgwan-mirror_<version>_amd64.deb file${versions.length === 1 ? '' : 's'}; a release lists exactly one`, { what, field: releaseListName });
  }
  return versions[0]!;
}
