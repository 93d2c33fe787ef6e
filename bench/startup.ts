// Time from starting `lgwan-mirror serve` to its first answer (GET /api/v1/latest), through
// bin/lgwan-mirror.js on the compiled dist/ and on the TypeScript through tsx, runs interleaved.
// `serve` starts as production does, with lgwan.workers auto: the first answer comes once a
// worker listens, and the CPU is the primary's and its workers'; an extra row starts it as one
// process (lgwan.workers 1).
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printMachine } from './machine.ts';
import { ensureCompiled } from './serve-process.ts';
import { interleaved, spread, spreadLabel, treeCpuSeconds } from './tools.ts';

const projectRoot = path.join(import.meta.dirname, '..');
const bin = path.join(projectRoot, 'bin', 'lgwan-mirror.js');

function firstAnswer(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ ms: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], { cwd, env: { ...process.env, ...env, LGWAN_MIRROR_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = async (data: Buffer) => {
      output += data.toString();
      const match = /serving (http:\/\/[^\s/]+)/u.exec(output);
      if (!match) return;
      child.stdout!.off('data', onData);
      const response = await fetch(`${match[1]}/api/v1/latest`);
      await response.text();
      const ms = performance.now() - started;
      const cpuMs = treeCpuSeconds(child.pid!) * 1000;
      // The next run starts on the same data root: this one must have let go of it (and stopped its workers) first.
      child.once('exit', () => (response.status !== 200 ? reject(new Error(`first answer ${response.status}`)) : resolve({ ms, cpuMs })));
      child.kill('SIGTERM');
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    child.once('exit', (code) => code !== null && code !== 0 && reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}

export async function benchStartup(options: { runs: number }): Promise<void> {
  await printMachine('start-up');
  // bin/ runs dist/ only while it is current: build it now.
  ensureCompiled();
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-startup-'));
  try {
    // An LGWAN data root with its transfer public key and nothing published: the defaults apply.
    execFileSync(process.execPath, [bin, 'keys', 'init'], { cwd: root, stdio: 'ignore' });
    await cp(path.join(root, 'storage', 'internet', 'transfer-key.pub.pem'), path.join(root, 'storage', 'lgwan', 'transfer-key.pub.pem'));
    // The same data root as one process: what starting the workers costs.
    const oneProcess = path.join(root, 'one-process.yaml');
    await writeFile(oneProcess, 'lgwan:\n  workers: 1\n');
    // The client's fetch (undici) loads at its first use: before the first sample, not inside it.
    await (await fetch('data:text/plain,warm')).text();
    const samples = await interleaved(options.runs, {
      compiled: () => firstAnswer(root, {}),
      single: () => firstAnswer(root, {}, ['--config', oneProcess]),
      tsx: () => firstAnswer(root, { LGWAN_MIRROR_SOURCE: '1' }),
    });
    console.log(`\nStart-up: \`lgwan-mirror serve\` (lgwan.workers auto) to its first answer (GET /api/v1/latest), ${spreadLabel(options.runs)}`);
    console.log(['launcher', 'time to first answer s', 'server CPU s (primary + workers)', 'target'].join('\t'));
    const variants = [
      ['compiled dist/ (npm run build; the packages)', 'compiled'],
      ['compiled dist/, lgwan.workers 1 (one process)', 'single'],
      ['TypeScript through tsx (LGWAN_MIRROR_SOURCE=1)', 'tsx'],
    ] as const;
    for (const [name, key] of variants) {
      const seconds = samples[key].map((sample) => sample.ms / 1000);
      const within = seconds.filter((value) => value <= 0.3).length;
      console.log([name, spread(seconds, 2), spread(samples[key].map((sample) => sample.cpuMs / 1000), 2), key !== 'tsx' ? `${within} of ${seconds.length} runs within 0.3 s` : ''].join('\t'));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
