import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { UserFacingError } from '../core/errors.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';

/** sha256 of the public key's SPKI DER: what a manifest names and the LGWAN side pins. */
export function transferKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

export async function generateTransferKeyPair(privateFile: string, publicFile: string): Promise<{ keyId: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeFileAtomic(publicFile, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await writeFileAtomic(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  await chmod(privateFile, 0o600);
  return { keyId: transferKeyId(publicKey) };
}

export async function loadTransferPrivateKey(file: string): Promise<{ privateKey: KeyObject; keyId: string }> {
  try {
    const privateKey = createPrivateKey(await readFile(file));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 key, found ${privateKey.asymmetricKeyType}`);
    return { privateKey, keyId: transferKeyId(createPublicKey(privateKey)) };
  } catch (cause) {
    throw new UserFacingError('E_KEY', `cannot load the transfer private key ${file} (create one with "lgwan-mirror keys init"): ${(cause as Error).message}`, { cause, details: { file } });
  }
}

export async function loadTransferPublicKey(file: string): Promise<{ publicKey: KeyObject; keyId: string }> {
  try {
    const publicKey = createPublicKey(await readFile(file));
    if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 key, found ${publicKey.asymmetricKeyType}`);
    return { publicKey, keyId: transferKeyId(publicKey) };
  } catch (cause) {
    throw new UserFacingError('E_KEY', `cannot load the pinned transfer public key ${file} (copy it from the internet side's "keys init"): ${(cause as Error).message}`, { cause, details: { file } });
  }
}

export function signManifest(manifestBytes: Uint8Array, privateKey: KeyObject): Buffer {
  return sign(null, manifestBytes, privateKey);
}

export function verifyManifestSignature(manifestBytes: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  return signature.length === 64 && verify(null, manifestBytes, publicKey, signature);
}

export interface TrustedTransferKey {
  keyId: string;
  publicKey: KeyObject;
}

/** Which of the trusted keys (current, and an announced next one) made this signature, if any. */
export function signerOf(bytes: Uint8Array, signature: Uint8Array, keys: readonly TrustedTransferKey[]): TrustedTransferKey | undefined {
  return keys.find((key) => verifyManifestSignature(bytes, signature, key.publicKey));
}

export function publicKeyFromSpki(spkiBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
}

export function spkiOf(publicKey: KeyObject): string {
  return (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
}

/** Where "keys rotate" keeps the next key pair until "keys promote" makes it current. */
export function nextKeyFiles(privateFile: string): { privateFile: string; publicFile: string } {
  const base = privateFile.replace(/\.pem$/u, '');
  return { privateFile: `${base}.next.pem`, publicFile: `${base}.next.pub.pem` };
}
