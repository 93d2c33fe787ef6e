import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { createEnvironment } from '../test/helpers/environment.ts';
import { startServe, type ServeProcess } from './serve-process.ts';

type Environment = Awaited<ReturnType<typeof createEnvironment>>;

/**
 * Fetches and imports the simulator's products into the environment's LGWAN data root and
 * returns its config file, set up as the repository runs behind the edge cache (addresses
 * from X-Forwarded-For) and, because each simulated agent checks in far more often than
 * hourly, with the per-agent limit lifted: the benchmarks measure throughput.
 * lgwan.workers stays at its default (auto), as in production.
 */
export async function publishSimulatorProducts(environment: Environment, lgwanFields: Record<string, unknown> = {}): Promise<string> {
  await (await environment.openInternet()).runOnce();
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> };
  Object.assign(config.lgwan, { trustProxy: true, checkInsPerMinute: 100_000, ...lgwanFields });
  await writeFile(configFile, stringify(config));
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  await lgwan.close();
  return configFile;
}

/**
 * A copy of the LGWAN data root beside the first, with its own config file that differs by
 * `lgwan` fields (e.g. `workers: 1`): two repositories cannot share a data root (each primary
 * locks its own), yet a comparison needs both running to interleave. Copy it while neither runs.
 */
export async function copyDataRoot(configFile: string, name: string, lgwan: Record<string, unknown>): Promise<string> {
  const folder = path.dirname(configFile);
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> & { storage: string } };
  await cp(path.resolve(folder, config.lgwan.storage), path.join(folder, name), { recursive: true });
  Object.assign(config.lgwan, { ...lgwan, storage: name });
  const copy = path.join(folder, `lgwan-mirror-${name}.yaml`);
  await writeFile(copy, stringify(config));
  return copy;
}

/** The published simulator products served by `lgwan-mirror serve` as production runs it (compiled, lgwan.workers auto). */
export async function startPublishedRepository(environment: Environment, lgwan: Record<string, unknown> = {}): Promise<ServeProcess> {
  return startServe(await publishSimulatorProducts(environment, lgwan));
}
