import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { syncDirectory, temporarySibling } from '../core/atomic-file.ts';
import { IntegrityError, LgwanMirrorError } from '../core/errors.ts';
import { isSha256Hex } from '../core/safe-name.ts';
import { streamDigestsFor, type StreamDigests } from './stream-digests.ts';

export interface BlobDigests {
  size: number;
  sha256: string;
  /** Only when the writer asked for it (a hash list in SHA-512 will be checked against it). */
  sha512?: string;
}

/** What a side's state keeps of a blob's digests (its sha256 is the key). */
export interface RecordedDigests {
  size: number;
  sha512?: string;
}

export function recordedDigests(digests: BlobDigests): RecordedDigests {
  return digests.sha512 === undefined ? { size: digests.size } : { size: digests.size, sha512: digests.sha512 };
}

/** Digests a check needs beyond SHA-256 and size. */
export interface DigestNeeds {
  sha512?: boolean;
}

/**
 * The digests of a blob already in the store, from what was recorded when it arrived — or,
 * when a check needs a digest that was not computed then (SHA-512 for a blob first written
 * for a product without a SHA-512 hash list), read again from the store. Undefined when the
 * blob is not there or not the recorded size. A blob read again is returned as it is now:
 * the caller compares its SHA-256 with the name, and records the new digest only if it matches.
 */
export async function storedDigests(store: BlobStore, sha256: string, recorded: RecordedDigests | undefined, needs: DigestNeeds = {}): Promise<BlobDigests | undefined> {
  if (!recorded || (await store.size(sha256)) !== recorded.size) return undefined;
  if (needs.sha512 && recorded.sha512 === undefined) return store.hashAgain(sha256, { sha512: true });
  return { sha256, ...recorded };
}

/**
 * A sink that writes to the file in batches of up to 4 MiB and only then hashes each batch,
 * so the digests always describe exactly the bytes on disk (a retry may continue from the
 * file's end with the same hash state). Large streams are hashed on the hashing thread
 * (stream-digests.ts) while this one goes on reading. Stops at `maxBytes + 1`: an endless or
 * longer-than-promised stream is cut.
 */
export class HashingFileSink extends Writable {
  readonly #handle: FileHandle;
  readonly #digester: StreamDigests;
  readonly #maxBytes: number;
  readonly #what: string;
  bytesWritten: number;
  /** Accepted but not yet written: never hashed, and not counted in bytesWritten. */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #inFlight: Promise<void> = Promise.resolve();
  readonly #onWritten: ((bytesWritten: number) => void) | undefined;

  constructor(handle: FileHandle, options: { maxBytes: number; what: string; sha512?: boolean; resumeFrom?: { bytes: number; digester: StreamDigests }; onWritten?: (bytesWritten: number) => void }) {
    super({ highWaterMark: batchBytes });
    this.#handle = handle;
    this.#maxBytes = options.maxBytes;
    this.#what = options.what;
    this.#onWritten = options.onWritten;
    this.bytesWritten = options.resumeFrom?.bytes ?? 0;
    const sha512 = options.sha512 ?? false;
    this.#digester = options.resumeFrom?.digester ?? streamDigestsFor(options.maxBytes, sha512);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) {
      this.#batch.push(chunk);
      this.#batchBytes += chunk.length;
    }
    if (this.bytesWritten + this.#batchBytes > this.#maxBytes) {
      callback(new LgwanMirrorError('E_SIZE_LIMIT', `${this.#what}: more than the expected ${this.#maxBytes} bytes`, { details: { what: this.#what, limit: this.#maxBytes } }));
      return;
    }
    // Small pieces (64 KiB from sockets and tar streams) are gathered: one writev per batch.
    if (this.#batchBytes < batchBytes) {
      callback();
      return;
    }
    this.#flushBatch().then(() => callback(), (error: Error) => callback(error));
  }

  #flushBatch(): Promise<void> {
    const buffers = this.#batch;
    const total = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    if (total === 0) return this.#inFlight;
    this.#inFlight = this.#inFlight.then(async () => {
      await writeFully(this.#handle, buffers, this.bytesWritten);
      this.bytesWritten += total;
      this.#onWritten?.(this.bytesWritten);
      // Waits while the hashing thread is far behind: the socket is then read more slowly.
      await this.#digester.update(buffers);
    });
    return this.#inFlight;
  }

  /** The last batch, then the data reaches the disk before the file is renamed into the store. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#flushBatch()
      .then(() => this.#handle.sync())
      .then(() => callback(), (error: Error) => callback(error));
  }

  /**
   * Hash state that can continue a resumed download. Waits for a write still in flight when
   * the connection broke, so the offset and the hashes describe the same bytes; a batch not
   * yet written is dropped (the resumed request asks for it again).
   */
  async settledHashState(): Promise<{ bytes: number; digester: StreamDigests }> {
    await this.#inFlight.catch(() => undefined);
    this.#batch = [];
    this.#batchBytes = 0;
    return { bytes: this.bytesWritten, digester: this.#digester };
  }

  async digests(): Promise<BlobDigests> {
    await this.#inFlight;
    return { size: this.bytesWritten, ...(await this.#digester.digests()) };
  }

  /** Frees the hash state (after the last digests() or when giving up). */
  release(): void {
    this.#digester.dispose();
  }
}

/**
 * writev until every byte is written: a write may be short (a filling disk writes what fits
 * and returns); the next attempt then reports the error itself (ENOSPC).
 */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, at);
    if (bytesWritten === 0) throw Object.assign(new Error(`write returned 0 bytes at offset ${at}`), { code: 'EIO' });
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const buffer of remaining) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    remaining = rest;
  }
}

