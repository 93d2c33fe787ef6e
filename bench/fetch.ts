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
import { median, startStaticNginx } from './tools.ts';

const mib = 1024 * 1024;

async function hashFile(file: string, algorithms: string[]): Promise<number> {
  const started = performance.now();
  const hashes = algorithms.map((algorithm) => createHash(algorithm));
  for await (const chunk of createReadStream(file, { highWaterMark: mib }) as AsyncIterable<Buffer>) for (const hash of hashes) hash.update(chunk);
  for (const hash of hashes) hash.digest();
  return performance.now() - started;
}

export async function benchFetch(options: { fileMiB: number; runs?: number }): Promise<void> {
  const runs = options.runs ?? 3;
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

    // curl writing the file to the same disk: the reference the issue names.
    const curlTarget = path.join(root, 'curl.out');
    const curl = median(Array.from({ length: runs }, () => {
      const started = performance.now();
      execFileSync('curl', ['-s', '-o', curlTarget, url]);
      return performance.now() - started;
    }));
    // Our store fsyncs every blob before it counts: curl followed by an fsync of its file is the like-for-like reference.
    const curlSynced = median(Array.from({ length: runs }, () => {
      const started = performance.now();
      execFileSync('sh', ['-c', `curl -s -o "$1" "$2" && sync "$1"`, 'sh', curlTarget, url]);
      return performance.now() - started;
    }));
    // What a shell-script mirror would do to get the same two digests: curl, then sha256sum and sha512sum.
    const curlAndHash = median(Array.from({ length: runs }, () => {
      const started = performance.now();
      execFileSync('sh', ['-c', `curl -s -o "$1" "$2" && sha256sum "$1" >/dev/null && sha512sum "$1" >/dev/null`, 'sh', curlTarget, url]);
      return performance.now() - started;
    }));

    // Ours: got stream → blob store temporary file, sha256 and sha512 computed while streaming.
    const store = new BlobStore(path.join(root, 'blobs'));
    const downloader = new Downloader({ client: createHttpClient(defaultHttpPolicy), policy: defaultHttpPolicy, store, logger: createLogger('bench', 'warn'), attempts: 1 });
    const ours: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const started = performance.now();
      const downloaded = await downloader.download({ url, label: 'installer.bin', maxBytes: bytes });
      ours.push(performance.now() - started);
      await unlink(downloaded.temporaryFile);
    }
    const oursMs = median(ours);

    const rawSha256: number[] = [];
    const bothDigests: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      rawSha256.push(await hashFile(origin, ['sha256']));
      bothDigests.push(await hashFile(origin, ['sha256', 'sha512']));
    }

    console.log(`\nFetch: ${options.fileMiB} MiB from nginx on 127.0.0.1 to the same disk (median of ${runs})`);
    console.log(['', 'MiB/s', 'ratio'].join('\t'));
    console.log(['curl -o file', mibPerSecond(curl).toFixed(0), '1.00'].join('\t'));
    console.log(['curl -o file && sync file', mibPerSecond(curlSynced).toFixed(0), (curl / curlSynced).toFixed(2)].join('\t'));
    console.log(['curl + sha256sum + sha512sum', mibPerSecond(curlAndHash).toFixed(0), (curl / curlAndHash).toFixed(2)].join('\t'));
    console.log(['lgwan-mirror download (sha256+sha512 on the hashing thread, fsync)', mibPerSecond(oursMs).toFixed(0), (curl / oursMs).toFixed(2)].join('\t'));
    console.log(`ratios: fetch vs curl ${(curl / oursMs).toFixed(2)}, vs curl+fsync ${(curlSynced / oursMs).toFixed(2)}, vs curl+hashes ${(curlAndHash / oursMs).toFixed(2)}`);
    console.log(`verification digests (sha256+sha512) ${mibPerSecond(median(bothDigests)).toFixed(0)} MiB/s vs raw sha256 ${mibPerSecond(median(rawSha256)).toFixed(0)} MiB/s (ratio ${(median(rawSha256) / median(bothDigests)).toFixed(2)})`);
  } finally {
    nginx.stop();
    await rm(root, { recursive: true, force: true });
  }
}
