export { PinnedKeyring, type PinnedKey } from './pinned-keys.ts';
export { verifyDetachedSignature, verifyClearsigned } from './openpgp-signature.ts';
export { parseHashList } from './hash-list.ts';
export { parseCvdHeader, verifyCvdFile, cvdHeaderLength, type CvdHeader } from './clamav-cvd.ts';
export { parseRelease, parsePackages, type ReleaseFile, type PackageEntry } from './apt-index.ts';
export { verifyArtifacts, type BlobAccess, type VerificationReport } from './verify-artifacts.ts';
