import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { AdminStore } from '../admin/admin-store.ts';
import { checkInVerifier, ReplayGuard, type CheckInClaim, type CheckInVerdict } from '../admin/agent-auth.ts';
import type { LgwanConfig } from '../config/config.ts';
import { forwardedInventory, inventoryIntake } from '../coverage/forwarded-inventory.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { readLgwanState } from '../importer/lgwan-state.ts';
import { BlobStore } from '../store/blob-store.ts';
import { requestListener } from '../repository/app.ts';
import { buildRepositoryApp, listenOn, openLgwanSide, pollSpool, readMetricsToken, readTlsPair, startSideProbes, tenantDirectoryOf, type LgwanSide } from './lgwan.ts';
import { announce, answerWorker, PrimaryLink } from './worker-channel.ts';

/*
 * `serve` and `daemon --side lgwan` on every core (issue 18): the primary process owns the
 * data root (lock, published state, inventory, admin store, imports) and serves nothing; N
 * workers (node:cluster, sharing the listening sockets) answer HTTP with a read-only copy of
 * the published state, re-read whenever the primary publishes. Every write a worker makes
 * (inventory observations, sign-ins, decisions, check-in verification) is a call into the primary,
 * so nothing is lost or counted twice, whichever worker a request reached.
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

export async function runLgwanService(config: LgwanConfig, logger: Logger, options: ServiceOptions): Promise<ServiceHandle | undefined> {
  if (cluster.isWorker) {
    await runWorker(config, logger, options);
    return undefined;
  }
  const workers = workerCount(config);
  const side = await openLgwanSide(config, logger);
  if (workers <= 1) return serveInProcess(side, config, logger, options);
  return runPrimary(side, config, logger, options, workers);
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

async function runPrimary(side: LgwanSide, config: LgwanConfig, logger: Logger, options: ServiceOptions, count: number): Promise<ServiceHandle> {
  // Workers accept connections themselves from the shared socket (SCHED_NONE): with round-robin
  // the primary accepts every connection and hands it over by IPC, which held update checks that
  // each open a new connection to a third of the rate (issue 18; bench/update-checks.ts).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'advanced' });
  const targets = { inventory: side.inventory, intake: inventoryIntake(side.inventory), admin: side.admin, checkIns: checkInVerifier(side.admin, new ReplayGuard()) };
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
    // A worker runs the same command line, so it reads the same config and options.
    const worker = cluster.fork();
    live.add(worker);
    answerWorker(worker, targets, onCall);
    listening.set(
      worker,
      new Promise((resolve, reject) => {
        worker.on('message', (message: unknown) => {
          const ready = message as { lgwanWorkerReady?: { url: string; httpsUrl?: string } };
          if (ready?.lgwanWorkerReady) resolve(ready.lgwanWorkerReady);
        });
        worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
      }),
    );
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
  const ready = await Promise.all(first.map((worker) => listening.get(worker)!));
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

async function runWorker(config: LgwanConfig, logger: Logger, options: ServiceOptions): Promise<void> {
  const link = new PrimaryLink();
  const stateFile = path.join(config.storage, 'state.json');
  const database = { data: await readLgwanState(stateFile) };
  // The primary writes state.json atomically (rename): a read sees one whole version.
  let reading = Promise.resolve();
  link.on('state', () => {
    reading = reading.then(async () => {
      database.data = await readLgwanState(stateFile).catch((error: unknown) => {
        logger.error({ error: errorMessage(error) }, 'cannot re-read the published state; serving the previous one');
        return database.data;
      });
    });
  });
  const decisionListeners: Array<(tenant: string) => void> = [];
  link.on('decisions', (tenant) => {
    for (const listener of decisionListeners) listener(tenant as string);
  });
  const inventory = await forwardedInventory(link);
  const admin = link.remote<AdminStore>('admin', { close: async () => undefined });
  const app = buildRepositoryApp(config, {
    database,
    store: new BlobStore(path.join(config.storage, 'blobs')),
    inventory,
    admin,
    tenants: tenantDirectoryOf(config),
    logger,
    probes: await startSideProbes(config),
    metricsToken: await readMetricsToken(config),
    checkInVerifier: { verify: (claim: CheckInClaim) => link.call<CheckInVerdict>('checkIns', 'verify', [claim]) },
    onDecisionsChanged: (listener) => decisionListeners.push(listener),
  });
  const host = options.host ?? config.host;
  const servers: Server[] = [];
  const plain = await listenOn(createServer(requestListener(app)), 'http', options.port ?? config.port, host);
  servers.push(plain.server);
  const secure = config.tls ? await listenOn(createHttpsServer(await readTlsPair(config), requestListener(app)), 'https', config.tls.port, host) : undefined;
  if (secure) servers.push(secure.server);
  process.send!({ lgwanWorkerReady: { url: plain.url, ...(secure ? { httpsUrl: secure.url } : {}) } });
  process.on('message', (message: unknown) => {
    if (!(message as { lgwanWorkerStop?: boolean })?.lgwanWorkerStop) return;
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
    void inventory.close().finally(() => process.exit(0));
  });
  // SIGTERM from systemd reaches the whole process group: the primary decides when a worker stops.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
}
