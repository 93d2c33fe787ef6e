import { xz } from '@napi-rs/lzma';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { deterministicBytes } from './deterministic-bytes.ts';
import { writeMar } from './mar-writer.ts';

export interface MozillaProductOptions {
  product: 'firefox' | 'thunderbird';
  versions: string[];
  /** What product-details announces; changeable at run time. */
  latest: string;
  platforms: string[];
  locales: string[];
  fileSize: number;
}

export interface SimulatorOptions {
  /** Folder holding debian/ and clamav/ real vendor data (test/fixtures). */
  fixtures: string;
  /** Armored private key the simulated Mozilla signs SHA512SUMS with. */
  mozillaSigningKey: string;
  mozilla: MozillaProductOptions;
}

/** Faults a test can switch on to play a lying or broken vendor. */
export interface SimulatorFaults {
  /** URL paths whose body gets one byte flipped. */
  corrupt: Set<string>;
  /** Armored private key used instead of the real one for SHA512SUMS.asc. */
  signSumsWith?: string;
  /** URL path → number of requests to answer by cutting the connection half-way. */
  cutAfterHalf: Map<string, number>;
  /** URL paths answered with 404, as a vendor that does not serve a file it lists. */
  missing: Set<string>;
  /** URL path → number of requests to answer with 503. */
  unavailable: Map<string, number>;
  /** Complete MARs are built without application.ini and platform.ini (set before the release's first request). */
  marWithoutBuildId?: boolean;
  /** The synthetic apt suite's signed Release lists a wrong hash for the uncompressed Packages (set before its first request). */
  mislistUncompressedPackages?: boolean;
}

export interface VendorSimulator {
  url: string;
  /** The origin catalog files name for the simulator (reserved, never resolves). */
  catalogOrigin: string;
  options: SimulatorOptions;
  faults: SimulatorFaults;
  /** Further files served as they are, by URL path, or path and query (tests add vendors of their own here). */
  files: Map<string, Buffer>;
  /** Publishes the synthetic apt suite anew (a later Date, one more package), as an archive does after a security update. */
  republishSyntheticApt(): void;
  /** Requests received, in order, for assertions (method, path, range). */
  requests: { method: string; path: string; range?: string }[];
  close(): Promise<void>;
}

export const simulatorCatalogOrigin = 'https://vendor-simulator.invalid';

const displayName = { firefox: 'Firefox', thunderbird: 'Thunderbird' } as const;

function mozillaFiles(options: MozillaProductOptions, version: string, faults: SimulatorFaults): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const name = displayName[options.product];
  for (const platform of options.platforms) {
    for (const configuredLocale of options.locales) {
      // As on Mozilla's archive: macOS builds are .dmg, and Japanese for macOS is ja-JP-mac.
      const locale = platform === 'mac' && configuredLocale === 'ja' ? 'ja-JP-mac' : configuredLocale;
      const installer = platform.startsWith('win') ? `${name} Setup ${version}.exe`
        : platform === 'mac' ? `${name} ${version}.dmg` : `${options.product}-${version}.tar.xz`;
      files.set(`${platform}/${locale}/${installer}`, deterministicBytes(`${options.product}/${version}/${platform}/${locale}/installer`, options.fileSize));
      files.set(`update/${platform}/${locale}/${options.product}-${version}.complete.mar`, completeMar(options, version, platform, locale, faults));
    }
  }
  // Mozilla's real archive has no <platform>_info.txt under releases/ (beetmover's RELEASE_EXCLUDE
  // drops *.txt; it exists only under candidates/): the build ID is inside each complete MAR.
  // Mozilla's lists cover every locale; the mirror selects. A locale no catalog asks for:
  files.set(`win64/de/${name} Setup ${version}.exe`, deterministicBytes(`${options.product}/${version}/de`, 1024));
  return files;
}

