import { createSocket, type Socket } from 'node:dgram';
import { createHash, verify } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { isIP, type BlockList } from 'node:net';
import { proxyList } from '../../core/address-list.ts';
import path from 'node:path';
import { syncDirectory, writeFileAtomic } from '../../core/atomic-file.ts';
import type { Logger } from '../../core/logger.ts';
import type { TrustedTransferKey } from '../../bundle/transfer-key.ts';
import { rebuildShards } from './erasure-code.ts';
import { decodeDatagram, splitSignedPayload, type DataHeader, type FileAnnouncement } from './wire-format.ts';

function fileKey(session: bigint, fileId: number, name: string, size: number, sha256: string): string {
  return `${session.toString(16)}:${fileId}:${name}:${size}:${sha256}`;
}

export interface UdpReceiverOptions {
  host: string;
  port: number;
  /** Where complete files appear (the LGWAN side's spool), each by an atomic rename. */
  inbox: string;
  /** Partial files, never served and never imported. */
  staging: string;
  /** For heartbeats: the transfer keys the LGWAN side trusts. */
  keys: () => readonly TrustedTransferKey[];
  /** Where the last good heartbeat is recorded for the status page. */
  heartbeatFile: string;
  /**
   * The sender's addresses or CIDR ranges (the diode's input side): datagrams from anywhere
   * else are dropped before they are parsed.
   */
  senders: readonly string[];
  maxFileBytes: number;
  /** A partial file that makes no progress for this long is dropped (the carousel resends it). */
  reassemblySeconds: number;
  logger: Logger;
}

interface Block {
  data: Buffer;
  parity: Buffer;
  present: number;
  count: number;
  busy: boolean;
}

interface Incoming {
  header: DataHeader;
  staging: string;
  handle: Promise<FileHandle>;
  totalBlocks: number;
  done: Uint8Array;
  doneCount: number;
  blocks: Map<number, Block>;
  lastProgress: number;
  finishing: boolean;
}

/**
 * Receives files over a one-way UDP link: checks each datagram's CRC and shape, collects
 * k of the k + m shards of each block (rebuilding lost ones with Reed–Solomon), writes
 * blocks into a staging file, and renames the file into the inbox only when every block is
 * in. It never sends anything. Whether the file is a good bundle is the importer's question.
 */
export class UdpReceiver {
  readonly #options: UdpReceiverOptions;
  readonly #socket: Socket;
  readonly #incoming = new Map<string, Incoming>();
  readonly #delivered = new Set<string>();
  /** Files whose signed announcement verified, by fileKey(); only these are staged. */
  readonly #announced = new Set<string>();
  readonly #senders: BlockList;
  /** The newest heartbeat accepted: one not newer is a replay (issue 13: it kept a cut link shown alive). */
  #lastHeartbeat: { sentAt: number; latestSequence: number } | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  stats = { datagrams: 0, rejected: 0, duplicates: 0, filesCompleted: 0, blocksRebuilt: 0, heartbeats: 0, hashMismatches: 0, foreignSender: 0, unannounced: 0, replayedHeartbeats: 0 };

  constructor(options: UdpReceiverOptions) {
    this.#options = options;
    this.#senders = proxyList(options.senders);
    this.#socket = createSocket({ type: 'udp4', recvBufferSize: 32 * 1024 * 1024 });
  }

