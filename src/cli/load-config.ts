import type { Config } from '../config/config.ts';

/**
 * The config loader, with YAML, zod and every schema, loads with the first config a command
 * reads, not with the command line: `serve` forks its workers before that (issue 18).
 */
export async function loadConfig(file: string | undefined): Promise<Config> {
  return (await import('../config/config.ts')).loadConfig(file);
}
