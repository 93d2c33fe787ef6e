import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The installed project's root (where catalogs/ and test/fixtures/ live), wherever the command runs from. */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const binPath = fileURLToPath(new URL('../../bin/lgwan-mirror.js', import.meta.url));

/** The version in the installed package.json (what `--version` prints and release notes name). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
