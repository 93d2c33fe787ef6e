import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './environment.ts';

const run = promisify(execFile);
export const shAgentScript = path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.sh');

export interface ShAgentHostOptions {
  /** The install command (default: copy the verified file and write its version, printing "unpacked <version>"). */
  install?: string;
  /** Tags the agent reports (LGWAN_TAGS). */
  tags?: string;
  /** More lines of the agent's config. */
  extra?: string;
}

/**
 * A Linux host for the real sh agent in `directory`: its "Firefox" is a version file and its
 * install command copies the verified file; it enrolls with `enrollmentToken`.
 */
export async function shAgentHost(directory: string, repositoryUrl: string, installedVersion: string, enrollmentToken: string, options: ShAgentHostOptions = {}) {
  await mkdir(path.join(directory, 'installed'), { recursive: true });
  await writeFile(path.join(directory, 'firefox.version'), `${installedVersion}\n`);
  const install = options.install ?? `cp "{file}" ${directory}/installed/firefox-{version}.tar.xz && printf %s {version} > ${directory}/firefox.version && echo "unpacked {version}"`;
  const config = path.join(directory, 'lgwan-agent.conf');
  await writeFile(
    config,
    `LGWAN_REPOSITORY=${repositoryUrl}
LGWAN_ENROLLMENT_TOKEN=${enrollmentToken}
LGWAN_STATE_DIR=${directory}/state
LGWAN_PRODUCTS='
demo-firefox|linux-x86_64|ja|cat ${directory}/firefox.version|${install}
'
${options.tags === undefined ? '' : `LGWAN_TAGS="${options.tags}"\n`}${options.extra ?? ''}`,
  );
  const log = () => readFile(path.join(directory, 'state', 'agent.log'), 'utf8');
  let logged = 0;
  return {
    directory,
    config,
    async runAgent() {
      try {
        await run('sh', [shAgentScript, config], { timeout: 60_000 });
        return 0;
      } catch (error) {
        return (error as { code: number }).code;
      }
    },
    /** The version the host's "Firefox" is at now. */
    version: async () => (await readFile(path.join(directory, 'firefox.version'), 'utf8')).trim(),
    log,
    /** The log lines written since the last call. */
    async newLog() {
      const text = await log();
      const fresh = text.slice(logged);
      logged = text.length;
      return fresh;
    },
  };
}
