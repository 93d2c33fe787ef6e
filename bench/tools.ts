import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
  /** Extra request headers, e.g. Connection: close for a new connection per request. */
  headers?: readonly string[];
}

function wrkArguments(url: string, options: WrkOptions): string[] {
  return ['--latency', `-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', `${options.timeoutSeconds ?? 10}s`, ...(options.script ? ['-s', options.script] : []), ...(options.headers ?? []).flatMap((header) => ['-H', header]), url];
}

/**
 * Seconds of the same load, unmeasured, before each measured run (BENCH_WARMUP_SECONDS, default 2):
 * every server, ours and the references alike, is measured warm. Without it a Node server's p99
 * over 5 s is its first second (1,000 connections arriving, code not yet optimised): 0.7–3 s
 * against 55 ms over 15 s on the same bare node:http.
 */
export const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);

export function wrk(url: string, options: WrkOptions): WrkResult {
  if (warmupSeconds > 0) execFileSync('wrk', wrkArguments(url, { ...options, seconds: warmupSeconds }), { encoding: 'utf8' });
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

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * A figure over the runs as "min / median / max" (the value alone after one run): a median
 * alone hides how far the shared machine moved it between runs (issue 18).
 */
export function spread(values: readonly number[], digits = 0, scale = 1): string {
  const scaled = values.filter((value) => !Number.isNaN(value)).map((value) => value / scale);
  if (scaled.length === 0) return '—';
  const format = (value: number) => value.toFixed(digits);
  if (scaled.length === 1) return format(scaled[0]!);
  return `${format(Math.min(...scaled))} / ${format(median(scaled))} / ${format(Math.max(...scaled))}`;
}

/** Each run's ratio ours / reference (runs interleaved pairwise), for `spread`. */
export function ratios(ours: readonly number[], theirs: readonly number[]): number[] {
  return ours.map((value, index) => value / theirs[index]!);
}

/** The heading words for `spread`'s cells. */
export function spreadLabel(runs: number): string {
  return runs === 1 ? '1 run' : `min / median / max of ${runs} interleaved runs`;
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1]), or undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself hold ") ".
    return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * A process and all its descendants (from the parent ids in /proc/<pid>/stat): production
 * runs the repository as a primary and `lgwan.workers` node:cluster workers, and nginx as a
 * master and its workers, so a figure of the first process alone would miss most of the work.
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]);
    if (!Number.isInteger(parent)) continue;
    const siblings = children.get(parent);
    if (siblings) siblings.push(Number(entry));
    else children.set(parent, [Number(entry)]);
  }
  const tree = statFields(pid) ? [pid] : [];
  for (let index = 0; index < tree.length; index += 1) tree.push(...(children.get(tree[index]!) ?? []));
  return tree;
}

/**
 * SIGKILL to those of `pids` that still run a command containing `command` (a process that
 * exited may have left its id to another by now: that one is not ours to end).
 */
export function killLeftovers(pids: readonly number[], command: string): void {
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(command)) continue;
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function kibField(text: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'mu').exec(text)?.[1] ?? Number.NaN);
}

export interface TreeMemory {
  processes: number;
  /** Sum of resident sets: counts the pages the processes share (node's code) once per process. */
  rssMiB: number;
  /** Sum of proportional sets (shared pages split among the processes that map them): the tree's real footprint. */
  pssMiB: number;
  /** Sum of each process's own peak resident set (an upper bound on the tree's peak). */
  peakMiB: number;
}

/** The memory of a process tree (a primary and its workers), from /proc. */
export function treeMemory(pid: number): TreeMemory {
  const total = { processes: 0, rss: 0, pss: 0, peak: 0 };
  for (const member of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, 'utf8');
      const rollup = readFileSync(`/proc/${member}/smaps_rollup`, 'utf8');
      total.rss += kibField(status, 'VmRSS');
      total.peak += kibField(status, 'VmHWM');
      total.pss += kibField(rollup, 'Pss');
      total.processes += 1;
    } catch {
      // It exited between the listing and the read: it holds no memory any more.
    }
  }
  return { processes: total.processes, rssMiB: total.rss / 1024, pssMiB: total.pss / 1024, peakMiB: total.peak / 1024 };
}

let clockTicks: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux everywhere in practice). */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/**
 * CPU time of a process tree so far, in seconds: every member's own time plus the time of
 * its children that exited and were reaped (a worker that died and was replaced still counts).
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    const fields = statFields(member);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / ticksPerSecond();
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

export function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

export interface NginxServer {
  url: string;
  /** The master process; its workers are its children (`processTree`). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * nginx as Debian's package runs it: a master process and `worker_processes auto` (one per
 * core), sendfile and tcp_nopush on, here in the foreground (`daemon off`) with its pid file,
 * temporary folders and error log under `root`. Our repository uses every core too (lgwan.workers
 * auto), so one nginx worker would be an unfair reference; and nginx runs several workers only
 * under a master (`master_process off` is a single process). `http` goes inside http { }; the
 * first answer of `readyPath` (any status) says it listens.
 */
export async function startNginx(root: string, options: { port: number; http: string; readyPath?: string }): Promise<NginxServer> {
  await mkdir(path.join(root, 'nginx-tmp'), { recursive: true });
  const configFile = path.join(root, 'nginx.conf');
  const temporary = path.join(root, 'nginx-tmp');
  await writeFile(
    configFile,
    `daemon off; ${process.getuid?.() === 0 ? 'user root; ' : ''}worker_processes auto; worker_rlimit_nofile 8192; error_log ${root}/nginx-error.log; pid ${root}/nginx.pid;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path ${temporary}; proxy_temp_path ${temporary}; fastcgi_temp_path ${temporary}; uwsgi_temp_path ${temporary}; scgi_temp_path ${temporary};
${options.http}
}
`,
  );
  const child = spawn('nginx', ['-c', configFile, '-p', root], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${options.port}`;
  const errorLog = async () => (await readFile(path.join(root, 'nginx-error.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
  for (let attempt = 0; ; attempt += 1) {
    if (gone) throw new Error(`nginx exited at start (${configFile}): ${await errorLog()}`);
    if (await fetch(`${url}${options.readyPath ?? '/'}`).then((response) => response.arrayBuffer().then(() => true), () => false)) break;
    if (attempt === 100) {
      child.kill('SIGKILL');
      throw new Error(`nginx does not answer on ${url} after 10 s: ${await errorLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (gone) return;
      // SIGTERM: the master stops its workers, removes its pid file and exits (fast shutdown).
      const members = processTree(child.pid!);
      child.kill('SIGTERM');
      const timer = setTimeout(() => killLeftovers(members, 'nginx'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** nginx serving a folder as static files on 127.0.0.1, the reference origin. */
export async function startStaticNginx(root: string, htmlRoot: string, options: { types?: string } = {}): Promise<NginxServer> {
  const port = randomPort();
  return startNginx(root, { port, http: `  ${options.types ?? ''}\n  server { listen 127.0.0.1:${port} backlog=4096; root ${htmlRoot}; }` });
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

/** The shipped nginx front (deploy/nginx/lgwan-mirror-front.conf, placeholders replaced) included in the benchmark's main config, before the repository. */
export async function startFront(root: string, repositoryUrl: string, blobRoot: string): Promise<NginxServer> {
  await mkdir(root, { recursive: true });
  const port = randomPort();
  const front = (await readFile(path.join(import.meta.dirname, '..', 'deploy', 'nginx', 'lgwan-mirror-front.conf'), 'utf8'))
    .replaceAll('127.0.0.1:8081', new URL(repositoryUrl).host)
    .replaceAll('/var/lib/lgwan-mirror/lgwan/blobs/', `${blobRoot}/`)
    .replace('listen 8080;', `listen 127.0.0.1:${port} backlog=4096;`);
  await writeFile(path.join(root, 'front.conf'), front);
  return startNginx(root, { port, readyPath: '/api/v1/latest', http: `  include ${root}/front.conf;` });
}
