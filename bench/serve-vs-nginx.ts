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
import { printMachine } from './machine.ts';
import { startServe } from './serve-process.ts';
import { curlSpeed, interleaved, processTree, ratios, spread, spreadLabel, startFront, startStaticNginx, treeCpuSeconds, warmupSeconds, wrk, type WrkResult } from './tools.ts';

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
 * Serves the same files and the same small API answer from the LGWAN repository (as
 * production runs it: `lgwan-mirror serve` compiled, lgwan.workers auto), from nginx on
 * 127.0.0.1 (the reference: a master and worker_processes auto, sendfile) and from the
 * repository behind the shipped nginx front (X-Accel-Redirect), runs interleaved (ours, nginx, front, ours…); reports the ratios, the
 * server CPU per large download (every process of each server), and the repository's memory
 * (summed over its processes), which must not grow with the size of the file served. Every
 * figure min / median / max over the runs.
 */
export async function benchServing(options: { largeMiB: number; seconds: number; runs: number }): Promise<void> {
  await printMachine('serving');
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-'));
  try {
    const storage = path.join(root, 'lgwan');
    const store = new BlobStore(path.join(storage, 'blobs'));
    await mkdir(path.join(storage, 'blobs'), { recursive: true });
    console.log(`preparing a ${options.largeMiB} MiB, a 16 MiB and a 4 KiB file …`);
    const large = await writeBlob(store, 'large', options.largeMiB * mib);
    const medium = await writeBlob(store, 'medium', 16 * mib);
    const small = await writeBlob(store, 'small', 4096);
    const database = await openLgwanState(path.join(storage, 'state.json'));
    const products = [{ id: 'bench', name: 'Benchmark product', vendor: 'bench', scheme: 'dotted' as const, trust: 'tls-only' as const, retention: 1, latestSeen: { version: '1.0', firstSeenAt: new Date().toISOString() }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } }];
    database.data.published = { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date().toISOString(), publishedAt: new Date().toISOString(), products, artifacts: [artifact('large.bin', large), artifact('medium.bin', medium), artifact('small.bin', small)] };
    await database.write();
    await generateTransferKeyPair(path.join(root, 'transfer-key.pem'), path.join(storage, 'transfer-key.pub.pem'));
    const configFile = path.join(root, 'config.yaml');
    await writeFile(configFile, stringify({ lgwan: { storage, keys: [], spool: path.join(root, 'spool'), trustProxy: true, nginxFront: {} } }));

    // As production runs it: `lgwan-mirror serve`, compiled, lgwan.workers auto.
    const repository = await startServe(configFile);
    const stops: Array<() => Promise<void>> = [() => repository.stop()];
    const repositoryUrl = repository.url;
    try {
      // nginx serves the very same files (hard links) and a copy of the API answer.
      const nginxRoot = path.join(root, 'nginx-root');
      await mkdir(path.join(nginxRoot, 'pool/bench/1.0/any/any'), { recursive: true });
      await mkdir(path.join(nginxRoot, 'api/v1'), { recursive: true });
      for (const [blob, name] of [[large, 'large.bin'], [medium, 'medium.bin'], [small, 'small.bin']] as const) await link(blob.file, path.join(nginxRoot, 'pool/bench/1.0/any/any', name));
      // /api/v1/products needs a console session since issue 14: the open listing /api/v1/latest stands for the JSON answers.
      await writeFile(path.join(nginxRoot, 'api/v1/latest'), await (await fetch(`${repositoryUrl}/api/v1/latest`)).text());
      const nginx = await startStaticNginx(path.join(root, 'nginx'), nginxRoot, { types: 'types { application/json latest; }' });
      stops.push(() => nginx.stop());
      const front = await startFront(path.join(root, 'front'), repositoryUrl, store.root);
      stops.push(() => front.stop());

      const idle = repository.memory();
      const largePath = '/pool/bench/1.0/any/any/large.bin';
      const mediumPath = '/pool/bench/1.0/any/any/medium.bin';
      const smallPath = '/pool/bench/1.0/any/any/small.bin';
      const apiPath = '/api/v1/latest';
      const runs = options.runs;

      // Memory against file size: the peaks after serving 16 MiB, then after serving the large file.
      for (let index = 0; index < 3; index += 1) curlSpeed(`${repositoryUrl}${mediumPath}`);
      const afterMedium = repository.memory();
      // One large download at a time, with the CPU each server's processes spent on it (the front's is nginx's plus the repository's).
      const nginxCpu = () => treeCpuSeconds(nginx.pid);
      const frontCpu = () => treeCpuSeconds(front.pid) + repository.cpuSeconds();
      const download = (url: string, cpuSeconds: () => number) => () => {
        const before = cpuSeconds();
        const speed = curlSpeed(url);
        return { speed, cpuSeconds: cpuSeconds() - before };
      };
      const largeRuns = await interleaved(runs, {
        ours: download(`${repositoryUrl}${largePath}`, repository.cpuSeconds),
        nginx: download(`${nginx.url}${largePath}`, nginxCpu),
        front: download(`${front.url}${largePath}`, frontCpu),
      });
      const afterLarge = repository.memory();
      const load = (connections: number) => ({ threads: 2, connections, seconds: options.seconds });
      const wrkRuns = async (pathName: string, connections: number, withFront: boolean) =>
        interleaved(runs, {
          ours: () => wrk(`${repositoryUrl}${pathName}`, load(connections)),
          nginx: () => wrk(`${nginx.url}${pathName}`, load(connections)),
          ...(withFront ? { front: () => wrk(`${front.url}${pathName}`, load(connections)) } : {}),
        } as Record<'ours' | 'nginx' | 'front', () => WrkResult>);
      const mediumRuns = await wrkRuns(mediumPath, 8, true);
      const smallRuns = await wrkRuns(smallPath, 50, true);
      const apiRuns = await wrkRuns(apiPath, 100, false);

      // Each cell: min / median / max over the runs; each ratio: every run's own (ours or the front over that run's nginx).
      const rows: string[][] = [];
      const figureRow = (label: string, samples: Partial<Record<'ours' | 'nginx' | 'front', number[]>>, digits: number, withRatio: boolean) => {
        const cell = (key: 'ours' | 'nginx' | 'front') => (samples[key] ? spread(samples[key]!, digits) : '');
        const ratio = (key: 'ours' | 'front') => (withRatio && samples[key] ? spread(ratios(samples[key]!, samples.nginx!), 2) : '');
        rows.push([label, cell('ours'), cell('nginx'), ratio('ours'), cell('front'), ratio('front')]);
      };
      const pick = <T>(samples: Partial<Record<'ours' | 'nginx' | 'front', T[]>>, value: (sample: T) => number) =>
        Object.fromEntries(Object.entries(samples).map(([key, list]) => [key, (list as T[]).map(value)])) as Partial<Record<'ours' | 'nginx' | 'front', number[]>>;
      figureRow(`${options.largeMiB} MiB file, one curl (MB/s)`, pick(largeRuns, (sample) => sample.speed / 1e6), 0, true);
      figureRow(`  server CPU per ${options.largeMiB} MiB download (s, every process of the server)`, pick(largeRuns, (sample) => sample.cpuSeconds), 2, false);
      const wrkRows = (label: string, samples: Partial<Record<'ours' | 'nginx' | 'front', WrkResult[]>>, field: 'bytesPerSecond' | 'requestsPerSecond') => {
        figureRow(label, pick(samples, (sample) => sample[field] / (field === 'bytesPerSecond' ? 1e6 : 1)), 0, true);
        figureRow('  p50 latency (ms)', pick(samples, (sample) => sample.latencyP50Ms), 2, false);
        figureRow('  p99 latency (ms)', pick(samples, (sample) => sample.latencyP99Ms), 2, false);
      };
      wrkRows('16 MiB file, wrk 8 connections (MB/s)', mediumRuns, 'bytesPerSecond');
      wrkRows('4 KiB file, wrk 50 connections (req/s)', smallRuns, 'requestsPerSecond');
      wrkRows('API answer /api/v1/latest, wrk 100 connections (req/s)', { ours: apiRuns.ours, nginx: apiRuns.nginx }, 'requestsPerSecond');
      const errors = [...mediumRuns.ours, ...smallRuns.ours, ...apiRuns.ours, ...mediumRuns.front, ...smallRuns.front].reduce((sum, result) => sum + result.errors, 0);

      console.log(`\nServing: LGWAN repository (lgwan-mirror serve, compiled, primary + ${repository.workers} workers) vs nginx (master + ${processTree(nginx.pid).length - 1} workers, sendfile), same files, same load, 127.0.0.1; and the repository behind the shipped nginx front (X-Accel-Redirect). ${spreadLabel(runs)} (ours, nginx, front, …), ${options.seconds} s each, wrk rows after ${warmupSeconds} s of the same load unmeasured`);
      console.log(['measure', 'repository', 'nginx', 'ratio', 'repository behind the front', 'ratio'].join('\t'));
      for (const row of rows) console.log(row.join('\t'));
      console.log(`repository errors under load: ${errors}`);
      const memory = (label: string, value: { rssMiB: number; pssMiB: number; peakMiB: number; processes: number }) => `${label} RSS ${value.rssMiB.toFixed(0)} (PSS ${value.pssMiB.toFixed(0)}), peaks ${value.peakMiB.toFixed(0)}`;
      console.log(`\nRepository memory (MiB, summed over its ${idle.processes} processes; PSS counts shared pages once): ${memory('idle', idle)}; ${memory('after 16 MiB downloads', afterMedium)}; ${memory(`after ${options.largeMiB} MiB downloads`, afterLarge)}`);
      const growth = afterLarge.peakMiB - afterMedium.peakMiB;
      console.log(`peak growth from a 16 MiB to a ${options.largeMiB} MiB file: ${growth.toFixed(1)} MiB (${growth < 32 ? 'flat: streamed, not buffered' : 'GROWS WITH FILE SIZE'})`);
      const size = (await stat(large.file)).size;
      if (size !== options.largeMiB * mib) throw new Error('large file has the wrong size');
    } finally {
      for (const stop of stops.reverse()) await stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
