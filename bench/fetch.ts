// Fetch throughput against a local origin (nginx) compared with curl on the same file, and
// the cost of the digests every download computes compared with raw sha256 of the file.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../src/core/logger.ts';
import { Downloader } from '../src/fetch/download.ts';
import { createHttpClient, defaultHttpPolicy } from '../src/fetch/http-client.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { ratios, spread, spreadLabel, startStaticNginx } from './tools.ts';
import { printMachine } from './machine.ts';

const mib = 1024 * 1024;

async function hashFile(file: string, algorithms: string[]): Promise<number> {
  const started = performance.now();
  const hashes = algorithms.map((algorithm) => createHash(algorithm));
  for await (const chunk of createReadStream(file, { highWaterMark: mib }) as AsyncIterable<Buffer>) for (const hash of hashes) hash.update(chunk);
  for (const hash of hashes) hash.digest();
  return performance.now() - started;
}

export async function benchFetch(options: { fileMiB: number; runs?: number }): Promise<void> {
  await printMachine('fetch');
  const runs = options.runs ?? 5;
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-fetch-'));
  const html = path.join(root, 'html');
  await mkdir(html);
  const origin = path.join(html, 'installer.bin');
  const originFd = openSync(origin, 'w');
  execFileSync('head', ['-c', String(options.fileMiB * mib), '/dev/urandom'], { stdio: ['ignore', originFd, 'inherit'] });
  closeSync(originFd);
  const nginx = await startStaticNginx(root, html);
  try {
    const url = `${nginx.url}/installer.bin`;
    const bytes = options.fileMiB * mib;
    const mibPerSecond = (ms: number) => bytes / mib / (ms / 1000);

    // Runs are interleaved (curl, ours, curl, ours…) so that the machine's drift over the minutes
    // of the benchmark falls on both sides of each ratio, not on whichever ran last.
    const curlTarget = path.join(root, 'curl.out');
    const timedShell = (script: string): { ms: number; cpuMs: number } => {
      const started = performance.now();
      // bash's `time` reports the user and system seconds of the whole pipeline (curl and its children).
      const output = execFileSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time { ${script} ; } ; } 2>&1`, 'bash', curlTarget, url], { encoding: 'utf8' });
      const [user, system] = output.trim().split(/\s+/u).slice(-2).map(Number);
      return { ms: performance.now() - started, cpuMs: (user! + system!) * 1000 };
    };
    const store = new BlobStore(path.join(root, 'blobs'));
    const downloader = new Downloader({ client: createHttpClient(defaultHttpPolicy), policy: defaultHttpPolicy, store, logger: createLogger('bench', 'warn'), attempts: 1 });
    // Peak RSS above the level before each download, sampled every 10 ms, from the second run on
    // (the first starts the hashing thread): the file is streamed and the hashing thread may
    // fall only 32 MiB behind, so this must stay flat whatever the file size.
    let rssGrowth = 0;
    let downloads = 0;
    const timedDownload = async (sha512: boolean): Promise<{ ms: number; cpuMs: number }> => {
      const baseline = process.memoryUsage.rss();
      const measured = downloads++ > 0;
      const sampler = setInterval(() => {
        if (measured) rssGrowth = Math.max(rssGrowth, process.memoryUsage.rss() - baseline);
      }, 10);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const downloaded = await downloader.download({ url, label: 'installer.bin', maxBytes: bytes, sha512 }).finally(() => clearInterval(sampler));
      const used = process.cpuUsage(cpu);
      const ms = performance.now() - started;
      await unlink(downloaded.temporaryFile);
      // process.cpuUsage covers every thread of this process: the hashing thread and libuv's writers too.
      return { ms, cpuMs: (used.user + used.system) / 1000 };
    };
    const samples: Record<'curl' | 'curlSynced' | 'curlAndHash' | 'ours' | 'oursSha512', { ms: number; cpuMs: number }[]> = { curl: [], curlSynced: [], curlAndHash: [], ours: [], oursSha512: [] };
    // Each sample starts with nothing left to write back: otherwise the pages one tool left dirty
    // (curl does not fsync) are written out during the next sample and charged to it.
    const settle = () => execFileSync('sync');
    for (let run = 0; run < runs; run += 1) {
      settle();
      // curl writing the file to the same disk: the reference the issue names.
      samples.curl.push(timedShell('curl -s -o "$1" "$2"'));
      // Ours: undici body → blob store temporary file, SHA-256 on the hashing thread, fsync.
      settle();
      samples.ours.push(await timedDownload(false));
      // Our store fsyncs every blob before it counts: curl followed by an fsync of its file is the like-for-like reference.
      settle();
      samples.curlSynced.push(timedShell('curl -s -o "$1" "$2" && sync "$1"'));
      // A file checked against Mozilla's SHA512SUMS also needs SHA-512.
      settle();
      samples.oursSha512.push(await timedDownload(true));
      // What a shell-script mirror would do to get the same two digests: curl, then sha256sum and sha512sum.
      settle();
      samples.curlAndHash.push(timedShell('curl -s -o "$1" "$2" && sha256sum "$1" >/dev/null && sha512sum "$1" >/dev/null'));
    }
    const ms = (key: keyof typeof samples) => samples[key].map((sample) => sample.ms);
    const cpuMs = (key: keyof typeof samples) => samples[key].map((sample) => sample.cpuMs);
    // Speed ratios against curl, run by run (each sample of ours against the curl sample of its round).
    const against = (reference: keyof typeof samples, key: keyof typeof samples) => spread(ratios(ms(reference), ms(key)), 2);

    const rawSha256: number[] = [];
    const bothDigests: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      rawSha256.push(await hashFile(origin, ['sha256']));
      bothDigests.push(await hashFile(origin, ['sha256', 'sha512']));
    }

    console.log(`\nFetch: ${options.fileMiB} MiB from nginx on 127.0.0.1 to the same disk (${spreadLabel(runs)})`);
    console.log(['', 'MiB/s', 'vs curl', 'CPU ms'].join('\t'));
    const row = (label: string, key: keyof typeof samples) => console.log([label, spread(ms(key).map(mibPerSecond)), against('curl', key), spread(cpuMs(key))].join('\t'));
    row('curl -o file', 'curl');
    row('curl -o file && sync file', 'curlSynced');
    row('curl + sha256sum + sha512sum', 'curlAndHash');
    row('lgwan-mirror download (SHA-256 on the hashing thread, fsync)', 'ours');
    row('lgwan-mirror download, SHA-256 + SHA-512 (Mozilla files)', 'oursSha512');
    console.log(`ratios: fetch vs curl ${against('curl', 'ours')} (with SHA-512 ${against('curl', 'oursSha512')}), vs curl+fsync ${against('curlSynced', 'ours')}, vs curl+hashes ${against('curlAndHash', 'oursSha512')}`);
    console.log(`peak RSS growth during a ${options.fileMiB} MiB download: ${(rssGrowth / mib).toFixed(1)} MiB (every download after the first)`);
    console.log(`verification digests (sha256+sha512) ${spread(bothDigests.map(mibPerSecond))} MiB/s vs raw sha256 ${spread(rawSha256.map(mibPerSecond))} MiB/s (ratio ${spread(ratios(rawSha256, bothDigests), 2)})`);
  } finally {
    await nginx.stop();
    await rm(root, { recursive: true, force: true });
  }
}
