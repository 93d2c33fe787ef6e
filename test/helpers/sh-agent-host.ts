import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from './environment.ts';

const run = promisify(execFile);
export const shAgentScript = path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.sh');

/**
 * A Linux host for the real sh agent: its "Firefox" is a version file and its install command
 * copies the verified file; it enrolls with `enrollmentToken`, reporting `tags` if given.
 */
export async function shAgentHost(root: string, repositoryUrl: string, installedVersion: string, enrollmentToken: string, options: { tags?: string } = {}) {
  const directory = root;
  await mkdir(path.join(directory, 'installed'), { recursive: true });
  await writeFile(path.join(directory, 'firefox.version'), `${installedVersion}\n`);
  const config = path.join(directory, 'lgwan-agent.conf');
  await writeFile(
    config,
    `LGWAN_REPOSITORY=${repositoryUrl}
LGWAN_ENROLLMENT_TOKEN=${enrollmentToken}
LGWAN_STATE_DIR=${directory}/state
LGWAN_PRODUCTS='
demo-firefox|linux-x86_64|ja|cat ${directory}/firefox.version|cp "{file}" ${directory}/installed/firefox-{version}.tar.xz && printf %s {version} > ${directory}/firefox.version
'
${options.tags === undefined ? '' : `LGWAN_TAGS="${options.tags}"\n`}`,
  );
  const runAgent = async () => {
    try {
      await run('sh', [shAgentScript, config], { timeout: 60_000 });
      return 0;
    } catch (error) {
      return (error as { code: number }).code;
    }
  };
  return {
    directory,
    config,
    runAgent,
    installedVersion: async () => (await readFile(path.join(directory, 'firefox.version'), 'utf8')).trim(),
    log: () => readFile(path.join(directory, 'state', 'agent.log'), 'utf8'),
  };
}
