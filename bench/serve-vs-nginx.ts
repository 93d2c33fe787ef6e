import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateTransferKeyPair } from '../src/bundle/transfer-key.ts';
import type { Artifact } from '../src/bundle/manifest.ts';
import { openLgwanState } from '../src/importer/lgwan-state.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { curlSpeed, median, memoryOf, startProcess, startStaticNginx, wrk } from './tools.ts';

const mib = 1024 * 1024;

async function writeBlob(store: BlobStore, seed: string, size: number): Promise<{ sha256: string; size: number; file: string }> {
  const temporary = path.join(path.dirname(store.root), `${seed}.tmp`);
  const hash = createHash('sha256');
  const out = createWriteStream(temporary);
  for (let offset = 0; offset < size; offset += 4 * mib) {
    const chunk = randomBytes(Math.min(4 * mib, size - offset));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  const sha256 = hash.digest('hex');
  const file = await store.adopt(temporary, { sha256, size, sha512: '' }, { what: seed });
  return { sha256, size, file };
}

function artifact(fileName: string, blob: { sha256: string; size: number }): Artifact {
  return {
    productId: 'bench', version: '1.0', platform: 'any', locale: 'any', fileName, path: `pool/bench/1.0/any/any/${fileName}`,
    size: blob.size, sha256: blob.sha256, role: 'payload', verification: { method: 'manual-confirmation' },
  };
}

/**
 * Serves the same large file and the same small API response from the LGWAN repository
 * and from nginx on 127.0.0.1, under the same load generators, and reports the ratios and
 * the repository's memory, which must not grow with the size of the file served.
 */
export async function benchServing(options: { largeMiB: number; seconds: number }): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-'));
  try {
    const storage = path.join(root, 'lgwan');
    const store = new BlobStore(path.join(storage, 'blobs'));
    await mkdir(path.join(storage, 'blobs'), { recursive: true });
    console.log(`preparing a ${options.largeMiB} MiB and a 16 MiB file …`);
    const large = await writeBlob(store, 'large', options.largeMiB * mib);
    const medium = await writeBlob(store, 'medium', 16 * mib);
    const database = await openLgwanState(path.join(storage, 'state.json'));
    const products = [{ id: 'bench', name: 'Benchmark product', vendor: 'bench', scheme: 'dotted' as const, trust: 'tls-only' as const, retention: 1, latestSeen: { version: '1.0', firstSeenAt: new Date().toISOString() }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } }];
    database.data.published = { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date().toISOString(), publishedAt: new Date().toISOString(), products, artifacts: [artifact('large.bin', large), artifact('medium.bin', medium)] };
    await database.write();
    await generateTransferKeyPair(path.join(root, 'transfer-key.pem'), path.join(storage, 'transfer-key.pub.pem'));
    const configFile = path.join(root, 'config.yaml');
    await writeFile(configFile, stringify({ lgwan: { storage, keys: [], spool: path.join(root, 'spool') } }));

    const repository = await startProcess(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'repository-process.ts'), configFile, '0'], /ready (http:\/\/\S+)/u);
    repository.child.stderr!.on('data', (d: Buffer) => process.env.BENCH_DEBUG && process.stderr.write(d));
    const repositoryUrl = repository.match[1]!;
    const pid = repository.child.pid!;

    // nginx serves the very same files (hard links) and a copy of the API answer.
    const nginxRoot = path.join(root, 'nginx-root');
    await mkdir(path.join(nginxRoot, 'pool/bench/1.0/any/any'), { recursive: true });
    await mkdir(path.join(nginxRoot, 'api/v1'), { recursive: true });
    await link(large.file, path.join(nginxRoot, 'pool/bench/1.0/any/any/large.bin'));
    await link(medium.file, path.join(nginxRoot, 'pool/bench/1.0/any/any/medium.bin'));
    const apiBody = await (await fetch(`${repositoryUrl}/api/v1/products`)).text();
    await writeFile(path.join(nginxRoot, 'api/v1/products'), apiBody);
    const nginx = await startStaticNginx(root, nginxRoot, { types: 'types { application/json products; }' });
    const nginxUrl = nginx.url;

    try {
      const idle = memoryOf(pid);
      const largePath = '/pool/bench/1.0/any/any/large.bin';
      const mediumPath = '/pool/bench/1.0/any/any/medium.bin';
      const rows: string[][] = [];
      const ratio = (ours: number, theirs: number) => (ours / theirs).toFixed(2);

      // Memory against file size: the peak after serving 16 MiB, then after serving the large file.
      for (let index = 0; index < 3; index += 1) curlSpeed(`${repositoryUrl}${mediumPath}`);
      const afterMedium = memoryOf(pid);
      const oursLarge = median([0, 1, 2].map(() => curlSpeed(`${repositoryUrl}${largePath}`)));
      const afterLarge = memoryOf(pid);
      const nginxLarge = median([0, 1, 2].map(() => curlSpeed(`${nginxUrl}${largePath}`)));
      rows.push([`${options.largeMiB} MiB file, one curl (MB/s)`, (oursLarge / 1e6).toFixed(0), (nginxLarge / 1e6).toFixed(0), ratio(oursLarge, nginxLarge)]);

      const oursParallel = wrk(`${repositoryUrl}${mediumPath}`, { threads: 2, connections: 8, seconds: options.seconds });
      const nginxParallel = wrk(`${nginxUrl}${mediumPath}`, { threads: 2, connections: 8, seconds: options.seconds });
      rows.push(['16 MiB file, wrk 8 connections (MB/s)', (oursParallel.bytesPerSecond / 1e6).toFixed(0), (nginxParallel.bytesPerSecond / 1e6).toFixed(0), ratio(oursParallel.bytesPerSecond, nginxParallel.bytesPerSecond)]);

      const oursSmall = wrk(`${repositoryUrl}/api/v1/products`, { threads: 2, connections: 100, seconds: options.seconds });
      const nginxSmall = wrk(`${nginxUrl}/api/v1/products`, { threads: 2, connections: 100, seconds: options.seconds });
      rows.push([`API response ${apiBody.length} B, wrk 100 connections (req/s)`, oursSmall.requestsPerSecond.toFixed(0), nginxSmall.requestsPerSecond.toFixed(0), ratio(oursSmall.requestsPerSecond, nginxSmall.requestsPerSecond)]);
      rows.push(['  p50 / p99 latency (ms)', `${oursSmall.latencyP50Ms.toFixed(2)} / ${oursSmall.latencyP99Ms.toFixed(2)}`, `${nginxSmall.latencyP50Ms.toFixed(2)} / ${nginxSmall.latencyP99Ms.toFixed(2)}`, '']);
      const errors = oursSmall.errors + oursParallel.errors;

      console.log('\nServing: LGWAN repository (Koa) vs nginx (sendfile), same files, same load, 127.0.0.1');
      console.log(['measure', 'repository', 'nginx', 'ratio'].join('\t'));
      for (const row of rows) console.log(row.join('\t'));
      console.log(`repository errors under load: ${errors}`);
      console.log(`\nRepository memory (MiB): idle RSS ${idle.rssMiB.toFixed(0)}, peak after 16 MiB downloads ${afterMedium.peakMiB.toFixed(0)}, peak after ${options.largeMiB} MiB downloads ${afterLarge.peakMiB.toFixed(0)}`);
      const growth = afterLarge.peakMiB - afterMedium.peakMiB;
      console.log(`peak growth from a 16 MiB to a ${options.largeMiB} MiB file: ${growth.toFixed(1)} MiB (${growth < 32 ? 'flat: streamed, not buffered' : 'GROWS WITH FILE SIZE'})`);
      const size = (await stat(large.file)).size;
      if (size !== options.largeMiB * mib) throw new Error('large file has the wrong size');
    } finally {
      repository.child.kill();
      nginx.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