/**
 * A complete MAR as Mozilla builds one: paths relative to the install folder (macOS: the .app,
 * so Contents/Resources/…), application.ini with [App] BuildID and platform.ini with [Build]
 * BuildID, xz-compressed with the x86 filter; a payload entry of the configured size stands
 * for the program files (stored as is: nothing here installs it).
 */
function completeMar(options: MozillaProductOptions, version: string, platform: string, locale: string, faults: SimulatorFaults): Buffer {
  const prefix = platform === 'mac' ? 'Contents/Resources/' : '';
  const buildId = simulatedBuildId(version, platform);
  const name = displayName[options.product];
  const inis = faults.marWithoutBuildId
    ? []
    : [
        { name: `${prefix}application.ini`, bytes: Buffer.from(`[App]\nVendor=Mozilla\nName=${name}\nRemotingName=${options.product}\nVersion=${version.replace(/esr$/u, '')}\nBuildID=${buildId}\n`), compress: true },
        { name: `${prefix}platform.ini`, bytes: Buffer.from(`[Build]\nBuildID=${buildId}\nMilestone=${version.replace(/esr$/u, '')}\n`), compress: true },
      ];
  return writeMar(
    [
      { name: `${prefix}updatev3.manifest`, bytes: Buffer.from(`type "complete"\n${inis.map((ini) => `add "${ini.name}"\n`).join('')}`), compress: true },
      ...inis,
      { name: platform.startsWith('win') ? 'xul.dll' : platform === 'mac' ? 'Contents/MacOS/XUL' : 'libxul.so', bytes: deterministicBytes(`${options.product}/${version}/${platform}/${locale}/mar`, options.fileSize) },
    ],
    { channel: `${options.product}-mozilla-release`, version: version.replace(/esr$/u, '') },
  );
}

/** A build ID as Mozilla writes them (YYYYMMDDhhmmss), derived from the version so that it is stable. */
export function simulatedBuildId(version: string, platform: string): string {
  const digest = createHash('sha256').update(`${version}/${platform}`).digest();
  const day = 1 + (digest[0]! % 28);
  const hour = digest[1]! % 24;
  return `2026${String(1 + (digest[2]! % 12)).padStart(2, '0')}${String(day).padStart(2, '0')}${String(hour).padStart(2, '0')}${String(digest[3]! % 60).padStart(2, '0')}${String(digest[4]! % 60).padStart(2, '0')}`;
}

function hashList(files: Map<string, Buffer>): string {
  return [...files].map(([file, bytes]) => `${createHash('sha512').update(bytes).digest('hex')}  ${file}\n`).join('');
}

/**
 * A local stand-in for vendor origins, speaking their real formats: Mozilla's
 * product-details feed, release folders with SHA512SUMS + detached OpenPGP signature,
 * Debian's signed suite (real fixture) and ClamAV's CVD (real fixture). It serves
 * `Range` like the vendors' CDNs do, and can be told to lie (see SimulatorFaults).
 */
