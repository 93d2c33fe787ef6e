import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { syncDirectory, temporarySibling } from '../core/atomic-file.ts';
import { IntegrityError, LgwanMirrorError } from '../core/errors.ts';
import { isSha256Hex } from '../core/safe-name.ts';

export interface BlobDigests {
  size: number;
  sha256: string;
  sha512: string;
}

/**
 * A sink that writes each chunk to the file and only then hashes it, so the digests always
 * describe exactly the bytes on disk (a retry may continue from the file's end with the
 * same hash state). Stops at `maxBytes + 1`: an endless or longer-than-promised stream is cut.
 */
export class HashingFileSink extends Writable {
  readonly #handle: FileHandle;
  readonly #sha256: Hash;
  readonly #sha512: Hash;
  readonly #maxBytes: number;
  readonly #what: string;
  bytesWritten: number;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(handle: FileHandle, options: { maxBytes: number; what: string; resumeFrom?: { bytes: number; sha256: Hash; sha512: Hash } }) {
    super({ highWaterMark: 1 << 20 });
    this.#handle = handle;
    this.#maxBytes = options.maxBytes;
    this.#what = options.what;
    this.bytesWritten = options.resumeFrom?.bytes ?? 0;
    this.#sha256 = options.resumeFrom?.sha256 ?? createHash('sha256');
    this.#sha512 = options.resumeFrom?.sha512 ?? createHash('sha512');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.bytesWritten + chunk.length > this.#maxBytes) {
      callback(new LgwanMirrorError('E_SIZE_LIMIT', `${this.#what}: more than the expected ${this.#maxBytes} bytes`, { details: { what: this.#what, limit: this.#maxBytes } }));
      return;
    }
    this.#inFlight = this.#handle.write(chunk, 0, chunk.length, this.bytesWritten).then(
      () => {
        this.bytesWritten += chunk.length;
        this.#sha256.update(chunk);
        this.#sha512.update(chunk);
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** Chunks queued while a write was in flight go to disk in one writev (tar streams give 64 KiB pieces). */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const buffers = chunks.map(({ chunk }) => chunk);
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    if (this.bytesWritten + total > this.#maxBytes) {
      callback(new LgwanMirrorError('E_SIZE_LIMIT', `${this.#what}: more than the expected ${this.#maxBytes} bytes`, { details: { what: this.#what, limit: this.#maxBytes } }));
      return;
    }
    this.#inFlight = this.#handle.writev(buffers, this.bytesWritten).then(
      () => {
        this.bytesWritten += total;
        for (const buffer of buffers) {
          this.#sha256.update(buffer);
          this.#sha512.update(buffer);
        }
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** Data reaches the disk before the file is renamed into the store. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#handle.sync().then(() => callback(), (error: Error) => callback(error));
  }

  /**
   * Hash states that can continue a resumed download. Waits for a write still in flight
   * when the connection broke, so the offset and the hashes describe the same bytes.
   */
  async settledHashState(): Promise<{ bytes: number; sha256: Hash; sha512: Hash }> {
    await this.#inFlight;
    return { bytes: this.bytesWritten, sha256: this.#sha256, sha512: this.#sha512 };
  }

  digests(): BlobDigests {
    return { size: this.bytesWritten, sha256: this.#sha256.copy().digest('hex'), sha512: this.#sha512.copy().digest('hex') };
  }
}

/**
 * Content-addressed, immutable blobs: `<root>/sha256/<aa>/<hex>`. Blobs are added by
 * renaming a verified temporary file into place; a blob that already exists is the same
 * content by construction, so EEXIST-like races are benign.
 */
export class BlobStore {
  readonly root: string;
  readonly temporaryRoot: string;

  constructor(root: string) {
    this.root = root;
    this.temporaryRoot = path.join(root, 'tmp');
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
