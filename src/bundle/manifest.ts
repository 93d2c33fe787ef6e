import * as z from 'zod';
import { trustLevels, versionSchemes } from '../catalog/schema.ts';

/*
 * The bundle manifest is the only thing the LGWAN side learns from the internet side.
 * It is state-based: it lists every artifact the LGWAN side should publish, not a
 * delta, so losing a bundle costs blobs, never correctness (ONEWAY.md, rule 1).
 * Versioned by `format`; see docs/transfer.md.
 */
export const bundleFormat = 'lgwan-mirror-bundle/1';
export const maxManifestBytes = 16 * 1024 * 1024;
export const manifestEntryName = 'manifest.json';
export const signatureEntryName = 'manifest.sig';
export const blobEntryName = (sha256: string): string => `blobs/${sha256}`;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/u, '64 lower-case hex digits');
const safeSegment = z
  .string()
  .min(1)
  .max(255)
  // Checked again before any filesystem call; refusing here names the field.
  .refine((value) => value !== '.' && value !== '..' && !/[\u0000-\u001f\u007f/\\]/u.test(value) && !/^[A-Za-z]:/u.test(value), 'a plain file name');
const repositoryPath = z
  .string()
  .max(1024)
  .refine((value) => value.split('/').every((segment) => safeSegment.safeParse(segment).success), 'a relative path of plain segments');

/** How the LGWAN side checks an artifact again, with its own pinned keys. */
export const verificationSchema = z.discriminatedUnion('method', [
  /** A hash list (SHA512SUMS) whose detached signature is the blob `signature`. */
  z.strictObject({ method: z.literal('openpgp-detached'), key: z.string(), signature: sha256Hex }),
  /** The detached signature file itself: trusted only through the artifact it signs. */
  z.strictObject({ method: z.literal('signature-of'), subject: sha256Hex }),
  /** A file listed with its SHA-512 in a signed hash list. */
  z.strictObject({ method: z.literal('hash-list-entry'), hashList: sha256Hex, entry: z.string().min(1), algorithm: z.literal('sha512') }),
  /** Debian's clearsigned InRelease. */
  z.strictObject({ method: z.literal('apt-inrelease'), key: z.string() }),
  /** An index listed with its SHA-256 in a verified InRelease. */
  z.strictObject({ method: z.literal('apt-index'), release: sha256Hex, entry: z.string().min(1) }),
  /** A package listed with its SHA-256 in a verified Packages index. */
  z.strictObject({ method: z.literal('apt-package'), index: sha256Hex, filename: z.string().min(1) }),
  /** A ClamAV CVD: header signature by ClamAV's built-in key over the body MD5. */
  z.strictObject({ method: z.literal('clamav-cvd') }),
  /**
   * ClamAV 1.5's detached `<db>-<version>.cvd.sign` of the CVD blob `subject`: PKCS#7 chaining
   * to the roots and signer names pinned under clamavSign in this side's keys/pins.yaml.
   */
  z.strictObject({ method: z.literal('clamav-sign'), subject: sha256Hex }),
  /** A ClamAV patch (`daily-27501.cdiff`), checked by its ClamAV 1.5 `.cdiff.sign` (the blob `sign`). */
  z.strictObject({ method: z.literal('clamav-cdiff'), sign: sha256Hex }),
  /**
   * A Windows file with an Authenticode signature by a pinned signer (keys/pins.yaml); for an
   * MSI behind a rolling URL, also the version read out of the MSI itself.
   */
  z.strictObject({
    method: z.literal('authenticode'),
    signer: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/u),
    msiVersion: z.strictObject({ from: z.enum(['property', 'summary']), name: z.string().regex(/^[A-Za-z][A-Za-z0-9_ ]{0,63}$/u), pattern: z.string().max(200).optional() }).optional(),
  }),
  /**
   * A file whose SHA-256 the vendor states over TLS (an API answer) without a signature this
   * project pins; `statement` is where. Published only for products listed under
   * unsignedProducts in this side's keys/pins.yaml.
   */
  z.strictObject({ method: z.literal('vendor-hash-over-tls'), statement: z.string().max(2048) }),
  /** A file nothing but TLS vouches for (GitHub's digest of an upload); same rule as above. */
  z.strictObject({ method: z.literal('tls-only'), statement: z.string().max(2048) }),
  /** A file an admin confirmed by hand: its sha256 must be in this side's own confirmations. */
  z.strictObject({ method: z.literal('manual-confirmation') }),
  /**
   * A file of an lgwan-mirror release: `sums` is the blob of its SHA256SUMS, `signature` the
   * blob of SHA256SUMS.sig (Ed25519 by the release key `key`, pinned under ed25519Keys in this
   * side's keys/pins.yaml), `entry` the file's line in SHA256SUMS. A .deb must also name the
   * release's version in its own control file. SHA256SUMS and its .sig carry the same fields.
   */
  z.strictObject({ method: z.literal('lgwan-mirror-release'), key: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/u), sums: sha256Hex, signature: sha256Hex, entry: safeSegment }),
  /**
   * A hash file a publisher serves beside a document (CSAF's `<doc>.sha512` / `.sha256`): it
   * must state the digest of the blob `subject`, which is checked by its own (signed) method.
   */
  z.strictObject({ method: z.literal('hash-file'), subject: sha256Hex, algorithm: z.enum(['sha256', 'sha512']) }),
]);
export type Verification = z.infer<typeof verificationSchema>;

