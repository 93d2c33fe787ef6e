import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from './environment.ts';
import { runClient } from './published-repository.ts';

/**
 * The real apt-get with its own Dir:: tree (nothing of the machine's apt configuration is
 * read or written), signature checking on: signed-by= Debian's keyring, no trusted=yes,
 * no check-valid-until=no.
 */
export async function aptGet(
  root: string,
  repository: string,
  args: string[],
  suite: { keyring: string; mirror: string; name: string } = { keyring: path.join(projectRoot, 'catalogs', 'keys', 'debian-archive-keyring.gpg'), mirror: 'debian', name: 'bookworm-updates' },
): Promise<{ code: number; output: string; cwd: string }> {
  const base = path.join(root, 'apt');
  for (const folder of ['etc/apt/sources.list.d', 'etc/apt/preferences.d', 'etc/apt/apt.conf.d', 'etc/apt/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'downloads']) {
    await mkdir(path.join(base, folder), { recursive: true });
  }
  await writeFile(path.join(base, 'status'), '');
  await writeFile(path.join(base, 'etc/apt/sources.list'), `deb [signed-by=${suite.keyring}] ${repository}/apt/${suite.mirror} ${suite.name} main\n`);
  const options = [
    `Dir::Etc=${base}/etc/apt`,
    `Dir::State=${base}/state`,
    `Dir::State::status=${base}/status`,
    `Dir::Cache=${base}/cache`,
    'APT::Sandbox::User=root',
    'Debug::NoLocking=1',
    'APT::Architecture=amd64',
    'APT::Architectures::=amd64',
    'Acquire::Languages=none',
  ].flatMap((option) => ['-o', option]);
  const cwd = path.join(base, 'downloads');
  return { ...(await runClient('apt-get', [...options, ...args], { cwd })), cwd };
}

/** The real freshclam from Debian's clamav-freshclam, pointed at the repository with PrivateMirror. */
export async function freshclam(root: string, mirror: string, directive: 'PrivateMirror' | 'DatabaseMirror' = 'PrivateMirror'): Promise<{ code: number; output: string; database: string }> {
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
  return { ...(await runClient('freshclam', [`--config-file=${config}`])), database };
}
