export * from './manifest.ts';
export { readBundle, type ReadBundleResult, type ReceivedBlob, type ManifestDecision } from './read-bundle.ts';
export { loadTransferPublicKey, transferKeyId, verifyManifestSignature } from './transfer-key.ts';
