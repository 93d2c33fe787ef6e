import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { keyPinsSchema, manualConfirmationsSchema, type KeyPins, type ManualConfirmations } from '../catalog/schema.ts';
import type { AuthenticodeTrust } from './authenticode.ts';
import type { ClamavSignTrust } from './clamav-sign.ts';
import { UserFacingError } from '../core/errors.ts';
import { formatProblem, readYamlWithSchema } from '../core/yaml-file.ts';

/** An Ed25519 public key (the lgwan-mirror release key) pinned by the SHA-256 of its SPKI DER. */
export interface PinnedEd25519Key {
  name: string;
  file: string;
  /** Only the pinned keys of the file, in the order of their pins. */
  publicKeys: KeyObject[];
  fingerprints: string[];
}

export interface PinnedKey {
  name: string;
  file: string;
  /** Only the primary keys whose fingerprints are pinned; other keys in the file are ignored. */
  publicKeys: openpgp.PublicKey[];
  fingerprints: string[];
}

/**
 * Vendor keys named in `<dir>/pins.yaml`. A key file that lacks a pinned fingerprint is an
 * error: a pin that silently matches nothing would turn every check into a failure later,
 * far from the cause.
 */
export class PinnedKeyring {
  readonly #keys = new Map<string, PinnedKey>();
  readonly #ed25519Keys = new Map<string, PinnedEd25519Key>();
  readonly #confirmations = new Map<string, ManualConfirmations['files'][number]>();
  #authenticodeRoots: { caFile: string | undefined } | undefined;
  readonly #authenticodeSigners = new Map<string, string[]>();
  readonly #unsignedProducts = new Set<string>();
  #clamavSign: ClamavSignTrust | undefined;

  static async load(directories: readonly string[]): Promise<PinnedKeyring> {
    const keyring = new PinnedKeyring();
    for (const directory of directories) await keyring.#loadDirectory(directory);
    return keyring;
  }