export const artifactSchema = z.strictObject({
  productId: z.string().min(1),
  version: z.string().min(1),
  platform: safeSegment,
  locale: safeSegment,
  fileName: safeSegment,
  /** Where the repository serves it, relative to its root, e.g. `pool/firefox/128.0/win64/ja/Firefox Setup 128.0.exe`. */
  path: repositoryPath,
  size: z.int().min(0),
  sha256: sha256Hex,
  /** `payload` is what endpoints install; `material` is vendor verification material served beside it. */
  role: z.enum(['payload', 'material']),
  verification: verificationSchema,
  /** Protocol metadata an update protocol needs (e.g. Mozilla's buildId for a complete MAR). */
  attributes: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,31}$/u), z.string().max(256)).optional(),
});
export type Artifact = z.infer<typeof artifactSchema>;

export const productSummarySchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  vendor: z.string().min(1),
  scheme: z.enum(versionSchemes),
  trust: z.enum(trustLevels),
  retention: z.int().min(1),
  /** Newest version the internet side has seen at the vendor, and when it first saw it. */
  latestSeen: z.strictObject({ version: z.string(), firstSeenAt: z.iso.datetime() }).nullable(),
  /** When the internet side first saw, fetched and first bundled each retained release (patch latency). */
  releases: z
    .array(z.strictObject({ version: z.string(), firstSeenAt: z.iso.datetime(), fetchedAt: z.iso.datetime(), firstBundledAt: z.iso.datetime().nullable() }))
    .optional(),
  /** Which native update protocol serves the product, and its parameters. */
  protocol: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('mozilla'), product: z.enum(['firefox', 'thunderbird']), channel: z.enum(['release', 'esr', 'beta']) }),
      z.strictObject({ type: z.literal('apt'), mirror: z.string(), suite: z.string() }),
      z.strictObject({ type: z.literal('clamav'), database: z.string() }),
    ])
    .optional(),
  /**
   * An advisory source (issue 16): which parser reads its artifacts on the LGWAN side, and the
   * catalog's mapping of the publisher's names (Mozilla product names, Debian codenames, CSAF
   * product_name branches) to our catalog ids. Absent for products.
   */
  advisory: z
    .strictObject({
      kind: z.enum(['mozilla', 'cisa-kev', 'debian-tracker', 'csaf', 'jvn']),
      products: z.record(z.string().min(1).max(200), z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/u)).optional(),
    })
    .optional(),
  winget: z
    .strictObject({
      packageIdentifier: z.string(),
      publisher: z.string(),
      license: z.string(),
      shortDescription: z.string(),
      installerType: z.string(),
      silentSwitch: z.string().optional(),
    })
    .optional(),
  sourceHealth: z.strictObject({
    lastSuccessAt: z.iso.datetime().nullable(),
    lastErrorAt: z.iso.datetime().nullable(),
    lastError: z.string().nullable(),
    consecutiveFailures: z.int().min(0),
  }),
});
export type ProductSummary = z.infer<typeof productSummarySchema>;

export const manifestSchema = z.strictObject({
  format: z.literal(bundleFormat),
  sequence: z.int().min(1),
  /** sha256 of the previous manifest's exact bytes; null for the first bundle. */
  previousManifestSha256: sha256Hex.nullable(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  /** sha256 of the signing public key (SPKI DER). */
  transferKeyId: sha256Hex,
  products: z.array(productSummarySchema),
  artifacts: z.array(artifactSchema),
  /**
   * Key rotation: the next transfer key, announced under the current key's signature. The
   * LGWAN side then also accepts bundles signed by it; the first one promotes it.
   */
  nextTransferKey: z.strictObject({ keyId: sha256Hex, spki: z.string().max(200) }).optional(),
  /** The blobs carried in this bundle, in the order they follow the manifest. */
  blobs: z.array(z.strictObject({ sha256: sha256Hex, size: z.int().min(0) })),
});
export type Manifest = z.infer<typeof manifestSchema>;
