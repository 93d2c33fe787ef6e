import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Artifact } from '../bundle/manifest.ts';
import type { LgwanConfig } from '../config/config.ts';
import { IntegrityError, UserFacingError } from '../core/errors.ts';
import { readLgwanState } from '../importer/lgwan-state.ts';
import { HashingFileSink, type BlobDigests } from '../store/blob-store.ts';
import { BlobStore } from '../store/index.ts';
import { compareVersions } from '../versions/index.ts';
import { releaseDebName, releaseListName, releasePackage, releaseSignatureName } from '../verify/lgwan-mirror-release.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';
import { verifyArtifacts, type BlobAccess } from '../verify/verify-artifacts.ts';
import { packageVersion } from './project-paths.ts';

/*
 * `lgwan-mirror upgrade` on the LGWAN host: installs a newer lgwan-mirror from what the LGWAN
 * side itself published (catalogs/lgwan-mirror.yaml carried it through the spool), offline.
 * It reads the published state only (no storage lock: the service keeps running until dpkg's
 * postinst restarts it, and the restarted service migrates its data root, storage-format.ts).
 */

/** Exit codes, as `lgwan-mirror upgrade --help` and docs/operations.md state them. */
export const upgradeExitCodes = { installed: 0, failed: 1, notNewer: 2 } as const;

const dpkgArguments = (file: string): string[] => ['--force-confold', '--install', file];
const run = promisify(execFile);

export interface UpgradeOptions {
  config: LgwanConfig;
  /** The release to install; default: the newest published one. */
  version?: string;
  dryRun: boolean;
  /** Where the private copies are checked and installed from (default: the system temporary folder). */
  scratch?: string;
  /** The running program's version (what `lgwan-mirror --version` prints). */
  installed?: string;
  print?: (line: string) => void;
}

/** The published .deb of each lgwan-mirror version, with the SHA256SUMS and signature it is checked by. */
function publishedReleases(artifacts: readonly Artifact[]): Map<string, { deb: Artifact; sums: Artifact; signature: Artifact }> {
  const bySha256 = new Map(artifacts.map((artifact) => [artifact.sha256, artifact]));
  const releases = new Map<string, { deb: Artifact; sums: Artifact; signature: Artifact }>();
  for (const deb of artifacts) {
    if (deb.productId !== releasePackage || deb.verification.method !== 'lgwan-mirror-release' || deb.fileName !== releaseDebName(deb.version)) continue;
    const sums = bySha256.get(deb.verification.sums);
    const signature = bySha256.get(deb.verification.signature);
    if (sums && signature) releases.set(deb.version, { deb, sums, signature });
  }
  return releases;
}

/** A private copy of a published blob (root's, 0600): what is checked is what dpkg reads, whatever the service user does meanwhile. */
async function privateCopy(store: BlobStore, artifact: Artifact, folder: string): Promise<{ file: string; digests: BlobDigests }> {
  const source = store.pathOf(artifact.sha256);
  const file = path.join(folder, artifact.fileName);
  const handle = await open(file, 'wx', 0o600);
  const sink = new HashingFileSink(handle, { maxBytes: Number.MAX_SAFE_INTEGER, what: source });
  try {
    await pipeline(createReadStream(source).on('error', (error) => sink.destroy(error)), sink);
  } finally {
    await handle.close();
  }
  const digests = await sink.digests();
  sink.release();
  if (digests.sha256 !== artifact.sha256 || digests.size !== artifact.size) {
    throw new IntegrityError(
      `${source} (${artifact.path}): sha256 ${digests.sha256} (${digests.size} bytes) differs from the published manifest's ${artifact.sha256} (${artifact.size} bytes): the stored file changed after it was imported. Nothing was installed; run "lgwan-mirror store check --side lgwan" and restore the file (the carousel sends it again)`,
      { file: source, field: 'sha256' },
    );
  }
  return { file, digests };
}

