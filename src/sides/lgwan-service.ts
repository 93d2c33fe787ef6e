import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { checkInVerifier, ReplayGuard } from '../admin/agent-auth.ts';
import type { LgwanConfig } from '../config/config.ts';
import { inventoryIntake } from '../coverage/forwarded-inventory.ts';
import type { Logger } from '../core/logger.ts';
import { openLgwanSide, pollSpool, type LgwanSide } from './lgwan.ts';
import { announce, answerWorker, repositoryWorkerEnvironment, type CallTargets, type WorkerStart } from './worker-channel.ts';

/*
 * `serve` and `daemon --side lgwan` on every core (issue 18): the primary process owns the
 * data root (lock, published state, inventory, admin store, imports) and serves nothing; N
 * workers (node:cluster, sharing the listening sockets) answer HTTP with a read-only copy of
 * the published state, re-read whenever the primary publishes. Every write a worker makes
 * (inventory observations, sign-ins, decisions, check-in verification) is a call into the primary,
 * so nothing is lost or counted twice, whichever worker a request reached. A worker runs
 * repository-worker.ts.
 */

export interface ServiceOptions {
  port?: number;
  host?: string;
  /** Import from the spool as bundles arrive (daemon); `serve` only serves. */
  importing: boolean;
}

export interface ServiceHandle {
  url: string;
  httpsUrl?: string;
  stop(): Promise<void>;
}

/** How many workers: the config's number, or one per core up to 8 ("auto"). One means no cluster at all. */
export function workerCount(config: Pick<LgwanConfig, 'workers'>): number {
  return config.workers === 'auto' ? Math.min(8, Math.max(1, availableParallelism())) : config.workers;
}

export async function runLgwanService(config: LgwanConfig, logger: Logger, options: ServiceOptions): Promise<ServiceHandle> {
  const workers = workerCount(config);
  // `serve` imports nothing: it reads no vendor keyring and no transfer key (the keyring alone loads openpgp).
  if (workers <= 1) return serveInProcess(await openLgwanSide(config, logger, { importing: options.importing }), config, logger, options);
  return runPrimary(config, logger, options, workers);
}

async function serveInProcess(side: LgwanSide, config: LgwanConfig, logger: Logger, options: ServiceOptions): Promise<ServiceHandle> {
  const { server, url } = await side.listen(options.port, options.host);
  const secure = config.tls ? await side.listenTls(undefined, options.host) : undefined;
  const poller = options.importing ? pollSpool(side, logger) : undefined;
  return {
    url,
    ...(secure ? { httpsUrl: secure.url } : {}),
    async stop() {
      poller?.stop();
      for (const listener of [server, secure?.server]) {
        listener?.close();
        listener?.closeAllConnections();
      }
      await side.close();
    },
  };
}

async function runPrimary(config: LgwanConfig, logger: Logger, options: ServiceOptions, count: number): Promise<ServiceHandle> {
  // Workers accept connections themselves from the shared socket (SCHED_NONE): with round-robin
  // the primary accepts every connection and hands it over by IPC, which held update checks that
  // each open a new connection to a third of the rate (issue 18; bench/update-checks.ts).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'advanced' });
  // The workers are forked first, so that they load their modules while this process opens
  // the stores (on two cores that halves the time to the first answer, issue 18). A worker
  // asks for what it needs (service.start) and hears back once the side is open: only then
  // does it read the published state, which opening may have migrated.
  let opened: (side: LgwanSide) => void = () => undefined;
  let failed: (error: unknown) => void = () => undefined;
  const opening = new Promise<LgwanSide>((resolve, reject) => {
    opened = resolve;
    failed = reject;
  });
  // A failed opening is reported by the await below; workers that asked meanwhile get its message.
  opening.catch(() => undefined);
  const start: WorkerStart = { config, options: { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host !== undefined ? { host: options.host } : {}) }, log: { name: String(logger.bindings().name ?? 'repository'), level: logger.level } };
  const service = { start: async (): Promise<WorkerStart> => (await opening, start) };
  // Filled in once the side is open; no worker calls them before service.start has answered.
  const targets: CallTargets = { service };
  let stopping = false;
  const live = new Set<Worker>();
  // Decisions change what every worker offers: each drops its cached copy at once.
  const onCall = (target: string, method: string, args: unknown[]) => {
    if (target === 'admin' && (method === 'putDecision' || method === 'removeDecision')) {
      const tenant = method === 'putDecision' ? (args[0] as { tenant: string }).tenant : (args[0] as string);
      announce(live, 'decisions', tenant);
    }
  };
  const listening = new Map<Worker, Promise<{ url: string; httpsUrl?: string }>>();
  const fork = () => {
    const worker = cluster.fork(repositoryWorkerEnvironment);
    live.add(worker);
    answerWorker(worker, targets, onCall);
    const ready = new Promise<{ url: string; httpsUrl?: string }>((resolve, reject) => {
      worker.on('message', (message: unknown) => {
        const ready = message as { lgwanWorkerReady?: { url: string; httpsUrl?: string } };
        if (ready?.lgwanWorkerReady) resolve(ready.lgwanWorkerReady);
      });
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
    });
    // Awaited only once the side is open; a worker may fail before that.
    ready.catch(() => undefined);
    listening.set(worker, ready);
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      // A worker that died loses at most its last quarter second of observations; a new one takes its place.
      logger.error({ pid: worker.process.pid, code, signal }, 'repository worker exited; starting another');
      setTimeout(fork, 1000).unref();
    });
    return worker;
  };
  const first = [...Array(count)].map(() => fork());
  // A start that fails ends the workers (they would keep this process alive, and be replaced
  // every second) and reports the error.
  const abandon = () => {
    stopping = true;
    for (const worker of live) worker.process.kill('SIGKILL');
  };
  let side: LgwanSide;
  try {
    side = await openLgwanSide(config, logger, { repository: false, importing: options.importing });
  } catch (error) {
    failed(error);
    abandon();
    throw error;
  }
  Object.assign(targets, { inventory: side.inventory, intake: inventoryIntake(side.inventory), admin: side.admin, checkIns: checkInVerifier(side.admin, new ReplayGuard()) });
  opened(side);
  let ready: Array<{ url: string; httpsUrl?: string }>;
  try {
    ready = await Promise.all(first.map((worker) => listening.get(worker)!));
  } catch (error) {
    abandon();
    await side.close();
    throw error;
  }
  const poller = options.importing
    ? pollSpool({ ...side, importOnce: () => side.importOnce().finally(() => announce(live, 'state')) }, logger)
    : undefined;
  logger.info({ workers: count, url: ready[0]!.url }, 'repository workers listening');
  return {
    url: ready[0]!.url,
    ...(ready[0]!.httpsUrl ? { httpsUrl: ready[0]!.httpsUrl } : {}),
    async stop() {
      stopping = true;
      poller?.stop();
      // Each worker closes its listeners and sends what it still holds before it exits.
      const exits = [...live].map((worker) => new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.send({ lgwanWorkerStop: true });
        setTimeout(() => {
          worker.process.kill('SIGKILL');
          resolve();
        }, 10_000).unref();
      }));
      await Promise.all(exits);
      await side.close();
    },
  };
}
