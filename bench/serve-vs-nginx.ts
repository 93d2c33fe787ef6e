import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { generateTransferKeyPair } from '../src/bundle/transfer-key.ts';
import type { Artifact } from '../src/bundle/manifest.ts';
import { openLgwanState } from '../src/importer/lgwan-state.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { printMachine } from './machine.ts';
import { cpuSecondsOf, curlSpeed, interleaved, median, memoryOf, startProcess, startStaticNginx, wrk, type WrkResult } from './tools.ts';

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

/** The shipped nginx front (deploy/nginx/lgwan-mirror-front.conf) before the repository, placeholders replaced. */
async function startFront(root: string, repositoryUrl: string, blobRoot: string): Promise<{ url: string; pid: number; stop(): void }> {
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const front = (await readFile(path.join(import.meta.dirname, '..', 'deploy', 'nginx', 'lgwan-mirror-front.conf'), 'utf8'))
    .replaceAll('127.0.0.1:8081', new URL(repositoryUrl).host)
    .replaceAll('/var/lib/lgwan-mirror/lgwan/blobs/', `${blobRoot}/`)
    .replace('listen 8080;', `listen 127.0.0.1:${port};`);
  await writeFile(path.join(root, 'front.conf'), front);
  await writeFile(
    path.join(root, 'nginx.conf'),
    `daemon off; master_process off; user root; worker_processes 1; error_log ${root}/error.log; pid ${root}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; default_type application/octet-stream;
  client_body_temp_path ${root}/tmp; proxy_temp_path ${root}/tmp; fastcgi_temp_path ${root}/tmp; uwsgi_temp_path ${root}/tmp; scgi_temp_path ${root}/tmp;
  include ${root}/front.conf; }
`,
  );
  const child = spawn('nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50 && !(await fetch(`${url}/api/v1/latest`).then((response) => response.ok, () => false)); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  return { url, pid: child.pid!, stop: () => void child.kill() };
}

/**
 * Serves the same files and the same small API answer from the LGWAN repository, from
 * nginx on 127.0.0.1 (the reference) and from the repository behind the shipped nginx front
 * (X-Accel-Redirect), runs interleaved (ours, nginx, front, ours…); reports the ratios, the
 * server CPU per large download, and the repository's memory, which must not grow with the
 * size of the file served.
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

    const repository = await startProcess(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'repository-process.ts'), configFile, '0'], /ready (http:\/\/\S+)/u);
    repository.child.stderr!.on('data', (d: Buffer) => process.env.BENCH_DEBUG && process.stderr.write(d));
    const repositoryUrl = repository.match[1]!;
    const pid = repository.child.pid!;

    // nginx serves the very same files (hard links) and a copy of the API answer.
    const nginxRoot = path.join(root, 'nginx-root');
    await mkdir(path.join(nginxRoot, 'pool/bench/1.0/any/any'), { recursive: true });
    await mkdir(path.join(nginxRoot, 'api/v1'), { recursive: true });
    for (const [blob, name] of [[large, 'large.bin'], [medium, 'medium.bin'], [small, 'small.bin']] as const) await link(blob.file, path.join(nginxRoot, 'pool/bench/1.0/any/any', name));
    // /api/v1/products needs a console session since issue 14: the open listing /api/v1/latest stands for the JSON answers.
    await writeFile(path.join(nginxRoot, 'api/v1/latest'), await (await fetch(`${repositoryUrl}/api/v1/latest`)).text());
    const nginx = await startStaticNginx(root, nginxRoot, { types: 'types { application/json latest; }' });
    const front = await startFront(path.join(root, 'front'), repositoryUrl, store.root);

    try {
      const idle = memoryOf(pid);
      const largePath = '/pool/bench/1.0/any/any/large.bin';
      const mediumPath = '/pool/bench/1.0/any/any/medium.bin';
      const smallPath = '/pool/bench/1.0/any/any/small.bin';
      const apiPath = '/api/v1/latest';
      const ratio = (ours: number, theirs: number) => (ours / theirs).toFixed(2);
      const runs = options.runs;

      // Memory against file size: the peak after serving 16 MiB, then after serving the large file.
      for (let index = 0; index < 3; index += 1) curlSpeed(`${repositoryUrl}${mediumPath}`);
      const afterMedium = memoryOf(pid);
      // One large download at a time, with the CPU each server spent on it (the front's is nginx's plus the repository's).
      const download = (url: string, pids: number[]) => () => {
        const cpu = pids.map(cpuSecondsOf);
        const speed = curlSpeed(url);
        return { speed, cpuSeconds: pids.reduce((sum, server, index) => sum + cpuSecondsOf(server) - cpu[index]!, 0) };
      };
      const largeRuns = await interleaved(runs, {
        ours: download(`${repositoryUrl}${largePath}`, [pid]),
        nginx: download(`${nginx.url}${largePath}`, [nginx.pid]),
        front: download(`${front.url}${largePath}`, [front.pid, pid]),
      });
      const afterLarge = memoryOf(pid);
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

      const rows: string[][] = [];
      const med = (values: number[]) => median(values);
      const speedOf = (key: 'ours' | 'nginx' | 'front') => med(largeRuns[key].map((sample) => sample.speed));
      const cpuOf = (key: 'ours' | 'nginx' | 'front') => med(largeRuns[key].map((sample) => sample.cpuSeconds));
      rows.push([`${options.largeMiB} MiB file, one curl (MB/s)`, (speedOf('ours') / 1e6).toFixed(0), (speedOf('nginx') / 1e6).toFixed(0), ratio(speedOf('ours'), speedOf('nginx')), (speedOf('front') / 1e6).toFixed(0), ratio(speedOf('front'), speedOf('nginx'))]);
      rows.push([`  server CPU per ${options.largeMiB} MiB download (s)`, cpuOf('ours').toFixed(2), cpuOf('nginx').toFixed(2), '', cpuOf('front').toFixed(2), '']);
      const perSecond = (samples: Record<string, WrkResult[]>, key: string, field: 'bytesPerSecond' | 'requestsPerSecond') => med((samples[key] ?? []).map((sample) => sample[field]));
      const wrkRow = (label: string, samples: Record<string, WrkResult[]>, field: 'bytesPerSecond' | 'requestsPerSecond') => {
        const scale = field === 'bytesPerSecond' ? 1e6 : 1;
        const [ours, theirs, fronted] = ['ours', 'nginx', 'front'].map((key) => perSecond(samples, key, field));
        rows.push([label, (ours! / scale).toFixed(0), (theirs! / scale).toFixed(0), ratio(ours!, theirs!), samples.front ? (fronted! / scale).toFixed(0) : '', samples.front ? ratio(fronted!, theirs!) : '']);
        const latency = (key: string) => (samples[key] ? `${med(samples[key]!.map((sample) => sample.latencyP50Ms)).toFixed(2)} / ${med(samples[key]!.map((sample) => sample.latencyP99Ms)).toFixed(2)}` : '');
        rows.push(['  p50 / p99 latency (ms)', latency('ours'), latency('nginx'), '', latency('front'), '']);
      };
      wrkRow('16 MiB file, wrk 8 connections (MB/s)', mediumRuns, 'bytesPerSecond');
      wrkRow('4 KiB file, wrk 50 connections (req/s)', smallRuns, 'requestsPerSecond');
      wrkRow(`API answer /api/v1/latest, wrk 100 connections (req/s)`, apiRuns, 'requestsPerSecond');
      const errors = [...mediumRuns.ours, ...smallRuns.ours, ...apiRuns.ours, ...mediumRuns.front, ...smallRuns.front].reduce((sum, result) => sum + result.errors, 0);

      console.log(`\nServing: LGWAN repository (Koa) vs nginx (sendfile), same files, same load, 127.0.0.1; and the repository behind the shipped nginx front (X-Accel-Redirect). Median of ${runs}, runs interleaved (ours, nginx, front, …), ${options.seconds} s each`);
      console.log(['measure', 'repository', 'nginx', 'ratio', 'repository behind the front', 'ratio'].join('\t'));
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
      front.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
