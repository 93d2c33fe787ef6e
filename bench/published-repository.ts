import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { createEnvironment } from '../test/helpers/environment.ts';
import { startProcess } from './tools.ts';

type Environment = Awaited<ReturnType<typeof createEnvironment>>;

/**
 * Fetches and imports the simulator's products, then starts the repository in its own
 * process (so its memory can be read from /proc). It runs as behind the edge cache
 * (addresses from X-Forwarded-For) and, because each simulated agent checks in far more
 * often than hourly, with the per-agent limit lifted: the benchmarks measure throughput.
 */
export async function startPublishedRepository(environment: Environment) {
  await (await environment.openInternet()).runOnce();
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> };
  Object.assign(config.lgwan, { trustProxy: true, checkInsPerMinute: 100_000 });
  await writeFile(configFile, stringify(config));
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  await lgwan.close();
  const repository = await startProcess(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'repository-process.ts'), configFile, '0'], /ready (http:\/\/\S+)/u);
  return { child: repository.child, url: repository.match[1]! };
}
