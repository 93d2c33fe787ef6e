import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { generateTransferKeyPair } from '../src/bundle/transfer-key.ts';
import { createNamespacePair, type NamespacePair } from '../test/helpers/network-namespaces.ts';
import { createEnvironment } from '../test/helpers/environment.ts';

const cli = path.join(import.meta.dirname, '..', 'bin', 'lgwan-mirror.js');
const mib = 1024 * 1024;

async function sha256File(file: string): Promise<{ hex: string; ms: number }> {
  const started = performance.now();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * mib })) hash.update(chunk as Buffer);
  return { hex: hash.digest('hex'), ms: performance.now() - started };
}

async function waitForFile(file: string, size: number, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if ((await stat(file).catch(() => undefined))?.size === size) return performance.now();
    await sleep(10);
  }
  return undefined;
}

function devices(network: NamespacePair) {
  return Promise.all([
    network.exec(network.sender, 'ip', ['-o', 'link']).then(({ stdout }) => /\d+: (tx-[0-9a-f]+)@/u.exec(stdout)![1]!),
    network.exec(network.receiver, 'ip', ['-o', 'link']).then(({ stdout }) => /\d+: (rx-[0-9a-f]+)@/u.exec(stdout)![1]!),
  ]);
}

/** udpcast's asynchronous FEC mode, the reference: one-way, rate-limited, no retransmissions. */
async function udpcast(network: NamespacePair, input: string, output: string, rate: string): Promise<{ ms: number; intact: boolean }> {
  const [txDevice, rxDevice] = await devices(network);
  await rm(output, { force: true });
  const receiver = spawn('/usr/sbin/ip', ['netns', 'exec', network.receiver, 'udp-receiver', '--file', output, '--interface', rxDevice, '--portbase', '9000', '--nokbd', '--nosync', '--mcast-rdv-address', network.receiverAddress], { stdio: 'ignore' });
  await sleep(1000);
  const started = performance.now();
  const sender = spawn('/usr/sbin/ip', ['netns', 'exec', network.sender, 'udp-sender', '--file', input, '--interface', txDevice, '--portbase', '9000', '--async', '--fec', '8x8/64', '--max-bitrate', rate, '--nokbd', '--autostart', '1', '--mcast-data-address', network.receiverAddress, '--mcast-rdv-address', network.receiverAddress], { stdio: 'ignore' });
  await new Promise((resolve) => sender.once('exit', resolve));
  const ms = performance.now() - started;
  await sleep(1500);
  receiver.kill('SIGKILL');
  const [a, b] = await Promise.all([sha256File(input), sha256File(output).catch(() => ({ hex: '' }))]);
  return { ms, intact: a.hex === b.hex };
}

/** Ours: the real CLI, `send --udp` in one namespace and `receive --udp` in the other. */
async function ours(network: NamespacePair, root: string, input: string, rateMbps: number, lossPercent: number): Promise<{ ms: number | undefined; intact: boolean }> {
  const outbox = path.join(root, 'outbox');
  const inbox = path.join(root, 'inbox');
  await rm(inbox, { recursive: true, force: true });
  await mkdir(inbox, { recursive: true });
  const config = path.join(root, 'config.yaml');
  await writeFile(
    config,
    stringify({
      internet: { storage: 'internet', spool: outbox, udp: { host: network.receiverAddress, port: 47474, rateMbps, shardSize: 8192, dataShards: 20, repairRatio: 0.1, interleave: 16, heartbeatSeconds: 5 } },
      lgwan: { storage: 'lgwan', spool: inbox, transferPublicKey: path.join(root, 'transfer-key.pub.pem'), udp: { host: network.receiverAddress, port: 47474, reassemblySeconds: 60 } },
    }),
  );
  await network.setLoss(lossPercent);
  const start = (namespace: string, args: string[]): ChildProcess =>
    spawn('/usr/sbin/ip', ['netns', 'exec', namespace, process.execPath, cli, ...args, '--config', config], { stdio: 'ignore', env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'error' } });
  const receiver = start(network.receiver, ['receive', '--udp']);
  await sleep(1500);
  const started = performance.now();
  const sender = start(network.sender, ['send', '--udp']);
  const size = (await stat(input)).size;
  const done = await waitForFile(path.join(inbox, path.basename(input)), size, 120_000);
  sender.kill('SIGKILL');
  receiver.kill('SIGKILL');
  await network.setLoss(0);
  const intact = done !== undefined && (await sha256File(input)).hex === (await sha256File(path.join(inbox, path.basename(input)))).hex;
  return { ms: done === undefined ? undefined : done - started, intact };
}

