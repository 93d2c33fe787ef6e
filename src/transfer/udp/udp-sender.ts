import { createSocket, type Socket } from 'node:dgram';
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../core/logger.ts';
import { encodeParity, maxDataShards, maxParityShards } from './erasure-code.ts';
import { datagramTypes, encodeDatagram, headerLength, signedPayload, transferableName, type FileAnnouncement } from './wire-format.ts';

export interface UdpSenderOptions {
  /** The folder whose bundles, parts and TOCs are carried (the internet side's spool). */
  outbox: string;
  host: string;
  port: number;
  /** Sender rate limit: receivers mostly lose data to overflowing receive queues. */
  rateBitsPerSecond: number;
  /** Payload bytes per datagram (a multiple of 8; 1,400 fits an Ethernet MTU, 8,192 a jumbo frame). */
  shardSize: number;
  /** Data shards per block (k) and the share of repair shards (m = ceil(k × ratio)). */
  dataShards: number;
  repairRatio: number;
  /** Blocks interleaved when sending, so a burst of lost datagrams hits many blocks once each. */
  interleave: number;
  heartbeatSeconds: number;
  privateKey: KeyObject;
  logger: Logger;
}

/**
 * Sends files one way over UDP: each file in blocks of k data + m Reed–Solomon repair
 * shards, interleaved, at a limited rate, with signed heartbeats between. It never reads
 * from the socket: there is nothing to read behind a diode. Files are sent least-sent
 * first, so new bundles go out at once and older ones keep coming round (the carousel).
 */
export class UdpSender {
  readonly #options: UdpSenderOptions;
  readonly #socket: Socket;
  readonly #session = randomBytes(8).readBigUInt64BE(0);
  readonly #sendCounts = new Map<string, number>();
  readonly #fileIds = new Map<string, number>();
  readonly #digests = new Map<string, { size: number; mtimeMs: number; sha256: Buffer }>();
  #tokens = 0;
  #lastRefill = performance.now();
  #heartbeat: NodeJS.Timeout | undefined;
  #stopped = false;
  bytesSent = 0;
  datagramsSent = 0;

  constructor(options: UdpSenderOptions) {
    const m = Math.ceil(options.dataShards * options.repairRatio);
    if (options.dataShards < 1 || options.dataShards > maxDataShards || m > maxParityShards || options.shardSize % 8 !== 0 || options.shardSize > 65000) {
      throw new RangeError(`k = ${options.dataShards} (1–${maxDataShards}), m = ${m} (≤ ${maxParityShards}) and a shard size that is a multiple of 8 below 65,000 are required`);
    }
    this.#options = options;
    this.#socket = createSocket({ type: 'udp4', sendBufferSize: 8 * 1024 * 1024 });
  }

