import * as z from 'zod';
import { versionSchemes, type VersionScheme } from '../versions/schemes.ts';

/** How much the fetcher can prove about an artifact, strongest first. Shown on the status page. */
export const trustLevels = ['vendor-signature', 'signed-hash-list', 'vendor-hash-over-tls', 'tls-only', 'manually-confirmed'] as const;
export type TrustLevel = (typeof trustLevels)[number];

// In a module of their own: `version compare` offers them without building the catalog schemas.
export { versionSchemes, type VersionScheme };

const identifier = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/u, 'lower-case letters, digits and "-", starting with a letter or digit');
const httpUrl = z.url({ protocol: /^https?$/u, error: 'an http:// or https:// URL' }).refine((value) => value.endsWith('/'), 'a base URL ending with "/"');
const fileUrl = z.url({ protocol: /^https?$/u, error: 'an http:// or https:// URL' });

const mozillaSource = z.strictObject({
  type: z.literal('mozilla'),
  /** Product directory name on the archive: `firefox` or `thunderbird`. */
  product: z.enum(['firefox', 'thunderbird']),
  versionsUrl: fileUrl.describe('product-details JSON, e.g. …/1.0/firefox_versions.json'),
  versionKey: z.string().min(1).describe('field of that JSON holding the version to mirror, e.g. LATEST_FIREFOX_VERSION or FIREFOX_ESR'),
  /** The update channel endpoints on this line report (%CHANNEL% in AppUpdateURL). */
  channel: z.enum(['release', 'esr', 'beta']).default('release'),
  releasesUrl: httpUrl.describe('the releases folder, e.g. …/pub/firefox/releases/'),
  platforms: z.array(z.enum(['win64', 'win32', 'win64-aarch64', 'linux-x86_64', 'linux-i686', 'mac'])).min(1),
  locales: z.array(z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/u, 'a locale such as ja or en-US')).min(1),
  files: z.array(z.enum(['installer', 'complete-mar'])).min(1).default(['installer', 'complete-mar']),
  signingKey: identifier.describe('name of a pinned key in keys/pins.yaml'),
});

const aptSource = z.strictObject({
  type: z.literal('apt'),
  /** Name of the mirrored archive in repository URLs: /apt/<mirror>/… */
  mirror: identifier,
  baseUrl: httpUrl.describe('archive root, the folder that holds dists/ and pool/'),
  suite: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/u, 'a suite name such as bookworm-updates'),
  components: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/u, 'a component name such as main'))
    .min(1)
    .default(['main'])
    .describe('components endpoints name in their sources (e.g. main): every index InRelease lists for them is mirrored'),
  architectures: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/u, 'a Debian architecture such as amd64'))
    .min(1)
    .default(['amd64'])
    .describe("endpoints' architectures; binary-all is mirrored too wherever InRelease lists it"),
  contents: z
    .boolean()
    .default(false)
    .describe('also mirror Contents-<arch> (apt-file asks for them; large: Ubuntu\'s is about 90 MB)'),
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9.+-]+$/u, 'a Debian package name')).min(1),
  signingKey: identifier,
});

const clamavSource = z.strictObject({
  type: z.literal('clamav'),
  baseUrl: httpUrl.describe('database mirror root holding <db>.cvd'),
  /** One database per catalog entry: each has its own version line and is compared only with itself. */
  database: z.enum(['main', 'daily', 'bytecode']),
  versionDns: z
    .string()
    .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/u, 'a DNS name such as current.cvd.clamav.net')
    .optional()
    .describe("DNS TXT record announcing the databases' versions (freshclam's DNSDatabaseInfo); asked first, the CVD header probe is the fallback"),
  signFiles: z
    .boolean()
    .default(false)
    .describe("also mirror ClamAV 1.5's detached <db>-<version>.cvd.sign, verified on both sides against clamavSign in keys/pins.yaml"),
  cdiffs: z
    .int()
    .min(0)
    .max(100)
    .default(0)
    .describe('also mirror the newest N <db>-<n>.cdiff patches with their .cdiff.sign (needs signFiles: each patch is checked by its .sign)'),
}).refine((source) => source.cdiffs === 0 || source.signFiles, { path: ['cdiffs'], message: 'cdiffs are checked by their .cdiff.sign files: set signFiles: true as well' });

