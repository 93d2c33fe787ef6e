import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The references run on this machine: nginx, wrk and curl from Debian, installed on first use. */
export function ensureTools(): void {
  const missing = [['nginx', 'nginx-light'], ['wrk', 'wrk'], ['curl', 'curl'], ['udp-sender', 'udpcast'], ['nft', 'nftables']].filter(([command]) => !have(command!));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`install ${missing.map(([, pkg]) => pkg).join(' ')} (apt-get) to run the benchmarks`);
  console.log(`installing ${missing.map(([, pkg]) => pkg).join(' ')} …`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing.map(([, pkg]) => pkg!)], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

export interface WrkResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
}

function toMilliseconds(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/u.exec(value);
  if (!match) return Number.NaN;
  const amount = Number(match[1]);
  return match[2] === 'us' ? amount / 1000 : match[2] === 's' ? amount * 1000 : amount;
}

function toBytes(value: string): number {
  const match = /^([\d.]+)([KMG]?B)$/u.exec(value);
  if (!match) return Number.NaN;
  const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[match[2] as 'B' | 'KB' | 'MB' | 'GB'];
  return Number(match[1]) * unit;
}

interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  script?: string;
  /** A request slower than this counts as an error (10 s unless set). */
  timeoutSeconds?: number;
}

function wrkArguments(url: string, options: WrkOptions): string[] {
  return ['--latency', `-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', `${options.timeoutSeconds ?? 10}s`, ...(options.script ? ['-s', options.script] : []), url];
}

export function wrk(url: string, options: WrkOptions): WrkResult {
  return parseWrk(execFileSync('wrk', wrkArguments(url, options), { encoding: 'utf8' }));
}

/** wrk in the background: several loads at once, with the event loop free to sample memory. */
export async function wrkAsync(url: string, options: WrkOptions): Promise<WrkResult> {
  const { stdout } = await promisify(execFile)('wrk', wrkArguments(url, options), { encoding: 'utf8', maxBuffer: 1 << 20 });
  return parseWrk(stdout);
}

function parseWrk(output: string): WrkResult {
  if (process.env.BENCH_DEBUG) console.error(output);
  const requests = /Requests\/sec:\s+([\d.]+)/u.exec(output);
  const transfer = /Transfer\/sec:\s+([\d.]+[KMG]?B)/u.exec(output);
  const p50 = /\s50%\s+([\d.]+(?:us|ms|s))/u.exec(output);
  const p99 = /\s99%\s+([\d.]+(?:us|ms|s))/u.exec(output);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/u.exec(output);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/u.exec(output);
  return {
    requestsPerSecond: Number(requests?.[1]),
    bytesPerSecond: transfer ? toBytes(transfer[1]!) : Number.NaN,
    latencyP50Ms: p50 ? toMilliseconds(p50[1]!) : Number.NaN,
    latencyP99Ms: p99 ? toMilliseconds(p99[1]!) : Number.NaN,
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0),
  };
}

/** One download with curl; bytes per second as curl measured it. */
export function curlSpeed(url: string): number {
  return Number(execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', url], { encoding: 'utf8' }));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Resident and peak resident memory of a process, in MiB, from /proc. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'mu').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rssMiB: field('VmRSS'), peakMiB: field('VmHWM') };
}

export function startProcess(command: string, args: string[], readyPattern: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = readyPattern.exec(output);
      if (match) resolve({ child, match });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

/** nginx serving a folder as static files on 127.0.0.1 (one worker, sendfile), the reference origin. */
export async function startStaticNginx(root: string, htmlRoot: string, options: { types?: string } = {}): Promise<{ url: string; pid: number; stop(): void }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  await mkdir(path.join(root, 'nginx-tmp'), { recursive: true });
  await writeFile(
    path.join(root, 'nginx.conf'),
    `daemon off; master_process off; user root; worker_processes 1; error_log ${root}/nginx-error.log; pid ${root}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  ${options.types ?? ''}
  client_body_temp_path ${root}/nginx-tmp; proxy_temp_path ${root}/nginx-tmp; fastcgi_temp_path ${root}/nginx-tmp; uwsgi_temp_path ${root}/nginx-tmp; scgi_temp_path ${root}/nginx-tmp;
  server { listen 127.0.0.1:${port}; root ${htmlRoot}; } }
`,
  );
  const child = spawn('nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (await fetch(`${url}/`).then(() => true, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, pid: child.pid!, stop: () => void child.kill() };
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc (clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs each measure of `variants` in turn, `runs` times (ours, reference, ours, reference…),
 * so that the machine's drift falls on every side of a ratio; returns each variant's samples.
 */
export async function interleaved<K extends string, T>(runs: number, variants: Record<K, () => T | Promise<T>>): Promise<Record<K, T[]>> {
  const samples = Object.fromEntries(Object.keys(variants).map((key) => [key, [] as T[]])) as Record<K, T[]>;
  for (let run = 0; run < runs; run += 1) for (const key of Object.keys(variants) as K[]) samples[key].push(await variants[key]());
  return samples;
}
