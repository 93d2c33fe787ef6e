import * as openpgp from 'openpgp';
import { SignatureError } from '../core/errors.ts';
import type { PinnedKey } from './pinned-keys.ts';

export interface SignatureCheck {
  /** Fingerprint of the pinned primary key whose (sub)key made the good signature. */
  signedBy: string;
}

/*
 * A message may carry several signatures (Debian signs with more than one archive key).
 * It is accepted when at least one verifies with a pinned key; signatures by unknown keys
 * are not errors, as with gpgv. openpgp's `expectSigned` would demand that every
 * signature verify, so the results are inspected one by one instead.
 */
async function firstGoodSignature(
  signatures: openpgp.VerifyMessageResult['signatures'],
  key: PinnedKey,
  what: string,
): Promise<SignatureCheck> {
  const reasons: string[] = [];
  for (const signature of signatures) {
    const signer = key.publicKeys.find((publicKey) => publicKey.getKeyIDs().some((id) => id.equals(signature.keyID)));
    if (!signer) {
      reasons.push(`signature by key ${signature.keyID.toHex().toUpperCase()} is not pinned as "${key.name}"`);
      continue;
    }
    try {
      await signature.verified;
      return { signedBy: signer.getFingerprint().toUpperCase() };
    } catch (error) {
      reasons.push(`signature by ${signature.keyID.toHex().toUpperCase()} does not verify: ${(error as Error).message}`);
    }
  }
  if (signatures.length === 0) reasons.push('no signature found');
  throw new SignatureError(`${what}: no good signature by pinned key "${key.name}" (${reasons.join('; ')})`, { what, key: key.name });
}

/** Verifies a detached signature (armored `.asc` or binary `.sig`) over `data`. */
export async function verifyDetachedSignature(data: Uint8Array, signatureBytes: Uint8Array, key: PinnedKey, what: string): Promise<SignatureCheck> {
  let signature: openpgp.Signature;
  try {
    const text = Buffer.from(signatureBytes).toString('utf8');
    signature = text.includes('-----BEGIN PGP SIGNATURE-----')
      ? await openpgp.readSignature({ armoredSignature: text })
      : await openpgp.readSignature({ binarySignature: signatureBytes });
  } catch (cause) {
    throw new SignatureError(`${what}: the signature file is not an OpenPGP signature`, { what }, cause);
  }
  const message = await openpgp.createMessage({ binary: data });
  const result = await openpgp.verify({ message, signature, verificationKeys: key.publicKeys, format: 'binary' });
  return firstGoodSignature(result.signatures, key, what);
}

/** Verifies a clearsigned document (Debian `InRelease`) and returns the text that was signed. */
export async function verifyClearsigned(document: string, key: PinnedKey, what: string): Promise<SignatureCheck & { text: string }> {
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: document });
  } catch (cause) {
    throw new SignatureError(`${what}: not an OpenPGP clearsigned document`, { what }, cause);
  }
  const result = await openpgp.verify({ message, verificationKeys: key.publicKeys });
  const check = await firstGoodSignature(result.signatures, key, what);
  // Only the signed text may be trusted: never parse the raw document around it.
  return { ...check, text: String(result.data) };
}
