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
import { printMachine } from './machine.ts';

const cli = path.join(import.meta.dirname, '..', 'bin', 'lgwan-mirror.js');
const mib = 1024 * 1024;

async function sha256File(file: string): Promise<{ hex: string; ms: number }> {
  const started = performance.now();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * mib })) hash.update(chunk as Buffer);
  return { hex: hash.digest('hex'), ms: performance.now() - started };
}

async function waitForFile(file: string, size: number, timeoutMs: number, stopped: () => boolean = () => false): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs && !stopped()) {
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
async function udpcast(network: NamespacePair, input: string, output: string, rate: string): Promise<{ ms: number; intact: boolean; received: number }> {
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
  const received = (await stat(output).catch(() => undefined))?.size ?? 0;
  return { ms, intact: a.hex === b.hex, received };
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
      lgwan: { storage: 'lgwan', spool: inbox, transferPublicKey: path.join(root, 'transfer-key.pub.pem'), udp: { host: network.receiverAddress, port: 47474, senders: [network.senderAddress], reassemblySeconds: 60 } },
    }),
  );
  await network.setLoss(lossPercent);
  // A side that exits on its own (a config error, a refused key) ends the run at once, with what it said.
  let failure: string | undefined;
  const start = (namespace: string, args: string[]): ChildProcess => {
    const child = spawn('/usr/sbin/ip', ['netns', 'exec', namespace, process.execPath, cli, ...args, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'error' } });
    let stderr = '';
    child.stderr!.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-2000)));
    child.once('exit', (code) => {
      if (code !== null && code !== 0) failure ??= `${args.join(' ')} exited with ${code}: ${stderr.trim()}`;
    });
    return child;
  };
  const receiver = start(network.receiver, ['receive', '--udp']);
  await sleep(1500);
  const started = performance.now();
  const sender = start(network.sender, ['send', '--udp']);
  const size = (await stat(input)).size;
  const done = await waitForFile(path.join(inbox, path.basename(input)), size, 120_000, () => failure !== undefined);
  sender.kill('SIGKILL');
  receiver.kill('SIGKILL');
  await network.setLoss(0);
  if (failure) throw new Error(failure);
  const intact = done !== undefined && (await sha256File(input)).hex === (await sha256File(path.join(inbox, path.basename(input)))).hex;
  return { ms: done === undefined ? undefined : done - started, intact };
}

/**
 * The UDP diode transport against udpcast (--async, FEC 8x8) on the same file over a veth
 * pair between two network namespaces, runs interleaved (udpcast, ours, udpcast, ours…).
 * udpcast is run at rates from BENCH_UDPCAST_RATES (default 100m,250m,500m,1000m): the
 * ratio compares the best intact run of each, and the report says up to which rate udpcast
 * stayed intact, so the reference is never a rate at which it only loses data.
 */
export async function benchUdpDiode(options: { fileMiB: number }): Promise<void> {
  await printMachine('UDP diode');
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
    for (let written = 0; written < options.fileMiB * mib; written += 4 * mib) if (!out.write(randomBytes(Math.min(4 * mib, options.fileMiB * mib - written)))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    await new Promise<void>((resolve) => out.end(() => resolve()));
    const bits = options.fileMiB * mib * 8;
    const goodput = (ms: number | undefined) => (ms === undefined ? '—' : `${((bits / (ms / 1000)) / 1e6).toFixed(0)} Mbit/s`);

    console.log(`\nUDP diode: ${options.fileMiB} MiB over a veth pair between two network namespaces (goodput = file size / time to the complete file), runs interleaved`);
    console.log(['transport', 'rate limit', 'loss', 'time s', 'goodput', 'intact'].join('\t'));
    const udpcastRates = (process.env.BENCH_UDPCAST_RATES ?? '100m,250m,500m,1000m').split(',').map((rate) => rate.trim()).filter(Boolean);
    const ourSettings = [[1000, 0], [2000, 0], [3000, 0], [2000, 1], [3000, 1]] as const;
    let bestReference = 0;
    let bestOurs = 0;
    const intactRates: string[] = [];
    const brokenRates: string[] = [];
    for (let index = 0; index < Math.max(udpcastRates.length, ourSettings.length); index += 1) {
      const rate = udpcastRates[index];
      if (rate !== undefined) {
        const result = await udpcast(network, input, path.join(root, 'udpcast-out'), rate);
        console.log(['udpcast --async --fec 8x8/64', rate, '0 %', (result.ms / 1000).toFixed(1), goodput(result.ms), result.intact ? 'yes' : `NO (${(result.received / mib).toFixed(1)} of ${options.fileMiB} MiB written)`].join('\t'));
        (result.intact ? intactRates : brokenRates).push(rate);
        if (result.intact) bestReference = Math.max(bestReference, bits / (result.ms / 1000));
      }
      const setting = ourSettings[index];
      if (setting !== undefined) {
        const [ourRate, loss] = setting;
        const result = await ours(network, root, input, ourRate, loss);
        console.log(['lgwan-mirror send/receive --udp (RS 20+2)', `${ourRate}m`, `${loss} %`, result.ms === undefined ? '—' : (result.ms / 1000).toFixed(1), goodput(result.ms), result.intact ? 'yes' : 'NO'].join('\t'));
        if (result.intact && result.ms !== undefined) bestOurs = Math.max(bestOurs, bits / (result.ms / 1000));
      }
    }
    console.log(`udpcast intact at ${intactRates.join(', ') || 'no rate tried'}; not intact at ${brokenRates.join(', ') || 'no rate tried'}`);
    console.log(
      bestReference > 0
        ? `best intact goodput: ours ${(bestOurs / 1e6).toFixed(0)} Mbit/s, udpcast ${(bestReference / 1e6).toFixed(0)} Mbit/s, ratio ${(bestOurs / bestReference).toFixed(2)} (target ≥ 2)`
        : `best intact goodput: ours ${(bestOurs / 1e6).toFixed(0)} Mbit/s; udpcast had no intact run at the rates tried, so there is no ratio (try lower BENCH_UDPCAST_RATES)`,
    );
  } finally {
    await network.remove();
    await rm(root, { recursive: true, force: true });
  }
}

/** Import throughput of a large bundle against the raw sha256 speed of the same file. */
export async function benchImport(options: { fileMiB: number }): Promise<void> {
  await printMachine('import');
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
