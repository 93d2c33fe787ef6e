// The LGWAN repository as production runs it: `lgwan-mirror serve` through bin/lgwan-mirror.js
// on the compiled dist/, as a primary and `lgwan.workers` node:cluster workers (auto: one per
// core, at most 8; src/sides/lgwan-service.ts). Its memory and CPU are the whole process tree's.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { killLeftovers, processTree, treeCpuSeconds, treeMemory, type TreeMemory } from './tools.ts';

const projectRoot = path.join(import.meta.dirname, '..');
export const cli = path.join(projectRoot, 'bin', 'lgwan-mirror.js');

/** The same test bin/lgwan-mirror.js makes: dist/ runs only while its stamp is at least as new as everything in src/. */
function compiledIsCurrent(): boolean {
  const source = path.join(projectRoot, 'src');
  try {
    let newest = statSync(source).mtimeMs;
    for (const entry of readdirSync(source, { withFileTypes: true, recursive: true })) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
    return statSync(path.join(projectRoot, 'dist', '.build-stamp')).mtimeMs >= newest;
  } catch {
    return false;
  }
}

let builtOnce = false;

/**
 * Builds dist/ (scripts/build.sh, as `npm run build`) once per benchmark run, and again when
 * src/ changed since: otherwise bin/ would quietly run the TypeScript through tsx, which is
 * not what production runs.
 */
export function ensureCompiled(): void {
  if (builtOnce && compiledIsCurrent()) return;
  console.log('building dist/ (scripts/build.sh) …');
  execFileSync('bash', [path.join(projectRoot, 'scripts', 'build.sh')], { stdio: 'inherit' });
  builtOnce = true;
  if (!compiledIsCurrent()) throw new Error('dist/ is still older than src/ after scripts/build.sh (a file in src/ changed during the build?): bin/lgwan-mirror.js would run the TypeScript through tsx');
}

export interface ServeProcess {
  url: string;
  /** The primary (or the only) process. */
  pid: number;
  /** Worker processes under the primary (0: one process serves, lgwan.workers 1). */
  workers: number;
  /** The tree's memory: primary and workers. */
  memory(): TreeMemory;
  /** The tree's CPU seconds so far: primary and workers. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * `lgwan-mirror serve --config <file>` on 127.0.0.1 and a free port, from the config file's
 * folder, logging errors only (BENCH_DEBUG: info, on this process's stderr). Resolves once the
 * primary says "serving", which it says after every worker listens.
 */
export async function startServe(configFile: string): Promise<ServeProcess> {
  ensureCompiled();
  const debug = Boolean(process.env.BENCH_DEBUG);
  const child = spawn(process.execPath, [cli, 'serve', '--config', configFile, '--port', '0', '--host', '127.0.0.1'], {
    cwd: path.dirname(configFile),
    // BENCH_SERVE_NODE_OPTIONS: Node.js options for the served tree alone (e.g. a heap limit, to tell a leak from a lazy collector).
    env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: debug ? 'info' : 'error', ...(process.env.BENCH_SERVE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVE_NODE_OPTIONS } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (debug) process.stderr.write(chunk);
      // Only the tail is kept, for the message if it stops; the pipes are read to the end so that a full one never blocks the server.
      output = (output + chunk.toString()).slice(-4000);
      const match = /serving (http:\/\/[^\s/]+)/u.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`lgwan-mirror serve --config ${configFile} exited (${code ?? signal}) before serving: ${output.trim()}`)));
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    workers: processTree(pid).length - 1,
    memory: () => treeMemory(pid),
    cpuSeconds: () => treeCpuSeconds(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGTERM to the primary, as systemd sends it: it stops its workers (they hand over what they hold) and exits.
      const members = processTree(pid);
      child.kill('SIGTERM');
      const timer = setTimeout(() => killLeftovers(members, cli), 15_000);
      await exited;
      clearTimeout(timer);
      // A worker the primary failed to stop must not keep a port or a core busy after the bench.
      killLeftovers(members.slice(1), cli);
    },
  };
}

/** An enrollment token for the default tenant, issued with `lgwan-mirror agents token` as an admin would (before the repository starts: one writer per data root). */
export function issueEnrollmentToken(configFile: string): string {
  ensureCompiled();
  return execFileSync(process.execPath, [cli, 'agents', 'token', '--config', configFile, '--label', 'benchmark agents'], {
    cwd: path.dirname(configFile),
    encoding: 'utf8',
    env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}
