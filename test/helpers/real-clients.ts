import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fixtures, projectRoot } from './environment.ts';
import { inNetwork, type EndpointNetwork } from './endpoint-network.ts';
import { runClient } from './published-repository.ts';

/** Packages a stock host may have installed that add apt index targets (their own apt.conf.d file, unchanged). */
export type AptTargetPackage = 'appstream' | 'command-not-found';

const packageConfig: Record<AptTargetPackage, string> = {
  // Debian bookworm's appstream 0.16.1-2: DEP-11 Components and 64x64 icons on by default.
  appstream: 'debian-appstream_0.16.1-2.50appstream',
  // Ubuntu noble's command-not-found 23.04.0: cnf/Commands-<arch> on by default.
  'command-not-found': 'ubuntu-command-not-found_23.04.0.50command-not-found',
};

export interface AptClientOptions {
  /** A deb822 .sources file to use as shipped instead of the one-line list (for deploy/clients/apt). */
  sources?: string;
  /** Packages whose apt.conf.d file the host has, as a stock install of them would. */
  installed?: AptTargetPackage[];
  /** An HTTP proxy apt sends every request to: lets a shipped file name its real host. */
  proxy?: string;
  /** Run inside this network namespace, so the repository sees its address (rings by address). */
  network?: EndpointNetwork;
}

/**
 * The real apt-get as a stock host runs it: apt's built-in defaults (so Translation-en is
 * fetched, Valid-Until is checked, indices are stored as apt stores them) plus only the
 * apt.conf.d files of packages named in `installed`, and signature checking on: signed-by=
 * the vendor's keyring, no trusted=yes, no check-valid-until=no.
 *
 * Deviations, none of which changes what is fetched:
 * - APT_CONFIG names a private file that moves Dir::Etc, Dir::State and Dir::Cache into the
 *   test's folder, so that this machine's own apt.conf.d (a build machine's: Languages none,
 *   Check-Valid-Until false, GzipIndexes, DEP-11 off) is never read and nothing of the
 *   machine's apt state is written;
 * - APT::Sandbox::User=root: the test runs as root in a folder the _apt user cannot enter;
 * - Debug::NoLocking: the private tree has no other apt process to exclude;
 * - APT::Architecture=amd64: the native architecture of a municipal PC, stated so that the
 *   test does not depend on the machine's;
 * - the packages' APT::Update::Post-Invoke-Success hooks are cleared: they would rebuild the
 *   machine's appstream or command-not-found caches, after everything was fetched.
 */
export async function aptGet(
  root: string,
  repository: string,
  args: string[],
  suite: { keyring: string; mirror: string; name: string } = { keyring: path.join(projectRoot, 'catalogs', 'keys', 'debian-archive-keyring.gpg'), mirror: 'debian', name: 'bookworm-updates' },
  options: AptClientOptions = {},
): Promise<{ code: number; output: string; cwd: string }> {
  const base = path.join(root, 'apt');
  for (const folder of ['etc/apt/sources.list.d', 'etc/apt/preferences.d', 'etc/apt/apt.conf.d', 'etc/apt/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'downloads']) {
    await mkdir(path.join(base, folder), { recursive: true });
  }
  await writeFile(path.join(base, 'status'), '');
  if (options.sources === undefined) {
    await writeFile(path.join(base, 'etc/apt/sources.list'), `deb [signed-by=${suite.keyring}] ${repository}/apt/${suite.mirror} ${suite.name} main\n`);
  } else {
    await writeFile(path.join(base, 'etc/apt/sources.list'), '');
    await writeFile(path.join(base, 'etc/apt/sources.list.d/lgwan-mirror.sources'), options.sources);
  }
  for (const name of options.installed ?? []) {
    await copyFile(path.join(fixtures, 'apt-conf', packageConfig[name]), path.join(base, 'etc/apt/apt.conf.d', `50${name}`));
  }
  const mainConfig = path.join(base, 'apt.conf');
  await writeFile(
    mainConfig,
    [
      `Dir::Etc "${base}/etc/apt";`,
      `Dir::State "${base}/state";`,
      `Dir::State::status "${base}/status";`,
      `Dir::Cache "${base}/cache";`,
      '',
    ].join('\n'),
  );
  const hooks = path.join(base, 'no-hooks.conf');
  await writeFile(hooks, '#clear APT::Update::Post-Invoke-Success;\n');
  const settings = ['APT::Sandbox::User=root', 'Debug::NoLocking=1', 'APT::Architecture=amd64', ...(options.proxy ? [`Acquire::http::Proxy=${options.proxy}`] : [])];
  const cwd = path.join(base, 'downloads');
  const command: [string, string[]] = ['apt-get', ['-c', hooks, ...settings.flatMap((option) => ['-o', option]), ...args]];
  const result = await runClient(...(options.network ? inNetwork(options.network, ...command) : command), { cwd, env: { APT_CONFIG: mainConfig } });
  return { ...result, cwd };
}

/**
 * The real freshclam from Debian's clamav-freshclam, pointed at the repository with PrivateMirror,
 * with the settings deploy/clients/clamav/freshclam.conf ships (DNSDatabaseInfo no, ScriptedUpdates no).
 * One deviation changes what is fetched, and is known: ExcludeDatabase daily and main. The only
 * real ClamAV-signed CVD small enough to keep in the repository is the 79 KB bytecode.cvd; real
 * main and daily are 60–160 MB, and freshclam checks each against ClamAV's built-in key, so
 * no test can make them. A stock freshclam would ask for all three.
 */
export async function freshclam(root: string, mirror: string, directive: 'PrivateMirror' | 'DatabaseMirror' = 'PrivateMirror', network?: EndpointNetwork): Promise<{ code: number; output: string; database: string }> {
  const database = path.join(root, 'clamav-db');
  await mkdir(database, { recursive: true });
  const config = path.join(root, 'freshclam.conf');
  await writeFile(
    config,
    [
      `DatabaseDirectory ${database}`,
      `UpdateLogFile ${path.join(root, 'freshclam.log')}`,
      'DatabaseOwner root',
      `${directive} ${mirror}`,
      'ExcludeDatabase daily',
      'ExcludeDatabase main',
      'ScriptedUpdates no',
      'DNSDatabaseInfo no',
      'Foreground yes',
      '',
    ].join('\n'),
  );
  const command: [string, string[]] = ['freshclam', [`--config-file=${config}`]];
  return { ...(await runClient(...(network ? inNetwork(network, ...command) : command))), database };
}
