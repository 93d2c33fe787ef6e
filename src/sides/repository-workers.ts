import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { checkInVerifier, ReplayGuard } from '../admin/agent-auth.ts';
import type { LgwanConfig } from '../config/config.ts';
import { inventoryIntake } from '../coverage/forwarded-inventory.ts';
import type { Logger } from '../core/logger.ts';
import type { LgwanSide } from './lgwan.ts';
import { announce, answerWorker, repositoryWorkerEnvironment, type CallTargets, type WorkerStart } from './worker-channel.ts';

type Listening = { url: string; httpsUrl?: string };

/** How many workers: the config's number, or one per core up to 8 ("auto"). One means no cluster at all. */
export function workerCount(config: Pick<LgwanConfig, 'workers'>): number {
  return config.workers === 'auto' ? Math.min(8, Math.max(1, availableParallelism())) : config.workers;
}

/**
 * Forks the workers before the command line is parsed and the config read, one per core as
 * `workers: auto` has it, so that they load the repository meanwhile (issue 18): main.ts does
 * this for `serve` and `daemon --side lgwan`. runLgwanService then forks or ends workers to the
 * number the config asks for (none for `workers: 1`). Undefined on one core. A start that
 * never reaches runLgwanService must abandon() them.
 */
export function forkWorkersAhead(): RepositoryWorkers | undefined {
  const count = workerCount({ workers: 'auto' });
  if (count <= 1) return undefined;
  const workers = new RepositoryWorkers();
  workers.resize(count);
  return workers;
}

/**
 * The repository workers of `serve` and `daemon --side lgwan`, seen from the primary
 * (lgwan-service.ts): forks them, answers their calls, replaces one that dies.
 *
 * They may be forked before the primary has read its config (issue 18: they load the
 * repository while it reads the config and opens the stores, instead of after). A worker
 * first asks for what it needs (`service.start`); that is answered once {@link open} is called,
 * that is once the side is open and its state migrated, and only then does the worker read
 * the published state.
 */
export class RepositoryWorkers {
  /** The service's logger, once runLgwanService took the workers over. */
  logger: Logger | undefined;
  readonly #live = new Set<Worker>();
  readonly #listening = new Map<Worker, Promise<Listening>>();
  /** Workers ended on purpose (too many forked ahead): not replaced. */
  readonly #retired = new WeakSet<Worker>();
  readonly #targets: CallTargets;
  readonly #starting: Promise<WorkerStart>;
  #started: (start: WorkerStart) => void = () => undefined;
  #refused: (error: unknown) => void = () => undefined;
  #stopping = false;

  constructor(logger?: Logger) {
    this.logger = logger;
    // Workers accept connections themselves from the shared socket (SCHED_NONE): with round-robin
    // the primary accepts every connection and hands it over by IPC, which held update checks that
    // each open a new connection to a third of the rate (issue 18; bench/update-checks.ts).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ serialization: 'advanced' });
    this.#starting = new Promise<WorkerStart>((resolve, reject) => {
      this.#started = resolve;
      this.#refused = reject;
    });
    // Reported by whoever failed to open; workers that asked meanwhile get its message.
    this.#starting.catch(() => undefined);
    // The stores join once the side is open; no worker calls them before service.start has answered.
    this.#targets = { service: { start: () => this.#starting } };
    // This process may end before the workers are taken over (commander exits after --help or a
    // usage error): they go with it, instead of failing noisily on a channel that is gone.
    process.once('exit', () => {
      for (const worker of this.#live) worker.process.kill('SIGKILL');
    });
  }

  /** Forks or ends workers until `count` run. */
  resize(count: number): void {
    while (this.#live.size < count) this.#fork();
    for (const worker of [...this.#live].slice(count)) {
      this.#retired.add(worker);
      this.#live.delete(worker);
      worker.process.kill('SIGKILL');
    }
  }

  get size(): number {
    return this.#live.size;
  }

  /** The side is open: the workers get `start`, and their calls reach its stores. */
  open(side: LgwanSide, start: WorkerStart): void {
    Object.assign(this.#targets, { inventory: side.inventory, intake: inventoryIntake(side.inventory), admin: side.admin, checkIns: checkInVerifier(side.admin, new ReplayGuard()) });
    this.#started(start);
  }

  /** The start failed: no worker will be needed (they would keep this process alive, and be replaced every second). */
  abandon(error: unknown = new Error('serve did not start')): void {
    this.#stopping = true;
    this.#refused(error);
    for (const worker of this.#live) worker.process.kill('SIGKILL');
  }

  /** Resolves when every worker running now listens; rejects if one exits first. */
  listening(): Promise<Listening[]> {
    return Promise.all([...this.#live].map((worker) => this.#listening.get(worker)!));
  }

  /**
   * Resolves when the first of the workers running now listens: the service answers from then
   * on, and the others join the shared listener as they get there. Rejects if all of them exit first.
   */
  async firstListening(): Promise<Listening> {
    try {
      return await Promise.any([...this.#live].map((worker) => this.#listening.get(worker)!));
    } catch (error) {
      throw (error as AggregateError).errors?.[0] ?? error;
    }
  }

  /** Tells every worker something happened (a publication). */
  announce(name: string, detail?: unknown): void {
    announce(this.#live, name, detail);
  }

  /** Each worker closes its listeners and sends what it still holds before it exits. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#live].map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.send({ lgwanWorkerStop: true }, () => undefined);
            setTimeout(() => {
              worker.process.kill('SIGKILL');
              resolve();
            }, 10_000).unref();
          }),
      ),
    );
  }

  #fork(): Worker {
    const worker = cluster.fork(repositoryWorkerEnvironment);
    this.#live.add(worker);
    // A write to a worker that is gone (Node's own messages too) must not end the primary: its exit is handled below.
    worker.on('error', (error) => {
      if (!this.#stopping && !this.#retired.has(worker)) this.logger?.warn({ pid: worker.process.pid, error: error.message }, 'repository worker channel');
    });
    // Decisions change what every worker offers: each drops its cached copy at once.
    answerWorker(worker, this.#targets, (target, method, args) => {
      if (target === 'admin' && (method === 'putDecision' || method === 'removeDecision')) {
        const tenant = method === 'putDecision' ? (args[0] as { tenant: string }).tenant : (args[0] as string);
        announce(this.#live, 'decisions', tenant);
      }
    });
    const ready = new Promise<Listening>((resolve, reject) => {
      worker.on('message', (message: unknown) => {
        const ready = (message as { lgwanWorkerReady?: Listening })?.lgwanWorkerReady;
        if (ready) resolve(ready);
      });
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
    });
    // Awaited only once the side is open; a worker may fail before that.
    ready.catch(() => undefined);
    this.#listening.set(worker, ready);
    worker.once('exit', (code, signal) => {
      this.#live.delete(worker);
      if (this.#stopping || this.#retired.has(worker)) return;
      // A worker that died loses at most its last quarter second of observations; a new one takes its place.
      this.logger?.error({ pid: worker.process.pid, code, signal }, 'repository worker exited; starting another');
      setTimeout(() => {
        if (!this.#stopping) this.#fork();
      }, 1000).unref();
    });
    return worker;
  }
}