export async function startVendorSimulator(options: SimulatorOptions): Promise<VendorSimulator> {
  const faults: SimulatorFaults = { corrupt: new Set(), missing: new Set(), cutAfterHalf: new Map(), unavailable: new Map() };
  const requests: VendorSimulator['requests'] = [];
  const debian = path.join(options.fixtures, 'debian', 'bookworm-updates');
  const fixtureFiles = new Map<string, string>([
    ['/debian/dists/bookworm-updates/InRelease', path.join(debian, 'InRelease')],
    ['/debian/dists/bookworm-updates/main/binary-amd64/Packages', path.join(debian, 'Packages')],
    // As Debian's archive serves them: the compressed forms a client asks for first (captured unchanged).
    ['/debian/dists/bookworm-updates/main/binary-amd64/Packages.xz', path.join(debian, 'Packages.xz')],
    ['/debian/dists/bookworm-updates/main/i18n/Translation-en.xz', path.join(debian, 'Translation-en.xz')],
    ['/debian/pool/main/c/ca-certificates/ca-certificates_20230311+deb12u1_all.deb', path.join(debian, 'ca-certificates_20230311+deb12u1_all.deb')],
    ['/clamav/bytecode.cvd', path.join(options.fixtures, 'clamav', 'bytecode.cvd')],
  ]);
  const releaseCache = new Map<string, { files: Map<string, Buffer>; sums: string; signatures: Map<string, string> }>();

  async function signature(armoredKey: string, text: string): Promise<string> {
    const signingKeys = await openpgp.readPrivateKey({ armoredKey });
    return openpgp.sign({ message: await openpgp.createMessage({ text }), signingKeys, detached: true, format: 'armored' }) as Promise<string>;
  }

  async function release(version: string) {
    let cached = releaseCache.get(version);
    if (!cached) {
      const files = mozillaFiles(options.mozilla, version, faults);
      cached = { files, sums: hashList(files), signatures: new Map() };
      releaseCache.set(version, cached);
    }
    return cached;
  }

  let syntheticApt: Promise<Map<string, Buffer>> | undefined;
  let aptGeneration = 0;

  const files = new Map<string, Buffer>();

  async function body(urlPath: string): Promise<Buffer | undefined> {
    const extra = files.get(urlPath);
    if (extra) return extra;
    const fixture = fixtureFiles.get(urlPath);
    if (fixture) return readFile(fixture);
    if (urlPath.startsWith('/synthetic-apt/')) {
      syntheticApt ??= syntheticAptSuite(options.mozillaSigningKey, faults.mislistUncompressedPackages === true, aptGeneration);
      return (await syntheticApt).get(urlPath);
    }
    const moz = options.mozilla;
    if (urlPath === `/product-details/1.0/${moz.product}_versions.json`) {
      const key = moz.product === 'firefox' ? 'LATEST_FIREFOX_VERSION' : 'LATEST_THUNDERBIRD_VERSION';
      return Buffer.from(JSON.stringify({ [key]: moz.latest, FIREFOX_ESR: '', FIREFOX_ESR_NEXT: '' }));
    }
    const prefix = `/pub/${moz.product}/releases/`;
    if (!urlPath.startsWith(prefix)) return undefined;
    const [version, ...rest] = urlPath.slice(prefix.length).split('/');
    if (!version || !moz.versions.includes(version)) return undefined;
    const data = await release(version);
    const inside = rest.join('/');
    if (inside === 'SHA512SUMS') return Buffer.from(data.sums);
    if (inside === 'SHA512SUMS.asc') {
      const key = faults.signSumsWith ?? options.mozillaSigningKey;
      let signed = data.signatures.get(key);
      if (!signed) {
        signed = await signature(key, data.sums);
        data.signatures.set(key, signed);
      }
      return Buffer.from(signed);
    }
    return data.files.get(inside);
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestUrl = new URL(request.url ?? '/', 'http://simulator');
    const urlPath = decodeURIComponent(requestUrl.pathname);
    requests.push({ method: request.method ?? 'GET', path: urlPath, range: request.headers.range });
    const unavailable = faults.unavailable.get(urlPath) ?? 0;
    if (unavailable > 0) {
      faults.unavailable.set(urlPath, unavailable - 1);
      response.writeHead(503).end();
      return;
    }
    const withheld = faults.missing.has(urlPath) || faults.missing.has(byHashAliases.get(urlPath) ?? '');
    // Query APIs (MyJVN's ?method=…): a file registered under its path and query answers first.
    let content = withheld ? undefined : ((requestUrl.search ? files.get(`${urlPath}${requestUrl.search}`) : undefined) ?? (await body(urlPath)));
    if (!content) {
      response.writeHead(404).end();
      return;
    }
    if (faults.corrupt.has(urlPath)) {
      content = Buffer.from(content);
      content[Math.floor(content.length / 2)]! ^= 0xff;
    }
    let start = 0;
    let end = content.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/u.exec(request.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      response.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${content.length}`, 'accept-ranges': 'bytes' });
    } else {
      response.writeHead(200, { 'content-length': content.length, 'accept-ranges': 'bytes' });
    }
    const slice = content.subarray(start, end + 1);
    const cuts = faults.cutAfterHalf.get(urlPath) ?? 0;
    if (cuts > 0 && request.method !== 'HEAD') {
      faults.cutAfterHalf.set(urlPath, cuts - 1);
      response.write(slice.subarray(0, Math.floor(slice.length / 2)), () => response.destroy());
      return;
    }
    response.end(request.method === 'HEAD' ? undefined : slice);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    catalogOrigin: simulatorCatalogOrigin,
    options,
    faults,
    files,
    requests,
    republishSyntheticApt: () => {
      aptGeneration += 1;
      syntheticApt = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A small apt suite laid out as Ubuntu's security archive is (test/fixtures/ubuntu/noble-security/InRelease,
 * checked by test/protocols/apt.test.ts): for main/amd64 InRelease lists Packages, Translation-en,
 * cnf/Commands-amd64, dep11 Components-amd64.yml and icons-*.tar each uncompressed and compressed,
 * and Contents-amd64 at the suite root; the archive serves only the compressed forms. Signed by
 * the simulator's vendor key, with all three release files Debian publishes: InRelease
 * (clearsigned), Release and Release.gpg (detached). The real Debian fixture has only InRelease.
 */
/** The by-hash path of a synthetic-apt index; a test withholding the plain path (faults.missing) withholds this one too. */
function byHashPath(name: string, bytes: Buffer): string {
  const path = `/synthetic-apt/dists/stable/${name.includes('/') ? `${name.slice(0, name.lastIndexOf('/'))}/` : ''}by-hash/SHA256/${createHash('sha256').update(bytes).digest('hex')}`;
  byHashAliases.set(path, `/synthetic-apt/dists/stable/${name}`);
  return path;
}
const byHashAliases = new Map<string, string>();

async function syntheticAptSuite(armoredKey: string, mislistUncompressed: boolean, generation: number): Promise<Map<string, Buffer>> {
  const signingKeys = await openpgp.readPrivateKey({ armoredKey });
  const deb = deterministicBytes('synthetic-apt/hello_2.10-3_all.deb', 4096);
  const packages = Buffer.from(
    `Package: hello\nVersion: 2.10-3\nArchitecture: all\nFilename: pool/main/h/hello/hello_2.10-3_all.deb\nSize: ${deb.length}\nSHA256: ${createHash('sha256').update(deb).digest('hex')}\nDescription: example package\n\n` +
      // A later publication of the suite adds a package, as a security archive does.
      (generation > 0 ? `Package: hello-doc\nVersion: 2.10-${generation + 3}\nArchitecture: all\nFilename: pool/main/h/hello/hello-doc_2.10-${generation + 3}_all.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\nDescription: example documentation\n\n` : ''),
  );
  // Formats as in Ubuntu's archive: Translation-en stanzas, command-not-found's deb822 Commands, a DEP-11 YAML header,
  // icon tarballs (an empty tar is 1,024 zero bytes, as Ubuntu's icons-64x64@2.tar), Contents lines.
  const uncompressed = new Map<string, Buffer>([
    ['main/binary-amd64/Packages', packages],
    ['main/i18n/Translation-en', Buffer.from(`Package: hello\nDescription-md5: ${createHash('md5').update('example package\n').digest('hex')}\nDescription-en: example package\n\n`)],
    ['main/cnf/Commands-amd64', Buffer.from('suite: stable\ncomponent: main\narch: amd64\n\nname: hello\nversion: 2.10-3\ncommands: hello\n\n')],
    ['main/dep11/Components-amd64.yml', Buffer.from("---\nFile: DEP-11\nVersion: '0.16'\nOrigin: simulator-stable-main\nMediaBaseUrl: https://vendor-simulator.invalid/media\nPriority: 0\n")],
    ...['48x48', '48x48@2', '64x64', '64x64@2', '128x128', '128x128@2'].map((size): [string, Buffer] => [`main/dep11/icons-${size}.tar`, Buffer.alloc(1024)]),
    ['Contents-amd64', Buffer.from('usr/bin/hello\t\t\t\t\t\t\t    devel/hello\n')],
  ]);
  // A republished suite also lists a pdiff index, as Debian's main archive (bookworm-updates) does; the mirror does not carry pdiffs.
  const pdiffIndex = Buffer.from(`SHA256-Current: ${createHash('sha256').update(packages).digest('hex')} ${packages.length}\nSHA256-History:\nSHA256-Patches:\nSHA256-Download:\n`);
  const compressions: Record<string, string[]> = {
    'main/binary-amd64/Packages': ['.gz', '.xz'], 'main/i18n/Translation-en': ['.gz', '.xz'], 'main/cnf/Commands-amd64': ['.xz'],
    'main/dep11/Components-amd64.yml': ['.gz', '.xz'], 'Contents-amd64': ['.gz'],
  };
  const listed = new Map<string, Buffer>();
  const served = new Map<string, Buffer>();
  for (const [name, bytes] of uncompressed) {
    listed.set(name, bytes);
    for (const suffix of compressions[name] ?? ['.gz']) {
      const compressed = suffix === '.xz' ? xz.compressSync(bytes) : gzipSync(bytes);
      listed.set(`${name}${suffix}`, compressed);
      served.set(`${name}${suffix}`, compressed);
    }
  }
  if (generation > 0) {
    listed.set('main/binary-amd64/Packages.diff/Index', pdiffIndex);
    served.set('main/binary-amd64/Packages.diff/Index', pdiffIndex);
  }
  const entries = [...listed]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, bytes]) => {
      const hash = mislistUncompressed && name === 'main/binary-amd64/Packages' ? createHash('sha256').update('something else').digest('hex') : createHash('sha256').update(bytes).digest('hex');
      return ` ${hash} ${bytes.length} ${name}\n`;
    })
    .join('');
  const release =
    `Origin: Simulator\nLabel: Simulator\nSuite: stable\nCodename: stable\nDate: ${new Date(Date.now() - 3_600_000 + generation * 1000).toUTCString()}\n` +
    `Valid-Until: ${new Date(Date.now() + 7 * 86_400_000).toUTCString()}\nAcquire-By-Hash: yes\nArchitectures: amd64 all\nComponents: main\nSHA256:\n${entries}`;
  const clearsigned = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: release }), signingKeys });
  const detached = await openpgp.sign({ message: await openpgp.createMessage({ text: release }), signingKeys, detached: true, format: 'armored' });
  return new Map([
    ['/synthetic-apt/dists/stable/InRelease', Buffer.from(clearsigned)],
    ['/synthetic-apt/dists/stable/Release', Buffer.from(release)],
    ['/synthetic-apt/dists/stable/Release.gpg', Buffer.from(detached as string)],
    ...[...served].map(([name, bytes]): [string, Buffer] => [`/synthetic-apt/dists/stable/${name}`, bytes]),
    // Acquire-By-Hash: yes, as Ubuntu's and Debian's archives: every served index also under <dir>/by-hash/SHA256/<sha256>.
    ...[...served].map(([name, bytes]): [string, Buffer] => [byHashPath(name, bytes), bytes]),
    ['/synthetic-apt/pool/main/h/hello/hello_2.10-3_all.deb', deb],
  ]);
}

/** A throwaway vendor signing key (the demo makes one at first run; tests make one per run). */
export async function generateVendorKey(name: string): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name, email: 'release@vendor-simulator.invalid' }], format: 'armored' });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { privateKey, publicKey, fingerprint: key.getFingerprint().toUpperCase() };
}
