// Time from starting `lgwan-mirror serve` to its first answer (GET /api/v1/latest), through
// bin/lgwan-mirror.js on the compiled dist/ and on the TypeScript through tsx, runs interleaved.
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printMachine } from './machine.ts';
import { cpuSecondsOf, median } from './tools.ts';

const projectRoot = path.join(import.meta.dirname, '..');
const bin = path.join(projectRoot, 'bin', 'lgwan-mirror.js');

function firstAnswer(cwd: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd, env: { ...process.env, ...env, LGWAN_MIRROR_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = async (data: Buffer) => {
      output += data.toString();
      const match = /serving (http:\/\/[^\s/]+)/u.exec(output);
      if (!match) return;
      child.stdout!.off('data', onData);
      const response = await fetch(`${match[1]}/api/v1/latest`);
      await response.text();
      const ms = performance.now() - started;
      const cpuMs = cpuSecondsOf(child.pid!) * 1000;
      child.kill();
      if (response.status !== 200) reject(new Error(`first answer ${response.status}`));
      else resolve({ ms, cpuMs });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    child.once('exit', (code) => code !== null && code !== 0 && reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}

export async function benchStartup(options: { runs: number }): Promise<void> {
  await printMachine('start-up');
  // bin/ runs dist/ only while it is current: build it now.
  execFileSync('bash', [path.join(projectRoot, 'scripts', 'build.sh')], { stdio: 'inherit' });
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-startup-'));
  try {
    // An LGWAN data root with its transfer public key and nothing published: the defaults apply.
    execFileSync(process.execPath, [bin, 'keys', 'init'], { cwd: root, stdio: 'ignore' });
    await cp(path.join(root, 'storage', 'internet', 'transfer-key.pub.pem'), path.join(root, 'storage', 'lgwan', 'transfer-key.pub.pem'));
    const samples: Record<'compiled' | 'tsx', { ms: number; cpuMs: number }[]> = { compiled: [], tsx: [] };
    for (let run = 0; run < options.runs; run += 1) {
      samples.compiled.push(await firstAnswer(root, {}));
      samples.tsx.push(await firstAnswer(root, { LGWAN_MIRROR_SOURCE: '1' }));
    }
    console.log(`\nStart-up: \`lgwan-mirror serve\` to its first answer (GET /api/v1/latest), median of ${options.runs}, runs interleaved`);
    console.log(['launcher', 'time to first answer s', 'server CPU s', 'target'].join('\t'));
    for (const [name, key] of [['compiled dist/ (npm run build; the packages)', 'compiled'], ['TypeScript through tsx (LGWAN_MIRROR_SOURCE=1)', 'tsx']] as const) {
      const ms = median(samples[key].map((sample) => sample.ms));
      console.log([name, (ms / 1000).toFixed(2), (median(samples[key].map((sample) => sample.cpuMs)) / 1000).toFixed(2), key === 'compiled' ? (ms <= 300 ? 'within 0.3 s' : 'OVER 0.3 s') : ''].join('\t'));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
