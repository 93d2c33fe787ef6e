import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Environment } from './environment.ts';

const run = promisify(execFile);

/** A catalog folder with one entry: the simulator's apt suite (signed by the run's vendor key), mirror "simulator". */
export async function syntheticAptCatalog(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'synthetic.yaml'),
    stringify({
      id: 'simulator-stable', name: 'Simulator stable suite', vendor: 'Simulator', scheme: 'dotted', trust: 'vendor-signature',
      source: { type: 'apt', mirror: 'simulator', baseUrl: 'https://vendor-simulator.invalid/synthetic-apt/', suite: 'stable', packages: ['hello'], signingKey: 'simulator-archive' },
    }),
  );
  return directory;
}

/** The suite as an apt client names it, with the vendor's key as a binary keyring for signed-by=. */
export async function syntheticAptSuite(environment: Pick<Environment, 'root' | 'vendorKey'>): Promise<{ keyring: string; mirror: string; name: string }> {
  const keyring = path.join(environment.root, 'simulator-archive.gpg');
  await writeFile(path.join(environment.root, 'simulator-archive.asc'), environment.vendorKey.publicKey);
  await run('gpg', ['--batch', '--yes', '--dearmor', '--output', keyring, path.join(environment.root, 'simulator-archive.asc')]);
  return { keyring, mirror: 'simulator', name: 'stable' };
}
