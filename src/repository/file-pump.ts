import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

export interface FilePumpOptions {
  /** Read buffers of all downloads of this process together, in bytes (default 32 MiB). */
  budgetBytes?: number;
  /** The read size of a download while few run (default 1 MiB). */
  maxReadBytes?: number;
  /** The smallest read, however many downloads run (default 64 KiB). */
  minReadBytes?: number;
}

/**
 * Sends byte ranges of open files to responses without a stream pipeline per response.
 *
 * Large reads are what make one download fast (fewer trips through the thread pool and the
 * socket), but a read stream keeps its buffer per download: 500 installers downloaded at once
 * held half a gigabyte (docs/benchmarks.md, the soak). Here every download of the process
 * shares one budget: the read size is the budget divided among the downloads running, between
 * `minReadBytes` and `maxReadBytes` (a power of two), and a download holds at most two
 * buffers (the one being written, the next being read). Memory follows the number of
 * downloads, never the size of the files, and stays within about twice the budget until more
 * downloads run than `budget / minRead`. Buffers come back once the socket has taken their
 * bytes (the write's callback) and are used again: fresh megabyte buffers per read left the
 * allocator holding hundreds of MiB it never gave back.
 */
export class FilePump {
  readonly #budget: number;
  readonly #maxRead: number;
  readonly #minRead: number;
  #active = 0;
  /** Free buffers by size, at most `budget` bytes of them. */
  readonly #free = new Map<number, Buffer[]>();
  #freeBytes = 0;

  constructor(options: FilePumpOptions = {}) {
    this.#budget = options.budgetBytes ?? 32 * 1024 * 1024;
    this.#maxRead = options.maxReadBytes ?? 1024 * 1024;
    this.#minRead = Math.min(options.minReadBytes ?? 64 * 1024, this.#maxRead);
  }

  /** Downloads being sent now. */
  get active(): number {
    return this.#active;
  }

  /** Bytes of free buffers kept for the next reads. */
  get pooledBytes(): number {
    return this.#freeBytes;
  }

  /** The size of the next read: the budget shared by the downloads running, as a power of two. */
  readSize(): number {
    const share = this.#budget / Math.max(1, this.#active);
    const size = share >= 1 ? 2 ** Math.floor(Math.log2(share)) : 1;
    return Math.max(this.#minRead, Math.min(this.#maxRead, size));
  }

  #take(size: number): Buffer {
    const buffer = this.#free.get(size)?.pop();
    if (!buffer) return Buffer.allocUnsafeSlow(size);
    this.#freeBytes -= size;
    return buffer;
  }

  #give(buffer: Buffer): void {
    if (this.#freeBytes + buffer.length > this.#budget) return;
    let list = this.#free.get(buffer.length);
    if (!list) this.#free.set(buffer.length, (list = []));
    list.push(buffer);
    this.#freeBytes += buffer.length;
  }

  /**
   * Writes bytes start..end (inclusive) of `handle` to `response` and ends it; the handle is
   * closed when done. A read error or a file shorter than promised destroys the response, so
   * the client sees a body shorter than Content-Length rather than wrong bytes; a client that
   * goes away stops the reads.
   */
  send(handle: FileHandle, start: number, end: number, response: ServerResponse, file: string): void {
    this.#active += 1;
    void this.#pump(handle, start, end, response, file).finally(() => {
      this.#active -= 1;
    });
  }

  async #pump(handle: FileHandle, start: number, end: number, response: ServerResponse, file: string): Promise<void> {
    const read = async (position: number): Promise<{ buffer: Buffer; chunk: Buffer }> => {
      const size = this.readSize();
      const buffer = this.#take(size);
      try {
        const length = Math.min(size, end - position + 1);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        if (bytesRead === 0) throw new Error(`${file}: the file ended at byte ${position}, before byte ${end + 1}`);
        return { buffer, chunk: buffer.subarray(0, bytesRead) };
      } catch (error) {
        this.#give(buffer);
        throw error;
      }
    };
    let position = start;
    let next: Promise<{ buffer: Buffer; chunk: Buffer }> | undefined = read(position);
    try {
      while (next) {
        const { buffer, chunk } = await next;
        position += chunk.length;
        next = undefined;
        if (response.destroyed) {
          this.#give(buffer);
          break;
        }
        // The next read runs while this chunk is written.
        if (position <= end) next = read(position);
        // Back to the pool once the socket holds the bytes; never, if the write fails (the buffer is left to the GC).
        const more = response.write(chunk, (error) => {
          if (!error) this.#give(buffer);
        });
        if (!more && next) await drainedOrClosed(response);
      }
      if (!response.destroyed) response.end();
    } catch (error) {
      response.destroy(error as Error);
    } finally {
      const unused = await next?.catch(() => undefined);
      if (unused) this.#give(unused.buffer);
      await handle.close().catch(() => undefined);
    }
  }
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  if (response.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