/**
 * A product with no machine-readable feed (JustSystems, …): an admin lists each release
 * here, and confirms its sha256 in keys/manual-confirmations.yaml on both sides.
 */
const manualSource = z.strictObject({
  type: z.literal('manual'),
  files: z
    .array(
      z.strictObject({
        version: z.string().min(1),
        platform: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a plain platform name such as win64'),
        locale: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a plain locale such as ja, or any').default('any'),
        fileName: z.string().regex(/^[A-Za-z0-9._+~@ ()-]+$/u, 'a plain file name'),
        url: fileUrl.optional().describe('where to download it; without one, the file is taken from the internet side\'s manual folder'),
      }),
    )
    .min(1),
});

/** A regular expression a catalog gives (compiled with the `u` flag, as the adapters use it). */
const regularExpression = z
  .string()
  .max(200)
  .refine((value) => {
    try {
      new RegExp(value, 'u');
      return true;
    } catch {
      return false;
    }
  }, 'a regular expression');

/** Where the version inside a downloaded MSI is read (msitools). */
export const msiVersionFieldSchema = z.strictObject({
  from: z.enum(['property', 'summary']).describe('the Property table, or the Summary Information stream'),
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_ ]{0,63}$/u, 'a field name such as ProductVersion or Comments'),
  pattern: regularExpression.optional().describe('a regular expression whose first group is the version inside the field'),
});

/**
 * Google Chrome's enterprise MSI: the version from Google's Version History API, the file
 * from a rolling URL (whatever is current). The MSI must carry an Authenticode signature by
 * the pinned signer and, inside, the version the API announced; otherwise it is refused.
 */
const chromeSource = z.strictObject({
  type: z.literal('chrome'),
  versionsUrl: fileUrl.describe('Version History API list, e.g. …/v1/chrome/platforms/win64/channels/stable/versions'),
  msiUrl: fileUrl.describe('the enterprise MSI; a rolling URL without a version'),
  platform: z.enum(['win64', 'win32']),
  signer: identifier.describe('pinned Authenticode signer in keys/pins.yaml (authenticode.signers)'),
  msiVersion: msiVersionFieldSchema.describe('where the MSI states its Chrome version'),
  maxBytes: z.int().min(1024).default(512 * 1024 * 1024),
});

/**
 * Adobe Acrobat Reader's MSP updates: the version from Adobe's plain-text feed, the patches at
 * `<downloadBase><nnnnnnnnnn>/<file>` (the version without dots), each with Adobe's
 * Authenticode signature by the pinned signer.
 */
const adobeReaderSource = z.strictObject({
  type: z.literal('adobe-reader'),
  versionUrl: fileUrl.describe("Adobe's current_version.txt for Acrobat Reader (one line: the version)"),
  downloadBase: httpUrl.describe('folder holding one sub-folder per version, e.g. …/pub/adobe/reader/win/AcrobatDC/'),
  files: z
    .array(
      z.strictObject({
        platform: z.enum(['win32', 'win64']),
        locale: z.string().regex(/^[A-Za-z0-9_-]+$/u, 'a plain locale such as mui').default('mui'),
        fileName: z.string().regex(/^[A-Za-z0-9._-]*\{version\}[A-Za-z0-9._-]*\.msp$/u, 'a file name with {version} ending in .msp, e.g. AcroRdrDCx64Upd{version}_MUI.msp'),
        downloadBase: httpUrl.optional().describe("this file's own version folders, where they differ from source.downloadBase (Adobe serves the 64-bit Reader patch under …/pub/adobe/acrobat/win/AcrobatDC/)"),
      }),
    )
    .min(1),
  signer: identifier.describe('pinned Authenticode signer in keys/pins.yaml (authenticode.signers)'),
  maxBytes: z.int().min(1024).default(2 * 1024 ** 3),
});

/**
 * Eclipse Temurin (Adoptium): the newest build of a Java feature release from Adoptium's
 * API, whose answer also carries each file's SHA-256. The hash comes over TLS from the
 * vendor's API, not signed by a key this project could pin: trust `vendor-hash-over-tls`.
 */
const adoptiumSource = z.strictObject({
  type: z.literal('adoptium'),
  apiUrl: httpUrl.describe("Adoptium's API root, e.g. https://api.adoptium.net/v3/"),
  featureVersion: z.int().min(8).max(99).describe('the Java feature release, e.g. 21'),
  imageType: z.enum(['jre', 'jdk']).default('jre'),
  platforms: z.array(z.enum(['win64', 'linux-x86_64'])).min(1),
  files: z.array(z.enum(['installer', 'package'])).min(1).default(['installer']).describe('installer: the MSI (Windows); package: the zip or tar.gz'),
});

