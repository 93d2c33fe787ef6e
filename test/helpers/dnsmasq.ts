import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A port on 127.0.0.1 free for TCP and for UDP at this moment: dnsmasq listens on both. Taken
 * from a TCP listen on port 0 because Linux hands those out from the odd ports and outgoing
 * connections (of which the other test files make many) from the even ones; a UDP port 0 is
 * any port, and once collided with an outgoing connection here.
 */
async function freeDnsPort(): Promise<number> {
  const tcp = createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as AddressInfo;
  const udp = createSocket('udp4');
  const udpFree = await new Promise<boolean>((resolve) => {
    udp.once('error', () => resolve(false));
    udp.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (udpFree) await new Promise<void>((resolve) => udp.close(() => resolve()));
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  return udpFree ? port : freeDnsPort();
}

/**
 * A real DNS server (Debian's dnsmasq) on 127.0.0.1 answering only the TXT records given:
 * no upstream, no hosts file, no configuration file of the machine.
 */
export async function startDnsmasq(txt: Record<string, string>): Promise<{ server: string; stop(): Promise<void> }> {
  // Test files run in parallel processes, each opening ports: one may take the port between
  // the check above and dnsmasq's bind. Then dnsmasq exits saying so, and another port is tried.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOn(await freeDnsPort(), txt);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 5) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startOn(port: number, txt: Record<string, string>): Promise<{ server: string; stop(): Promise<void> }> {
  // Each instance its own pid file: the default one in /run makes a second instance refuse to start.
  const pidFile = path.join(tmpdir(), `lgwan-mirror-dnsmasq-${port}-${process.pid}.pid`);
  const records = Object.entries(txt).map(([name, text]) => `--txt-record=${name},${text}`);
  const child = spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', `--pid-file=${pidFile}`, '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=127.0.0.1', `--port=${port}`, '--log-facility=-', ...records], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; !/started, version/u.test(log); attempt += 1) {
    if (child.exitCode !== null || attempt > 100) {
      child.kill('SIGTERM');
      await exited;
      await rm(pidFile, { force: true });
      const message = `dnsmasq did not start on port ${port}: ${log}`;
      throw /Address already in use/u.test(log) ? new PortTakenError(message) : new Error(message);
    }
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
