import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** The digests of a stream: SHA-256 names every blob; SHA-512 only where a hash list needs it. */
export interface Digests {
  sha256: string;
  sha512?: string;
}

/**
 * SHA-256 (and, when asked, SHA-512) of a byte stream, fed in order; digests can be read and
 * feeding go on. SHA-512 is asked for only by checks that use it (Mozilla's SHA512SUMS):
 * computing it for every download cost 180–300 ms of CPU per 256 MiB for nothing.
 */
export interface StreamDigests {
  /** Settles when the hasher can take more: the writer waits on it, so a slow hasher slows the download instead of queueing it in memory. */
  update(chunks: readonly Buffer[]): Promise<void>;
  /** The digests of everything fed so far (the state is kept: a resumed download continues it). */
  digests(): Promise<Digests>;
  /** Frees the state; no other call afterwards. */
  dispose(): void;
}

/** On the calling thread: for small documents, where a message to another thread costs more than the hashing. */
export class InlineDigests implements StreamDigests {
  readonly #sha256: Hash = createHash('sha256');
  readonly #sha512: Hash | undefined;

  constructor(withSha512: boolean) {
    this.#sha512 = withSha512 ? createHash('sha512') : undefined;
  }

  async update(chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      this.#sha256.update(chunk);
      this.#sha512?.update(chunk);
    }
  }

  async digests(): Promise<Digests> {
    const sha256 = this.#sha256.copy().digest('hex');
    return this.#sha512 ? { sha256, sha512: this.#sha512.copy().digest('hex') } : { sha256 };
  }

  dispose(): void {}
}

/*
 * The hashing thread: one per process, shared by every large stream, each stream's state
 * under its own id. Messages arrive in the order they were posted, so an update always
 * precedes the digest request that follows it. Plain JavaScript on purpose: a worker does
 * not inherit the TypeScript loader.
 */
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const states = new Map();
parentPort.on('message', (message) => {
  if (message.op === 'open') {
    states.set(message.id, message.sha512 ? [createHash('sha256'), createHash('sha512')] : [createHash('sha256')]);
  } else if (message.op === 'update') {
    const bytes = new Uint8Array(message.data);
    for (const hash of states.get(message.id)) hash.update(bytes);
    parentPort.postMessage({ op: 'hashed', bytes: bytes.length });
  } else if (message.op === 'digest') {
    const [sha256, sha512] = states.get(message.id);
    parentPort.postMessage({ op: 'digests', id: message.id, sha256: sha256.copy().digest('hex'), sha512: sha512 ? sha512.copy().digest('hex') : undefined });
  } else if (message.op === 'dispose') {
    states.delete(message.id);
  }
});
`;

interface Pending {
  resolve(value: Digests): void;
  reject(error: Error): void;
}

interface HashingThread {
  worker: Worker;
  pending: Map<number, Pending[]>;
  streams: number;
  /** Bytes posted and not yet hashed, over all streams. */
  queued: number;
  /** Writers waiting for `queued` to fall below the limit. */
  waiting: (() => void)[];
  failure?: Error;
}

/**
 * How far the hashing thread may fall behind the writers before they wait. Without a bound,
 * a hasher slower than the network (SHA-512 on a slow core, a fast line) would queue the
 * whole file in memory.
 */
export const maxQueuedBytes = 32 * 1024 * 1024;

let shared: HashingThread | undefined;
let nextId = 1;

function hashingThread(): HashingThread {
  if (shared) return shared;
  const worker = new Worker(workerSource, { eval: true, name: 'lgwan-mirror digests' });
  const thread: HashingThread = { worker, pending: new Map<number, Pending[]>(), streams: 0, queued: 0, waiting: [] };
  worker.on('message', (message: { op: 'hashed'; bytes: number } | { op: 'digests'; id: number; sha256: string; sha512?: string }) => {
    if (message.op === 'hashed') {
      thread.queued -= message.bytes;
      while (thread.queued < maxQueuedBytes && thread.waiting.length > 0) thread.waiting.shift()!();
      return;
    }
    const waiting = thread.pending.get(message.id);
    const first = waiting?.shift();
    if (waiting && waiting.length === 0) thread.pending.delete(message.id);
    first?.resolve(message.sha512 === undefined ? { sha256: message.sha256 } : { sha256: message.sha256, sha512: message.sha512 });
  });
  const failAll = (error: Error) => {
    if (shared === thread) shared = undefined;
    thread.failure ??= error;
    for (const waiting of thread.pending.values()) for (const entry of waiting) entry.reject(error);
    // Writers waiting for room go on; their digests() will report the failure.
    for (const resume of thread.waiting.splice(0)) resume();
    thread.pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the hashing thread exited (code ${code})`)));
  // An idle hashing thread must not keep a finished command alive.
  worker.unref();
  shared = thread;
  return thread;
}

/**
 * On the shared hashing thread: the thread that reads the socket only copies each written
 * batch and posts it, so reading, writing and hashing run on two cores at once. The copy is
 * needed anyway (socket buffers are slices of pooled memory) and costs a memcpy.
 */
export class ThreadDigests implements StreamDigests {
  readonly #id = nextId++;
  readonly #thread = hashingThread();

  constructor(withSha512: boolean) {
    this.#thread.streams += 1;
    this.#thread.worker.ref();
    this.#thread.worker.postMessage({ op: 'open', id: this.#id, sha512: withSha512 });
  }

  update(chunks: readonly Buffer[]): Promise<void> {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (total === 0 || this.#thread.failure) return Promise.resolve();
    // Not zero-filled first: every byte is written just below.
    const copy = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    for (const chunk of chunks) {
      copy.set(chunk, offset);
      offset += chunk.length;
    }
    // allocUnsafeSlow: an ArrayBuffer of its own, exactly this size, so it can be handed over.
    this.#thread.worker.postMessage({ op: 'update', id: this.#id, data: copy.buffer }, [copy.buffer]);
    this.#thread.queued += total;
    if (this.#thread.queued < maxQueuedBytes) return Promise.resolve();
    return new Promise((resolve) => this.#thread.waiting.push(resolve));
  }

  digests(): Promise<Digests> {
    // A stream whose thread died has lost its state: its digests cannot be trusted, only refused.
    if (this.#thread.failure) return Promise.reject(this.#thread.failure);
    return new Promise((resolve, reject) => {
      const waiting = this.#thread.pending.get(this.#id) ?? [];
      waiting.push({ resolve, reject });
      this.#thread.pending.set(this.#id, waiting);
      this.#thread.worker.postMessage({ op: 'digest', id: this.#id });
    });
  }

  dispose(): void {
    if (!this.#thread.failure) this.#thread.worker.postMessage({ op: 'dispose', id: this.#id });
    this.#thread.streams -= 1;
    if (this.#thread.streams === 0) this.#thread.worker.unref();
  }
}

/** Streams of at least this size are hashed on the hashing thread. */
export const threadDigestsFrom = 4 * 1024 * 1024;

/** Digests for a stream of up to `bytes`: on the hashing thread when large, inline when small. */
export function streamDigestsFor(bytes: number, withSha512: boolean): StreamDigests {
  return bytes >= threadDigestsFrom ? new ThreadDigests(withSha512) : new InlineDigests(withSha512);
}