/**
 * The UDP diode transport against udpcast (--async, FEC 8x8) on the same 256 MiB file over
 * a veth pair between two network namespaces, in one run; then import throughput against
 * the raw sha256 speed of the same bundle.
 */
export async function benchUdpDiode(options: { fileMiB: number }): Promise<void> {
  const network = await createNamespacePair();
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-bench-udp-'));
  try {
    const [txDevice, rxDevice] = await devices(network);
    await network.exec(network.sender, 'ip', ['route', 'add', '224.0.0.0/4', 'dev', txDevice]);
    await network.exec(network.receiver, 'ip', ['route', 'add', '224.0.0.0/4', 'dev', rxDevice]);
    await mkdir(path.join(root, 'outbox'), { recursive: true });
    await generateTransferKeyPair(path.join(root, 'internet', 'transfer-key.pem'), path.join(root, 'transfer-key.pub.pem'));
    const input = path.join(root, 'outbox', 'bundle-0000000001.tar');
    const out = createWriteStream(input);
    for (let written = 0; written < options.fileMiB * mib; written += 4 * mib) if (!out.write(randomBytes(4 * mib))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    await new Promise<void>((resolve) => out.end(() => resolve()));
    const bits = options.fileMiB * mib * 8;
    const goodput = (ms: number | undefined) => (ms === undefined ? '—' : `${((bits / (ms / 1000)) / 1e6).toFixed(0)} Mbit/s`);

    console.log(`\nUDP diode: ${options.fileMiB} MiB over a veth pair between two network namespaces (goodput = file size / time to the complete file)`);
    console.log(['transport', 'rate limit', 'loss', 'time s', 'goodput', 'intact'].join('\t'));
    let bestReference = 0;
    for (const rate of ['250m', '500m', '1000m']) {
      const result = await udpcast(network, input, path.join(root, 'udpcast-out'), rate);
      console.log(['udpcast --async --fec 8x8/64', rate, '0 %', (result.ms / 1000).toFixed(1), goodput(result.ms), result.intact ? 'yes' : 'NO'].join('\t'));
      if (result.intact) bestReference = Math.max(bestReference, bits / (result.ms / 1000));
    }
    let bestOurs = 0;
    for (const [rate, loss] of [[1000, 0], [2000, 0], [3000, 0], [2000, 1], [3000, 1]] as const) {
      const result = await ours(network, root, input, rate, loss);
      console.log(['lgwan-mirror send/receive --udp (RS 20+2)', `${rate}m`, `${loss} %`, result.ms === undefined ? '—' : (result.ms / 1000).toFixed(1), goodput(result.ms), result.intact ? 'yes' : 'NO'].join('\t'));
      if (result.intact && result.ms !== undefined) bestOurs = Math.max(bestOurs, bits / (result.ms / 1000));
    }
    console.log(`best intact goodput: ours ${(bestOurs / 1e6).toFixed(0)} Mbit/s, udpcast ${(bestReference / 1e6).toFixed(0)} Mbit/s, ratio ${(bestOurs / bestReference).toFixed(2)} (target ≥ 2)`);
  } finally {
    await network.remove();
    await rm(root, { recursive: true, force: true });
  }
}

/** Import throughput of a large bundle against the raw sha256 speed of the same file. */
export async function benchImport(options: { fileMiB: number }): Promise<void> {
  const environment = await createEnvironment({ mozilla: { fileSize: Math.ceil((options.fileMiB * mib) / 8) } });
  try {
    const { bundle } = await (await environment.openInternet()).runOnce();
    const file = (bundle as { file: string }).file;
    const size = (await stat(file)).size;
    const hashed = await sha256File(file);
    const lgwan = await environment.openLgwan();
    const started = performance.now();
    const outcomes = await lgwan.importOnce();
    const ms = performance.now() - started;
    await lgwan.close();
    if (outcomes[0]?.status !== 'published') throw new Error(`import did not publish: ${JSON.stringify(outcomes)}`);
    const rate = (milliseconds: number) => size / mib / (milliseconds / 1000);
    console.log(`\nImport of a ${(size / mib).toFixed(0)} MiB bundle: ${rate(ms).toFixed(0)} MiB/s (signature, sha256 of every blob and sha512 of the Mozilla files checked against SHA512SUMS — all of this bundle's large blobs, vendor signatures, atomic publish); raw sha256 of the same file: ${rate(hashed.ms).toFixed(0)} MiB/s; ratio ${(rate(ms) / rate(hashed.ms)).toFixed(2)}`);
  } finally {
    await environment.cleanup();
  }
}