  async #loadConfirmations(directory: string): Promise<void> {
    const file = path.join(directory, 'manual-confirmations.yaml');
    const parsed = await readYamlWithSchema(file, manualConfirmationsSchema).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (parsed === undefined) return;
    if (!parsed.ok) throw new UserFacingError('E_KEY', parsed.problems.map(formatProblem).join('\n'), { details: { file } });
    for (const confirmation of parsed.value.files) this.#confirmations.set(confirmation.sha256, confirmation);
  }

  /** The admin's confirmation of a file, if this side has one. */
  manualConfirmation(sha256: string): ManualConfirmations['files'][number] | undefined {
    return this.#confirmations.get(sha256);
  }

  /** The confirmed sha256 of a product's file, for the internet side's manual source. */
  confirmedSha256(product: string, version: string, fileName: string): string | undefined {
    for (const confirmation of this.#confirmations.values()) {
      if (confirmation.product === product && confirmation.version === version && confirmation.fileName === fileName) return confirmation.sha256;
    }
    return undefined;
  }

  async #loadDirectory(directory: string): Promise<void> {
    await this.#loadConfirmations(directory);
    const pinsFile = path.join(directory, 'pins.yaml');
    const parsed = await readYamlWithSchema(pinsFile, keyPinsSchema).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (parsed === undefined) return;
    if (!parsed.ok) throw new UserFacingError('E_KEY', parsed.problems.map(formatProblem).join('\n'), { details: { file: pinsFile } });
    if (parsed.value.authenticode) await this.#loadAuthenticode(directory, pinsFile, parsed.value.authenticode);
    if (parsed.value.clamavSign) {
      const { roots, signers } = parsed.value.clamavSign;
      this.#clamavSign = { caFile: await loadPinnedRoots(directory, pinsFile, roots, 'clamavSign'), signers };
    }
    for (const product of Object.keys(parsed.value.unsignedProducts)) this.#unsignedProducts.add(product);
    for (const [name, pin] of Object.entries(parsed.value.ed25519Keys)) {
      this.#ed25519Keys.set(name, await loadEd25519Key(directory, pinsFile, name, pin));
    }
    for (const [name, pin] of Object.entries(parsed.value.keys)) {
      const file = path.join(directory, pin.file);
      const bytes = await readFile(file).catch((cause: unknown) => {
        throw new UserFacingError('E_KEY', `${pinsFile}: key "${name}": cannot read ${file}`, { cause, details: { file } });
      });
      const all = await readKeys(bytes).catch((cause: unknown) => {
        throw new UserFacingError('E_KEY', `${file}: not an OpenPGP public key or keyring (${String(cause)})`, { cause, details: { file } });
      });
      const publicKeys: openpgp.PublicKey[] = [];
      for (const fingerprint of pin.fingerprints) {
        const match = all.find((key) => key.getFingerprint().toUpperCase() === fingerprint);
        if (!match) throw new UserFacingError('E_KEY', `${pinsFile}: key "${name}": fingerprint ${fingerprint} is not a primary key in ${pin.file}`, { details: { file, fingerprint } });
        publicKeys.push(match.toPublic());
      }
      this.#keys.set(name, { name, file, publicKeys, fingerprints: pin.fingerprints });
    }
  }

  /** The roots and names one pinned Authenticode signer is checked against; a later keys folder's roots replace an earlier one's. */
  authenticode(signer: string): AuthenticodeTrust {
    if (!this.#authenticodeRoots) {
      throw new UserFacingError('E_KEY', 'no Authenticode roots pinned: add "authenticode: { roots: … }" to keys/pins.yaml (docs/catalog.md)', { details: { signer } });
    }
    const names = this.#authenticodeSigners.get(signer);
    if (!names) throw new UserFacingError('E_KEY', `no pinned Authenticode signer named "${signer}" (add it under authenticode.signers in keys/pins.yaml)`, { details: { signer } });
    return { caFile: this.#authenticodeRoots.caFile, signer, names };
  }

  /** Whether this side accepts a product's files on a vendor hash over TLS alone (its own pins.yaml, unsignedProducts). */
  acceptsUnsigned(productId: string): boolean {
    return this.#unsignedProducts.has(productId);
  }

  /** The roots and signer names ClamAV 1.5 .sign files are checked against (clamavSign in keys/pins.yaml). */
  clamavSign(): ClamavSignTrust {
    if (!this.#clamavSign) {
      throw new UserFacingError('E_KEY', 'no ClamAV .sign roots pinned: add "clamavSign: { roots: …, signers: […] }" to keys/pins.yaml, or set source.signFiles: false (docs/catalog.md)', { details: {} });
    }
    return this.#clamavSign;
  }

  hasClamavSign(): boolean {
    return this.#clamavSign !== undefined;
  }

  hasAuthenticodeSigner(signer: string): boolean {
    return this.#authenticodeSigners.has(signer);
  }

  async #loadAuthenticode(directory: string, pinsFile: string, pins: NonNullable<KeyPins['authenticode']>): Promise<void> {
    for (const [name, signer] of Object.entries(pins.signers)) this.#authenticodeSigners.set(name, signer.names);
    if (pins.roots === 'system') {
      this.#authenticodeRoots = { caFile: undefined };
      return;
    }
    this.#authenticodeRoots = { caFile: await loadPinnedRoots(directory, pinsFile, pins.roots, 'authenticode') };
  }

  /** A pinned Ed25519 key by name (ed25519Keys in keys/pins.yaml); a later keys folder's pin replaces an earlier one's. */
  ed25519(name: string): PinnedEd25519Key {
    const key = this.#ed25519Keys.get(name);
    if (!key) throw new UserFacingError('E_KEY', `no pinned Ed25519 key named "${name}" (add it under ed25519Keys in keys/pins.yaml with the SHA-256 of its DER, docs/catalog.md)`, { details: { key: name } });
    return key;
  }

  hasEd25519(name: string): boolean {
    return this.#ed25519Keys.has(name);
  }

  get(name: string): PinnedKey {
    const key = this.#keys.get(name);
    if (!key) throw new UserFacingError('E_KEY', `no pinned key named "${name}" (add it to keys/pins.yaml with its fingerprint)`, { details: { key: name } });
    return key;
  }

  has(name: string): boolean {
    return this.#keys.has(name);
  }

  names(): string[] {
    return [...this.#keys.keys()];
  }
}