/**
 * A vendor that publishes on GitHub releases (7-Zip, Notepad++): the newest non-draft,
 * non-prerelease release, its tag as the version, assets chosen by name. With `checksums`
 * (a sha256sum-style asset the vendor uploads) the hash is the vendor's, over TLS; without,
 * only GitHub's own digest of the upload, which proves the transport and nothing more.
 */
const githubReleaseSource = z.strictObject({
  type: z.literal('github-release'),
  apiUrl: fileUrl.describe('the latest-release endpoint, e.g. https://api.github.com/repos/ip7z/7zip/releases/latest'),
  tagPrefix: z.string().max(20).default('').describe('removed from the tag to get the version, e.g. "v"'),
  assets: z.array(z.strictObject({ platform: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a plain platform name such as win64'), pattern: regularExpression.describe('regular expression matching exactly one asset name') })).min(1),
  checksums: z.strictObject({ pattern: regularExpression.describe('regular expression matching the vendor\'s checksum asset (sha256sum format)') }).optional(),
});

/**
 * LibreOffice: the newest version folder of The Document Foundation's download listing, and
 * the SHA-256 the download server publishes beside each file (`<file>.sha256`).
 */
const libreofficeSource = z.strictObject({
  type: z.literal('libreoffice'),
  baseUrl: httpUrl.describe('the listing of version folders, e.g. https://download.documentfoundation.org/libreoffice/stable/'),
  files: z
    .array(
      z.strictObject({
        platform: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a plain platform name such as win64'),
        path: z.string().regex(/^[A-Za-z0-9._/-]*\{version\}[A-Za-z0-9._/{}-]*$/u, 'a relative path with {version}, e.g. win/x86_64/LibreOffice_{version}_Win_x86-64.msi'),
      }),
    )
    .min(1),
});

/**
 * Microsoft Edge for business: the enterprise products API lists, per channel, releases with
 * each artifact's location, SHA-256 and size. The hash comes over TLS from Microsoft's API;
 * Edge's Authenticode chain ends in Microsoft's own roots, which are not pinned here, so the
 * trust is `vendor-hash-over-tls`.
 */
const edgeSource = z.strictObject({
  type: z.literal('edge'),
  apiUrl: fileUrl.describe('the enterprise products API, e.g. https://edgeupdates.microsoft.com/api/products?view=enterprise'),
  channel: z.enum(['Stable', 'Extended Stable', 'Beta', 'Dev']).default('Stable'),
  platforms: z.array(z.enum(['win64', 'win32', 'win64-aarch64'])).min(1),
});

/**
 * lgwan-mirror's own releases, as `npm run package` writes them (the .deb, the tarball,
 * SHA256SUMS and SHA256SUMS.sig), dropped by an admin or the release process into a folder on
 * the internet-side host: the folder itself or one sub-folder per release. SHA256SUMS must
 * carry an Ed25519 signature by the release key pinned under ed25519Keys in keys/pins.yaml;
 * each file must hash to its line; the .deb's own control file must name the release's version.
 * Carried like any other product, so the LGWAN side upgrades with `lgwan-mirror upgrade`.
 */
const localReleaseSource = z.strictObject({
  type: z.literal('local-release'),
  folder: z
    .string()
    .regex(/^\/[^\u0000-\u001f]*$/u, 'an absolute folder path, e.g. /var/lib/lgwan-mirror/releases')
    .describe('where releases are dropped on the internet-side host: the folder itself or one sub-folder per release, each with SHA256SUMS and SHA256SUMS.sig'),
  releaseKey: identifier.describe('name of the pinned Ed25519 release key under ed25519Keys in keys/pins.yaml'),
  maxBytes: z.int().min(1024).default(1024 ** 3).describe('largest file of a release that is taken'),
});

/*
 * Advisory sources (issue 16): catalog entries like products, fetched on the internet side,
 * carried in bundles with their verification material and re-verified on the LGWAN side,
 * where src/advisories parses them. Their "version" is the snapshot the fetch took
 * (YYYYMMDDHHMMSS, UTC; scheme integer): documents are carried as the publisher serves them.
 */
const publisherName = z.string().min(1).max(200);

/**
 * Mozilla's security advisories as Mozilla keeps them: one YAML file per advisory in
 * github.com/mozilla/foundation-security-advisories (announce/<year>/mfsa<year>-<n>.yml),
 * listed through GitHub's contents API. Nothing is signed: trust tls-only.
 */
const mozillaAdvisoriesSource = z.strictObject({
  type: z.literal('mozilla-advisories'),
  listingUrls: z
    .array(fileUrl)
    .min(1)
    .max(20)
    .describe('GitHub contents API listings of announce/<year>, e.g. https://api.github.com/repos/mozilla/foundation-security-advisories/contents/announce/2026'),
  products: z.record(publisherName, identifier).describe('Mozilla\'s product names in fixed_in ("Firefox", "Firefox ESR", "Thunderbird") → our catalog ids'),
});

/** CISA's Known Exploited Vulnerabilities catalog (JSON feed). Unsigned: trust tls-only. */
const cisaKevSource = z.strictObject({
  type: z.literal('cisa-kev'),
  url: fileUrl.describe('the JSON feed, e.g. https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json'),
});

/** The Debian security tracker's JSON of every source package and issue. Unsigned: trust tls-only. */
const debianSecurityTrackerSource = z.strictObject({
  type: z.literal('debian-security-tracker'),
  url: fileUrl.describe('the tracker JSON, https://security-tracker.debian.org/tracker/data/json'),
  releases: z
    .record(z.string().regex(/^[a-z][a-z0-9-]{1,30}$/u, 'a Debian codename such as bookworm'), identifier)
    .refine((releases) => Object.keys(releases).length > 0, 'at least one release')
    .describe('Debian codenames → our catalog ids of the apt products for them, e.g. bookworm: debian-bookworm-security'),
  maxBytes: z.int().min(1024).max(512 * 1024 * 1024).default(256 * 1024 * 1024),
});

/**
 * Any vendor that publishes CSAF 2.0: provider-metadata.json → its ROLIE feeds → documents,
 * each with its .sha512 (or .sha256) and an OpenPGP .asc that must verify with the key pinned
 * as `signingKey` in keys/pins.yaml, on both sides.
 */
const csafSource = z.strictObject({
  type: z.literal('csaf'),
  providerMetadataUrl: fileUrl.describe('the provider\'s provider-metadata.json, e.g. https://<vendor>/.well-known/csaf/provider-metadata.json'),
  signingKey: identifier.describe('name of the pinned OpenPGP key in keys/pins.yaml that signs the documents (.asc)'),
  tlp: z.array(z.enum(['WHITE', 'CLEAR'])).min(1).default(['WHITE', 'CLEAR']).describe('the ROLIE feeds read, by TLP label: only public ones'),
  maxDocuments: z.int().min(1).max(5000).default(200).describe('the newest N documents of the feeds (by their updated time)'),
  products: z.record(publisherName, identifier).describe('names of the vendor\'s product_name branches → our catalog ids'),
});

/**
 * JVN iPedia through IPA's MyJVN API (version 4.0, "OKA"): the entries of the chosen period
 * (getVulnOverviewList) and each one's detail (getVulnDetailInfo, ft=jvncsaf), for the JVN
 * identifiers of CVEs. Unsigned: trust tls-only.
 */
const jvnSource = z.strictObject({
  type: z.literal('jvn'),
  apiUrl: fileUrl.describe("MyJVN's API endpoint, https://jvndb.jvn.jp/myjvn"),
  modifiedRange: z.enum(['DAY', 'WEEK', 'MONTH']).default('MONTH').describe('entries modified in the last day, week or month (modifiedRangeDate)'),
  lang: z.enum(['ja', 'en']).default('ja'),
  maxEntries: z.int().min(1).max(2000).default(200).describe('at most this many entries per fetch: each is one getVulnDetailInfo call'),
});

export const advisorySourceTypes = ['mozilla-advisories', 'cisa-kev', 'debian-security-tracker', 'csaf', 'jvn'] as const;

export const sourceSchema = z.discriminatedUnion('type', [
  mozillaSource, aptSource, clamavSource, manualSource, chromeSource, adobeReaderSource, adoptiumSource, githubReleaseSource, libreofficeSource, edgeSource, localReleaseSource,
  mozillaAdvisoriesSource, cisaKevSource, debianSecurityTrackerSource, csafSource, jvnSource,
]);

/** What a source proves about a file: a catalog's `trust` must say exactly that. */
export function trustOfSource(source: z.infer<typeof sourceSchema>): TrustLevel {
  switch (source.type) {
    case 'mozilla':
    case 'local-release':
      return 'signed-hash-list';
    case 'manual':
      return 'manually-confirmed';
    case 'adoptium':
    case 'libreoffice':
    case 'edge':
      return 'vendor-hash-over-tls';
    case 'github-release':
      return source.checksums ? 'vendor-hash-over-tls' : 'tls-only';
    case 'mozilla-advisories':
    case 'cisa-kev':
    case 'debian-security-tracker':
    case 'jvn':
      return 'tls-only';
    case 'csaf':
    case 'apt':
    case 'clamav':
    case 'chrome':
    case 'adobe-reader':
      return 'vendor-signature';
  }
}

/** How the product appears in the winget REST source (MSI/EXE/MSP installers). */
const wingetSchema = z.strictObject({
  packageIdentifier: z
    .string()
    .regex(/^[^.\s\\/:*?"<>|\u0001-\u001f]{1,32}(\.[^.\s\\/:*?"<>|\u0001-\u001f]{1,32}){1,7}$/u, 'a winget package identifier such as Mozilla.Firefox'),
  publisher: z.string().min(2).max(256),
  license: z.string().min(3).max(512),
  shortDescription: z.string().min(3).max(256),
  installerType: z.enum(['msi', 'exe', 'nullsoft', 'inno', 'wix', 'burn']),
  silentSwitch: z.string().min(1).max(512).optional(),
});
export type WingetMetadata = z.infer<typeof wingetSchema>;

export const catalogEntrySchema = z.strictObject({
  $schema: z.string().optional(),
  id: identifier.describe('unique product id, used in repository URLs'),
  name: z.string().min(1),
  vendor: z.string().min(1),
  scheme: z.enum(versionSchemes),
  trust: z.enum(trustLevels),
  retention: z.int().min(1).max(100).default(3).describe('how many versions the LGWAN side keeps published'),
  source: sourceSchema,
  winget: wingetSchema.optional().describe('publish the Windows installers of this product in the winget REST source'),
}).superRefine((entry, context) => {
  // The status page shows `trust`: it must be what the source really verifies, never more (nor less).
  const proven = trustOfSource(entry.source);
  if (entry.trust !== proven) context.addIssue({ code: 'custom', path: ['trust'], message: `the ${entry.source.type} source type verifies "${proven}", not "${entry.trust}"` });
  // An advisory source's versions are fetch snapshots (YYYYMMDDHHMMSS): only the integer scheme orders them.
  if ((advisorySourceTypes as readonly string[]).includes(entry.source.type) && entry.scheme !== 'integer') {
    context.addIssue({ code: 'custom', path: ['scheme'], message: `an advisory source (${entry.source.type}) is versioned by fetch snapshot: scheme must be "integer"` });
  }
});

export type CatalogEntry = z.infer<typeof catalogEntrySchema>;
export type Source = z.infer<typeof sourceSchema>;
export type MozillaSource = z.infer<typeof mozillaSource>;
export type AptSource = z.infer<typeof aptSource>;
export type ClamavSource = z.infer<typeof clamavSource>;
export type ManualSource = z.infer<typeof manualSource>;
export type ChromeSource = z.infer<typeof chromeSource>;
export type AdobeReaderSource = z.infer<typeof adobeReaderSource>;
export type AdoptiumSource = z.infer<typeof adoptiumSource>;
export type GithubReleaseSource = z.infer<typeof githubReleaseSource>;
export type LibreofficeSource = z.infer<typeof libreofficeSource>;
export type EdgeSource = z.infer<typeof edgeSource>;
export type LocalReleaseSource = z.infer<typeof localReleaseSource>;
export type MozillaAdvisoriesSource = z.infer<typeof mozillaAdvisoriesSource>;
export type CisaKevSource = z.infer<typeof cisaKevSource>;
export type DebianSecurityTrackerSource = z.infer<typeof debianSecurityTrackerSource>;
export type CsafSource = z.infer<typeof csafSource>;
export type JvnSource = z.infer<typeof jvnSource>;

/** A PEM file in the keys folder whose every certificate is pinned by SHA-256. */
const pinnedRootsFile = z.strictObject({
  file: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a file name inside the keys folder'),
  sha256: z.array(z.string().regex(/^[0-9A-F]{64}$/u, '64 upper-case hex digits: openssl x509 -noout -fingerprint -sha256, colons removed')).min(1),
});

/** keys/pins.yaml: each vendor key named once, its file and the primary-key fingerprints accepted. */
export const keyPinsSchema = z.strictObject({
  $schema: z.string().optional(),
  keys: z.record(
    identifier,
    z.strictObject({
      file: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a file name inside the keys folder'),
      fingerprints: z.array(z.string().regex(/^[0-9A-F]{40}$/u, 'a 40-digit upper-case hex OpenPGP fingerprint')).min(1),
      description: z.string().optional(),
    }),
  ).default({}),
  ed25519Keys: z
    .record(
      identifier,
      z.strictObject({
        file: z.string().regex(/^[A-Za-z0-9._-]+$/u, 'a file name inside the keys folder (PEM: -----BEGIN PUBLIC KEY-----)'),
        fingerprints: z
          .array(z.string().regex(/^[0-9A-F]{64}$/u, '64 upper-case hex digits: the SHA-256 of the key\'s DER (openssl pkey -pubin -in <file> -outform DER | sha256sum | tr a-f A-F)'))
          .min(1),
        description: z.string().optional(),
      }),
    )
    .default({})
    .describe('Ed25519 public keys (SPKI PEM) pinned by the SHA-256 of their DER: the lgwan-mirror release key that signs SHA256SUMS (catalogs with source.type local-release)'),
  unsignedProducts: z
    .record(identifier, z.strictObject({ reviewed: z.string().min(10).describe('who decided, when, and why a hash over TLS is enough for this product') }))
    .default({})
    .describe('products whose files no pinned key or signer covers (trust vendor-hash-over-tls or tls-only): each side publishes them only when listed here'),
  authenticode: z
    .strictObject({
      roots: z
        .union([
          z.literal('system').describe("Debian's ca-certificates bundle (osslsigncode's default)"),
          pinnedRootsFile,
        ])
        .describe('where Authenticode chains must end: a PEM file whose every certificate is pinned here by SHA-256, or the system bundle'),
      signers: z
        .record(
          identifier,
          z.strictObject({
            names: z.array(z.string().min(1)).min(1).describe('the organisation names (O=) this vendor signs with; more than one only as a reviewed alias'),
            reviewed: z.string().min(10).describe('who checked these names, when, and against what'),
          }),
        )
        .default({})
        .describe('pinned Authenticode signers, named by catalogs (source.signer)'),
    })
    .optional()
    .describe('Authenticode (Windows MSI/EXE/MSP signatures): trusted roots and signer aliases'),
  clamavSign: z
    .strictObject({
      roots: pinnedRootsFile.describe('the root(s) ClamAV 1.5 ships to check .sign files (its certs folder), every certificate pinned by SHA-256'),
      signers: z.array(z.string().min(1)).min(1).describe('common names (CN) of the signing certificates accepted, e.g. ClamAV_datafiles_release'),
      reviewed: z.string().min(10).describe('who checked the roots and names, when, and against what'),
    })
    .optional()
    .describe("ClamAV 1.5's detached .sign files (PKCS#7): needed by catalogs with source.signFiles"),
});
export type KeyPins = z.infer<typeof keyPinsSchema>;

/**
 * keys/manual-confirmations.yaml: files an admin checked by hand (with the vendor, on a
 * verified medium), by sha256. Each side reads its own copy: a stolen transfer key alone
 * cannot get an unconfirmed file published.
 */
export const manualConfirmationsSchema = z.strictObject({
  $schema: z.string().optional(),
  files: z.array(
    z.strictObject({
      product: identifier,
      version: z.string().min(1),
      fileName: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/u, '64 lower-case hex digits'),
      confirmedBy: z.string().min(1).describe('who checked it'),
      confirmedAt: z.iso.date().describe('when (YYYY-MM-DD)'),
      how: z.string().min(1).describe('how it was checked, e.g. "vendor support portal, hash compared by phone"'),
    }),
  ),
});
export type ManualConfirmations = z.infer<typeof manualConfirmationsSchema>;
