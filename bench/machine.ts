// The machine's own speeds, printed at the start of every benchmark, so that figures from
// different runs and machines can be compared: raw sha256 (node:crypto, in memory) and a TCP
// transfer over 127.0.0.1 (another process writing as fast as it can, this one reading).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';

const mib = 1024 * 1024;

export function sha256Speed(totalMiB: number): number {
  const chunk = randomBytes(16 * mib);
  const hash = createHash('sha256');
  const started = performance.now();
  for (let done = 0; done < totalMiB; done += 16) hash.update(done + 16 <= totalMiB ? chunk : chunk.subarray(0, (totalMiB - done) * mib));
  hash.digest();
  return totalMiB / ((performance.now() - started) / 1000);
}

export async function loopbackSpeed(totalMiB: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const received = new Promise<number>((resolve, reject) => {
      server.once('connection', (socket) => {
        let bytes = 0;
        let started = 0;
        socket.on('data', (data: Buffer) => {
          if (started === 0) started = performance.now();
          bytes += data.length;
        });
        socket.once('end', () => resolve(bytes / mib / ((performance.now() - started) / 1000)));
        socket.once('error', reject);
      });
    });
    const writer = `const s=require('node:net').connect(${port},'127.0.0.1');const b=Buffer.alloc(${mib});let n=${totalMiB};const w=()=>{while(n>0){n--;if(!s.write(b))return s.once('drain',w)}s.end()};s.on('connect',w);`;
    const child = spawn(process.execPath, ['-e', writer], { stdio: 'ignore' });
    const speed = await received;
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
    return speed;
  } finally {
    server.close();
  }
}

/**
 * One line for the record: sha256 over BENCH_BASELINE_SHA_MIB (256) in memory, a
 * BENCH_BASELINE_LOOPBACK_MIB (1024) transfer on 127.0.0.1, the CPU model and load average.
 */
export async function printMachine(benchmark: string): Promise<void> {
  const shaMiB = Number(process.env.BENCH_BASELINE_SHA_MIB ?? 256);
  const loopbackMiB = Number(process.env.BENCH_BASELINE_LOOPBACK_MIB ?? 1024);
  const sha = sha256Speed(shaMiB);
  const loopback = await loopbackSpeed(loopbackMiB);
  const [one, five] = loadavg();
  console.log(
    `\n[machine before ${benchmark}] sha256 ${sha.toFixed(0)} MiB/s (${shaMiB} MiB, node:crypto), loopback TCP ${loopback.toFixed(0)} MiB/s (${loopbackMiB} MiB on 127.0.0.1), ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${one!.toFixed(2)} / ${five!.toFixed(2)}`,
  );
}