/**
 * A PEM file of roots whose every certificate is pinned by SHA-256, and every pin found in
 * it; returns its path. An unpinned certificate slipped into the file would be trusted too.
 */
async function loadPinnedRoots(directory: string, pinsFile: string, roots: { file: string; sha256: readonly string[] }, what: string): Promise<string> {
  const file = path.join(directory, roots.file);
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new UserFacingError('E_KEY', `${pinsFile}: ${what} roots: cannot read ${file}`, { cause, details: { file } });
  });
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/gu) ?? [];
  if (pems.length === 0) throw new UserFacingError('E_KEY', `${file}: no PEM certificate in it`, { details: { file } });
  const found = new Set<string>();
  for (const pem of pems) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (cause) {
      throw new UserFacingError('E_KEY', `${file}: a certificate does not parse (${String(cause)})`, { cause, details: { file } });
    }
    const fingerprint = certificate.fingerprint256.replaceAll(':', '');
    if (!roots.sha256.includes(fingerprint)) {
      throw new UserFacingError('E_KEY', `${file}: certificate "${certificate.subject.replaceAll('\n', ', ')}" (SHA-256 ${fingerprint}) is not pinned in ${pinsFile}`, { details: { file, fingerprint } });
    }
    found.add(fingerprint);
  }
  for (const fingerprint of roots.sha256) {
    if (!found.has(fingerprint)) throw new UserFacingError('E_KEY', `${pinsFile}: ${what} root ${fingerprint} is not in ${roots.file}`, { details: { file, fingerprint } });
  }
  return file;
}

/**
 * The public keys of a PEM file (`-----BEGIN PUBLIC KEY-----`, SPKI) whose SHA-256 of the DER
 * is pinned; every pin must be found, and must be an Ed25519 key. Other keys in the file are
 * ignored, as for OpenPGP keyrings.
 */
async function loadEd25519Key(directory: string, pinsFile: string, name: string, pin: { file: string; fingerprints: readonly string[] }): Promise<PinnedEd25519Key> {
  const file = path.join(directory, pin.file);
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new UserFacingError('E_KEY', `${pinsFile}: ed25519Keys "${name}": cannot read ${file}`, { cause, details: { file } });
  });
  const found = new Map<string, KeyObject>();
  for (const pem of text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/gu) ?? []) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (cause) {
      throw new UserFacingError('E_KEY', `${file}: a public key does not parse (${String(cause)})`, { cause, details: { file } });
    }
    found.set(createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase(), key);
  }
  if (found.size === 0) throw new UserFacingError('E_KEY', `${file}: no PEM public key in it (-----BEGIN PUBLIC KEY-----)`, { details: { file } });
  const publicKeys: KeyObject[] = [];
  for (const fingerprint of pin.fingerprints) {
    const key = found.get(fingerprint);
    if (!key) throw new UserFacingError('E_KEY', `${pinsFile}: ed25519Keys "${name}": fingerprint ${fingerprint} is not the SHA-256 of a key in ${pin.file} (found ${[...found.keys()].join(', ')})`, { details: { file, fingerprint } });
    if (key.asymmetricKeyType !== 'ed25519') throw new UserFacingError('E_KEY', `${pinsFile}: ed25519Keys "${name}": the key ${fingerprint} in ${pin.file} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not Ed25519`, { details: { file, fingerprint } });
    publicKeys.push(key);
  }
  return { name, file, publicKeys, fingerprints: [...pin.fingerprints] };
}

async function readKeys(bytes: Buffer): Promise<openpgp.Key[]> {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return openpgp.readKeys({ armoredKeys: bytes.toString('utf8') });
  return openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
}
