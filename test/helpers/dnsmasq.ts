import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A free UDP port on 127.0.0.1. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * A real DNS server (Debian's dnsmasq) on 127.0.0.1 answering only the TXT records given:
 * no upstream, no hosts file, no configuration file of the machine.
 */
export async function startDnsmasq(txt: Record<string, string>): Promise<{ server: string; stop(): Promise<void> }> {
  const port = await freeUdpPort();
  // Each instance its own pid file: the default one in /run makes a second instance refuse to start.
  const pidFile = path.join(tmpdir(), `lgwan-mirror-dnsmasq-${port}-${process.pid}.pid`);
  const records = Object.entries(txt).map(([name, text]) => `--txt-record=${name},${text}`);
  const child = spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', `--pid-file=${pidFile}`, '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--log-facility=-', ...records], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; !/started, version/u.test(log); attempt += 1) {
    if (child.exitCode !== null || attempt > 100) throw new Error(`dnsmasq did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    server: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(pidFile, { force: true });
    },
  };
}
