import cluster, { type Worker } from 'node:cluster';
import type { LgwanConfig } from '../config/config.ts';

/*
 * The channel between the primary process of `serve` and its workers (node:cluster IPC, with
 * the "advanced" serialization so that Maps, Sets and Dates arrive as sent). Workers hold no
 * store of their own: every write and every read of the inventory, the admin store and the
 * check-in verifier (agents and the replay guard) is a call to the primary, which owns them. That keeps the embedded default
 * (JSON files, one writer) correct with several workers, and PostgreSQL gets one pool.
 */

const tag = 'lgwan-mirror-channel/1';

/** Set in the environment of the worker processes `serve` forks (and of no other process). */
const roleVariable = 'LGWAN_MIRROR_ROLE';
const repositoryWorkerRole = 'repository-worker';

/** The environment a repository worker is forked with. */
export const repositoryWorkerEnvironment = { [roleVariable]: repositoryWorkerRole };

/** What a worker asks the primary for first (`service.start`): the config and options the primary runs with. */
export interface WorkerStart {
  config: LgwanConfig;
  options: { port?: number; host?: string };
  log: { name: string; level: string };
}

/** Whether this process is a repository worker forked by `serve` (not any cluster worker: a process manager may run lgwan-mirror as one). */
export function isRepositoryWorker(): boolean {
  return cluster.isWorker && process.env[roleVariable] === repositoryWorkerRole;
}

interface Call {
  tag: typeof tag;
  kind: 'call';
  id: number;
  target: string;
  method: string;
  args: unknown[];
}
interface Reply {
  tag: typeof tag;
  kind: 'reply';
  id: number;
  value?: unknown;
  error?: { message: string; status?: number; code?: string };
}
interface Event {
  tag: typeof tag;
  kind: 'event';
  name: string;
  detail?: unknown;
}
type Message = Call | Reply | Event;

const isMessage = (value: unknown): value is Message => typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === tag;

/** A failure in the primary, seen in the worker with the status and code it had there. */
export class PrimaryCallError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, status?: number, code?: string) {
    super(message);
    this.name = 'PrimaryCallError';
    this.status = status;
    this.code = code;
  }
}

/** Objects the primary answers calls for, by name; `close` is never callable from a worker. */
export type CallTargets = Record<string, object>;

/**
 * A worker may die between isConnected() and the write (a crash, or one ended while it starts):
 * the write then fails with EPIPE, which without a callback is an 'error' event on the Worker
 * and ends the primary. The worker's exit is handled where it was forked.
 */
const ignoreGone = (): void => undefined;

/** In the primary: answers one worker's calls; `onCall` sees each call after it succeeded. */
export function answerWorker(worker: Worker, targets: CallTargets, onCall?: (target: string, method: string, args: unknown[]) => void): void {
  worker.on('message', (message: unknown) => {
    if (!isMessage(message) || message.kind !== 'call') return;
    const reply = (body: Omit<Reply, 'tag' | 'kind' | 'id'>) => {
      if (worker.isConnected()) worker.send({ tag, kind: 'reply', id: message.id, ...body } satisfies Reply, ignoreGone);
    };
    const target = targets[message.target] as Record<string, unknown> | undefined;
    const method = target?.[message.method];
    if (typeof method !== 'function' || message.method === 'close') {
      reply({ error: { message: `no method ${message.target}.${message.method}` } });
      return;
    }
    Promise.resolve()
      .then(() => (method as (...args: unknown[]) => unknown).apply(target, message.args))
      .then(
        (value) => {
          reply({ value });
          onCall?.(message.target, message.method, message.args);
        },
        (error: unknown) => {
          const failure = error as { message?: string; status?: number; code?: string };
          reply({ error: { message: String(failure.message ?? error), ...(typeof failure.status === 'number' ? { status: failure.status } : {}), ...(typeof failure.code === 'string' ? { code: failure.code } : {}) } });
        },
      );
  });
}

/** In the primary: tells every worker something happened (a publication, a decision). */
export function announce(workers: Iterable<Worker | undefined>, name: string, detail?: unknown): void {
  for (const worker of workers) if (worker?.isConnected()) worker.send({ tag, kind: 'event', name, detail } satisfies Event, ignoreGone);
}

/** In a worker: calls into the primary and hears its announcements. */
export class PrimaryLink {
  #next = 1;
  readonly #waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly #listeners = new Map<string, Array<(detail: unknown) => void>>();

  constructor() {
    if (!process.send) throw new Error('PrimaryLink: not a worker process (no IPC channel)');
    process.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      if (message.kind === 'reply') {
        const waiting = this.#waiting.get(message.id);
        if (!waiting) return;
        this.#waiting.delete(message.id);
        if (message.error) waiting.reject(new PrimaryCallError(message.error.message, message.error.status, message.error.code));
        else waiting.resolve(message.value);
      } else if (message.kind === 'event') {
        for (const listener of this.#listeners.get(message.name) ?? []) listener(message.detail);
      }
    });
    // The primary went away: nothing this worker answers would be recorded any more.
    process.on('disconnect', () => {
      for (const waiting of this.#waiting.values()) waiting.reject(new PrimaryCallError('the primary process is gone'));
      this.#waiting.clear();
    });
  }

  call<T>(target: string, method: string, args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      process.send!({ tag, kind: 'call', id, target, method, args } satisfies Call, undefined, {}, (error: Error | null) => {
        if (error) {
          this.#waiting.delete(id);
          reject(error);
        }
      });
    });
  }

  on(name: string, listener: (detail: unknown) => void): void {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
  }

  /** Every method of `T` as a call into the primary's object `target` (all of them return promises). */
  remote<T extends object>(target: string, local: Partial<T> = {}): T {
    return new Proxy(local as T, {
      get: (object, property) => {
        if (typeof property !== 'string') return undefined;
        if (property in object) return (object as Record<string, unknown>)[property];
        // A Proxy is asked for "then" when awaited: it is not a promise.
        if (property === 'then') return undefined;
        return (...args: unknown[]) => this.call(target, property, args);
      },
    });
  }
}