async function dpkgVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('dpkg-query', ['--show', '--showformat=${Version}', releasePackage]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Returns the exit code (upgradeExitCodes); throws UserFacingError for what the admin must fix. */
export async function upgradeFromPublished(options: UpgradeOptions): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const installed = options.installed ?? packageVersion();
  const storage = options.config.storage;
  const stateFile = path.join(storage, 'state.json');
  if (!(await stat(stateFile).catch(() => undefined))?.isFile()) {
    throw new UserFacingError('E_CONFIG_INVALID', `${stateFile}: no LGWAN state there (lgwan.storage in the config): "lgwan-mirror upgrade" runs on the LGWAN host, after an import published a release`, { details: { file: stateFile } });
  }
  const state = await readLgwanState(stateFile);
  const releases = publishedReleases(state.published?.artifacts ?? []);
  const scheme = state.published?.products.find((product) => product.id === releasePackage)?.scheme ?? 'semver';
  const versions = [...releases.keys()].sort((a, b) => compareVersions(scheme, b, a));
  if (versions.length === 0) {
    throw new UserFacingError('E_USAGE', `${stateFile}: no ${releasePackage} release is published on this side. The internet side carries the releases dropped into the folder of its catalogs/lgwan-mirror.yaml (source.folder); import the bundle first (docs/operations.md, "Upgrading")`, { details: { file: stateFile } });
  }
  const target = options.version ?? versions[0]!;
  const release = releases.get(target);
  if (!release) {
    throw new UserFacingError('E_USAGE', `--version ${target}: not published on this side (${stateFile} publishes ${releasePackage} ${versions.join(', ')})`, { details: { file: stateFile, field: 'version' } });
  }
  const order = compareVersions(scheme, target, installed);
  if (order === 0) {
    print(`lgwan-mirror: already at ${installed}${options.version ? '' : ' (the newest published release)'}: nothing installed`);
    return upgradeExitCodes.notNewer;
  }
  if (order < 0) {
    print(options.version ? `lgwan-mirror: ${target} is older than the installed ${installed}: downgrade refused, nothing installed (going back means restoring the backup taken before the upgrade: docs/operations.md)` : `lgwan-mirror: already at ${installed}; the newest published release, ${target}, is older: nothing installed`);
    return upgradeExitCodes.notNewer;
  }
  if (!options.dryRun) {
    if (process.getuid?.() !== 0) throw new UserFacingError('E_USAGE', 'lgwan-mirror upgrade installs a package: run it as root (sudo lgwan-mirror upgrade …), or add --dry-run to check only');
    const packaged = await dpkgVersion();
    if (packaged !== installed) {
      throw new UserFacingError('E_USAGE', packaged === undefined
        ? `this lgwan-mirror ${installed} is not installed from the Debian package (dpkg knows no ${releasePackage}): install ${releaseDebName(target)} the way this copy was installed`
        : `this lgwan-mirror is ${installed}, the installed Debian package ${packaged}: run /usr/bin/lgwan-mirror upgrade`);
    }
  }

  const keyring = await PinnedKeyring.load(options.config.keys);
  const store = new BlobStore(path.join(storage, 'blobs'));
  const folder = await mkdtemp(path.join(options.scratch ?? tmpdir(), 'lgwan-mirror-upgrade-'));
  try {
    const copies = new Map<string, { file: string; digests: BlobDigests }>();
    for (const artifact of [release.sums, release.signature, release.deb]) copies.set(artifact.sha256, await privateCopy(store, artifact, folder));
    // Only the private copies are read: never the store again, which the service user can write.
    const copyOf = (sha256: string): string => {
      const copy = copies.get(sha256);
      if (!copy) throw new IntegrityError(`blob ${sha256} is not part of release ${target}`, { sha256 });
      return copy.file;
    };
    const access: BlobAccess = {
      digests: async (sha256) => copies.get(sha256)?.digests,
      read: async (sha256) => readFile(copyOf(sha256)),
      file: async (sha256) => copyOf(sha256),
    };
    // The same checks the importer ran: the signature by this host's pinned release key, the list, the .deb's own version.
    await verifyArtifacts([release.sums, release.signature, release.deb], access, keyring);
    const deb = copies.get(release.deb.sha256)!.file;
    print(`lgwan-mirror: ${releaseDebName(target)} verified: sha256 ${release.deb.sha256} as published (bundle ${state.published?.sequence ?? '?'}), listed in ${releaseListName} signed by the pinned release key "${release.deb.verification.method === 'lgwan-mirror-release' ? release.deb.verification.key : '?'}" (${releaseSignatureName}), control Version ${target}`);
    if (options.dryRun) {
      print(`lgwan-mirror: would upgrade ${installed} → ${target}: dpkg ${dpkgArguments(releaseDebName(target)).join(' ')} (--dry-run: nothing installed)`);
      return upgradeExitCodes.installed;
    }
    print(`lgwan-mirror: upgrading ${installed} → ${target}: dpkg ${dpkgArguments(releaseDebName(target)).join(' ')}`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('dpkg', dpkgArguments(deb), { stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (exit, signal) => resolve(exit ?? (signal ? 128 : 1)));
    });
    const now = await dpkgVersion();
    if (code !== 0 || now !== target) {
      throw new UserFacingError('E_USAGE', `dpkg ${dpkgArguments(releaseDebName(target)).join(' ')} failed (exit ${code}); the installed package is ${now ?? 'unknown'}: see dpkg's messages above`);
    }
    print(`lgwan-mirror: installed ${target} (was ${installed}). Running services restart and migrate their data roots (storage-format.json); check with "lgwan-mirror --version" and "lgwan-mirror status"`);
    return upgradeExitCodes.installed;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