  get repairShards(): number {
    return Math.ceil(this.#options.dataShards * this.#options.repairRatio);
  }

  async #throttle(bytes: number): Promise<void> {
    const bytesPerSecond = this.#options.rateBitsPerSecond / 8;
    for (;;) {
      const now = performance.now();
      this.#tokens = Math.min(bytesPerSecond * 0.05, this.#tokens + ((now - this.#lastRefill) / 1000) * bytesPerSecond);
      this.#lastRefill = now;
      if (this.#tokens >= bytes) {
        this.#tokens -= bytes;
        return;
      }
      await sleep(Math.max(1, ((bytes - this.#tokens) / bytesPerSecond) * 1000));
    }
  }

  async #send(datagram: Buffer): Promise<void> {
    await this.#throttle(datagram.length);
    // Let the kernel queue drain before queueing more: no unbounded memory in the sender.
    while (this.#socket.getSendQueueCount() > 256) await sleep(1);
    this.#socket.send(datagram, this.#options.port, this.#options.host);
    this.bytesSent += datagram.length;
    this.datagramsSent += 1;
  }

  /** Sends one file once: every block, k data and m repair shards each, interleaved. */
  async sendFile(name: string): Promise<void> {
    const { dataShards: k, shardSize, interleave } = this.#options;
    const m = this.repairShards;
    const file = path.join(this.#options.outbox, name);
    const { size, mtimeMs } = await stat(file);
    // The whole file's sha256 travels in every datagram: the receiver checks the assembled file.
    let digest = this.#digests.get(name);
    if (!digest || digest.size !== size || digest.mtimeMs !== mtimeMs) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      this.#digests.set(name, (digest = { size, mtimeMs, sha256: hash.digest() }));
    }
    let fileId = this.#fileIds.get(name);
    if (fileId === undefined) this.#fileIds.set(name, (fileId = this.#fileIds.size + 1));
    const blockBytes = k * shardSize;
    const blocks = Math.max(1, Math.ceil(size / blockBytes));
    const handle = await open(file, 'r');
    try {
      const announcement = this.#announcement({ session: this.#session.toString(16), fileId, name, size, sha256: digest.sha256.toString('hex') });
      for (let first = 0; first < blocks && !this.#stopped; first += interleave) {
        // Before the first block and with every group after it: a lost announcement costs one group.
        await this.#send(announcement);
        const group: { index: number; data: Buffer; parity: Buffer }[] = [];
        for (let index = first; index < Math.min(blocks, first + interleave); index += 1) {
          const data = Buffer.alloc(blockBytes);
          await handle.read(data, 0, blockBytes, index * blockBytes);
          const parity = Buffer.alloc(m * shardSize);
          if (m > 0) await encodeParity(k, m, data, parity);
          group.push({ index, data, parity });
        }
        for (let shard = 0; shard < k + m; shard += 1) {
          for (const block of group) {
            const payload = shard < k ? block.data.subarray(shard * shardSize, (shard + 1) * shardSize) : block.parity.subarray((shard - k) * shardSize, (shard - k + 1) * shardSize);
            await this.#send(encodeDatagram({ type: 1, k, m, session: this.#session, fileId, fileSize: size, shardSize, blockIndex: block.index, shardIndex: shard, name, fileSha256: digest.sha256 }, payload));
          }
        }
      }
    } finally {
      await handle.close();
    }
    this.#sendCounts.set(name, (this.#sendCounts.get(name) ?? 0) + 1);
  }

  /** Files in the outbox, least-sent first (new files first), then by name. */
  async #queue(): Promise<string[]> {
    const names = (await readdir(this.#options.outbox).catch(() => [] as string[])).filter((name) => transferableName.test(name));
    return names.sort((a, b) => (this.#sendCounts.get(a) ?? 0) - (this.#sendCounts.get(b) ?? 0) || a.localeCompare(b));
  }

  /** Sends every file in the outbox once, least-sent first; returns the names sent. */
  async sendPass(): Promise<string[]> {
    const names = await this.#queue();
    for (const name of names) if (!this.#stopped) await this.sendFile(name);
    return names;
  }

  /** The signed announcement of one file (wire-format.ts, type 3). */
  #announcement(file: FileAnnouncement): Buffer {
    const body = Buffer.from(JSON.stringify(file));
    return encodeDatagram({ type: datagramTypes.announcement, session: this.#session }, signedPayload(body, sign(null, body, this.#options.privateKey)));
  }

  /** A heartbeat: the newest sequence in the outbox and the time, signed with the transfer key. */
  async sendHeartbeat(): Promise<void> {
    const sequences = (await readdir(this.#options.outbox).catch(() => [] as string[])).map((name) => Number(/^bundle-(\d{10})\./u.exec(name)?.[1] ?? 0));
    const body = Buffer.from(JSON.stringify({ session: this.#session.toString(16), latestSequence: Math.max(0, ...sequences), sentAt: new Date().toISOString() }));
    this.#socket.send(encodeDatagram({ type: datagramTypes.heartbeat, session: this.#session }, signedPayload(body, sign(null, body, this.#options.privateKey))), this.#options.port, this.#options.host);
  }

  /** Runs until stop(): heartbeats on their interval, passes over the outbox without end. */
  async run(): Promise<void> {
    this.#heartbeat = setInterval(() => void this.sendHeartbeat(), this.#options.heartbeatSeconds * 1000);
    await this.sendHeartbeat();
    while (!this.#stopped) {
      const sent = await this.sendPass();
      if (sent.length === 0) await sleep(1000);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    while (this.#socket.getSendQueueCount() > 0) await sleep(1);
    this.#socket.close();
  }

  static readonly headerBytes = headerLength;
}