/** Bytes gathered before one write; also the sink's highWaterMark. */
const batchBytes = 4 * 1024 * 1024;

/**
 * Content-addressed, immutable blobs: `<root>/sha256/<aa>/<hex>`. Blobs are added by
 * renaming a verified temporary file into place; a blob that already exists is the same
 * content by construction, so EEXIST-like races are benign.
 */
export class BlobStore {
  readonly root: string;
  readonly temporaryRoot: string;

  /** `temporaryRoot`: elsewhere only for a reader that must not write into the store (bundle inspect). */
  constructor(root: string, temporaryRoot = path.join(root, 'tmp')) {
    this.root = root;
    this.temporaryRoot = temporaryRoot;
  }

  pathOf(sha256: string): string {
    if (!isSha256Hex(sha256)) throw new LgwanMirrorError('E_UNSAFE_NAME', `not a sha256 digest: ${JSON.stringify(sha256)}`);
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(sha256))).isFile();
    } catch {
      return false;
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      return undefined;
    }
  }

  /** Digests of a stored blob read again from disk, streamed (large blobs on the hashing thread). */
  async hashAgain(sha256: string, options: { sha512: boolean }): Promise<BlobDigests> {
    const file = this.pathOf(sha256);
    const digester = streamDigestsFor((await stat(file)).size, options.sha512);
    try {
      let size = 0;
      for await (const chunk of createReadStream(file, { highWaterMark: batchBytes }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        await digester.update([chunk]);
      }
      return { size, ...(await digester.digests()) };
    } finally {
      digester.dispose();
    }
  }

  /** A fresh temporary file in the store's own tmp folder (same file system as the blobs). */
  async createTemporary(label: string): Promise<{ file: string; handle: FileHandle }> {
    await mkdir(this.temporaryRoot, { recursive: true });
    const file = temporarySibling(path.join(this.temporaryRoot, label.replace(/[^A-Za-z0-9._-]/gu, '_').slice(0, 80)));
    return { file, handle: await open(file, 'wx+', 0o644) };
  }

  /**
   * Moves a temporary file whose digests were computed while writing into the store,
   * after checking them against what was expected.
   */
  async adopt(temporaryFile: string, digests: BlobDigests, expected: { sha256?: string; size?: number; what: string }): Promise<string> {
    if (expected.size !== undefined && digests.size !== expected.size) {
      await rm(temporaryFile, { force: true });
      throw new IntegrityError(`${expected.what}: ${digests.size} bytes, expected ${expected.size}`, { what: expected.what });
    }
    if (expected.sha256 !== undefined && digests.sha256 !== expected.sha256) {
      await rm(temporaryFile, { force: true });
      throw new IntegrityError(`${expected.what}: sha256 ${digests.sha256}, expected ${expected.sha256}`, { what: expected.what });
    }
    const destination = this.pathOf(digests.sha256);
    await mkdir(path.dirname(destination), { recursive: true });
    await rename(temporaryFile, destination);
    await syncDirectory(path.dirname(destination));
    return destination;
  }

  /** Removes temporary files left by a crash; called at start-up, before any writer runs. */
  async clearTemporaries(): Promise<void> {
    await rm(this.temporaryRoot, { recursive: true, force: true });
  }
}