  async start(): Promise<{ port: number }> {
    await mkdir(this.#options.inbox, { recursive: true });
    await rm(this.#options.staging, { recursive: true, force: true });
    await mkdir(this.#options.staging, { recursive: true });
    const last = await readFile(this.#options.heartbeatFile, 'utf8').then((text) => JSON.parse(text) as { sentAt?: unknown; latestSequence?: unknown }, () => undefined);
    if (last && typeof last.sentAt === 'string' && typeof last.latestSequence === 'number') this.#lastHeartbeat = { sentAt: Date.parse(last.sentAt), latestSequence: last.latestSequence };
    this.#socket.on('message', (datagram, remote) => {
      const family = isIP(remote.address);
      if (family === 0 || !this.#senders.check(remote.address, family === 6 ? 'ipv6' : 'ipv4')) {
        this.stats.foreignSender += 1;
        return;
      }
      this.#handle(datagram).catch((error: unknown) => this.#options.logger.error({ error: String(error) }, 'datagram handling failed'));
    });
    await new Promise<void>((resolve) => this.#socket.bind(this.#options.port, this.#options.host, resolve));
    this.#sweeper = setInterval(() => void this.#sweep(), 1000);
    return { port: this.#socket.address().port };
  }

  async stop(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#socket.close();
    for (const incoming of this.#incoming.values()) await (await incoming.handle).close().catch(() => undefined);
    this.#incoming.clear();
  }

  async #handle(datagram: Buffer): Promise<void> {
    this.stats.datagrams += 1;
    const decoded = decodeDatagram(datagram);
    if ('error' in decoded) {
      this.stats.rejected += 1;
      return;
    }
    if (decoded.header.type === 2) return this.#heartbeat(decoded.payload);
    if (decoded.header.type === 3) return this.#announcement(decoded.header.session, decoded.payload);
    const header = decoded.header;
    if (!this.#announced.has(fileKey(header.session, header.fileId, header.name, header.fileSize, header.fileSha256.toString('hex')))) {
      // Not announced under the transfer key (yet): nothing of it is written anywhere.
      this.stats.unannounced += 1;
      return;
    }
    if (header.fileSize > this.#options.maxFileBytes) {
      this.stats.rejected += 1;
      return;
    }
    const deliveredKey = `${header.name}:${header.fileSize}`;
    if (this.#delivered.has(deliveredKey)) return;
    const key = `${header.session}:${header.fileId}:${header.name}:${header.fileSize}:${header.k}:${header.m}:${header.shardSize}:${header.fileSha256.toString('hex')}`;
    let incoming = this.#incoming.get(key);
    if (!incoming) {
      // Already in the inbox from an earlier session (a restart, the carousel): nothing to do.
      // Synchronous on purpose: no other datagram may start the same file meanwhile.
      if (statSync(path.join(this.#options.inbox, header.name), { throwIfNoEntry: false })?.size === header.fileSize) {
        this.#delivered.add(deliveredKey);
        return;
      }
      const staging = path.join(this.#options.staging, `${header.name}.${header.session.toString(16)}.partial`);
      const totalBlocks = Math.max(1, Math.ceil(header.fileSize / (header.k * header.shardSize)));
      incoming = { header, staging, handle: open(staging, 'w+'), totalBlocks, done: new Uint8Array(totalBlocks), doneCount: 0, blocks: new Map(), lastProgress: Date.now(), finishing: false };
      this.#incoming.set(key, incoming);
    }
    if (incoming.done[header.blockIndex] || header.blockIndex >= incoming.totalBlocks) {
      this.stats.duplicates += 1;
      return;
    }
    const { k, m, shardSize } = header;
    let block = incoming.blocks.get(header.blockIndex);
    if (!block) incoming.blocks.set(header.blockIndex, (block = { data: Buffer.alloc(k * shardSize), parity: Buffer.alloc(Math.max(1, m) * shardSize), present: 0, count: 0, busy: false }));
    const bit = 1 << header.shardIndex;
    // Once k shards are in, the block is being rebuilt in the thread pool: its buffers must
    // not change under it, so later shards of the block are not copied in.
    if (block.present & bit || block.busy) {
      this.stats.duplicates += 1;
      return;
    }
    if (header.shardIndex < k) decoded.payload.copy(block.data, header.shardIndex * shardSize);
    else decoded.payload.copy(block.parity, (header.shardIndex - k) * shardSize);
    block.present |= bit;
    block.count += 1;
    incoming.lastProgress = Date.now();
    if (block.count < k || block.busy) return;
    block.busy = true;
    const dataMask = (1 << k) - 1;
    if ((block.present & dataMask) !== dataMask) {
      await rebuildShards(k, m, block.present, block.data, block.parity);
      this.stats.blocksRebuilt += 1;
    }
    const offset = header.blockIndex * k * shardSize;
    const length = Math.min(k * shardSize, header.fileSize - offset);
    await (await incoming.handle).write(block.data, 0, length, offset);
    incoming.blocks.delete(header.blockIndex);
    incoming.done[header.blockIndex] = 1;
    incoming.doneCount += 1;
    if (incoming.doneCount === incoming.totalBlocks && !incoming.finishing) await this.#finish(key, incoming);
  }

  async #finish(key: string, incoming: Incoming): Promise<void> {
    incoming.finishing = true;
    const handle = await incoming.handle;
    await handle.sync();
    await handle.close();
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(incoming.staging, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    if (!hash.digest().equals(incoming.header.fileSha256)) {
      // Never deliver a file that is not the one sent; the carousel brings it again.
      this.#incoming.delete(key);
      await rm(incoming.staging, { force: true });
      this.stats.hashMismatches += 1;
      this.#options.logger.error({ file: incoming.header.name }, 'reassembled file does not match its sha256; dropped');
      return;
    }
    await rename(incoming.staging, path.join(this.#options.inbox, incoming.header.name));
    await syncDirectory(this.#options.inbox);
    this.#incoming.delete(key);
    this.#delivered.add(`${incoming.header.name}:${incoming.header.fileSize}`);
    this.stats.filesCompleted += 1;
    this.#options.logger.info({ file: incoming.header.name, bytes: incoming.header.fileSize }, 'file received');
  }

  #announcement(session: bigint, payload: Buffer): void {
    const signed = splitSignedPayload(payload);
    if (!signed || !this.#options.keys().some((key) => verify(null, signed.body, key.publicKey, signed.signature))) {
      this.stats.rejected += 1;
      return;
    }
    let file: Partial<FileAnnouncement>;
    try {
      file = JSON.parse(signed.body.toString('utf8')) as Partial<FileAnnouncement>;
    } catch {
      return;
    }
    if (file.session !== session.toString(16) || typeof file.fileId !== 'number' || typeof file.name !== 'string' || typeof file.size !== 'number' || typeof file.sha256 !== 'string') return;
    // Bounded: only the key holder can add entries, and old sessions age out with the set's size.
    if (this.#announced.size >= 100_000) this.#announced.clear();
    this.#announced.add(fileKey(session, file.fileId, file.name, file.size, file.sha256));
  }

  async #heartbeat(payload: Buffer): Promise<void> {
    const signed = splitSignedPayload(payload);
    if (!signed) return;
    const { body, signature } = signed;
    const signer = this.#options.keys().find((key) => verify(null, body, key.publicKey, signature));
    if (!signer) {
      this.stats.rejected += 1;
      return;
    }
    let parsed: { latestSequence?: unknown; sentAt?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.latestSequence !== 'number' || typeof parsed.sentAt !== 'string') return;
    const sentAt = Date.parse(parsed.sentAt);
    if (Number.isNaN(sentAt)) return;
    const last = this.#lastHeartbeat;
    if (last && (sentAt <= last.sentAt || parsed.latestSequence < last.latestSequence)) {
      this.stats.replayedHeartbeats += 1;
      return;
    }
    this.#lastHeartbeat = { sentAt, latestSequence: parsed.latestSequence };
    this.stats.heartbeats += 1;
    await writeFileAtomic(this.#options.heartbeatFile, JSON.stringify({ receivedAt: new Date().toISOString(), sentAt: parsed.sentAt, latestSequence: parsed.latestSequence, keyId: signer.keyId }));
  }

  /** Drops partial files that stopped making progress; the carousel will bring them again. */
  async #sweep(): Promise<void> {
    const limit = Date.now() - this.#options.reassemblySeconds * 1000;
    for (const [key, incoming] of this.#incoming) {
      if (incoming.lastProgress >= limit || incoming.finishing) continue;
      this.#incoming.delete(key);
      await (await incoming.handle).close().catch(() => undefined);
      await rm(incoming.staging, { force: true });
      this.#options.logger.warn({ file: incoming.header.name, blocks: `${incoming.doneCount}/${incoming.totalBlocks}` }, 'partial file dropped after the reassembly timeout');
    }
  }
}
