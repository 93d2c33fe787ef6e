import type { LgwanConfig } from '../config/config.ts';
import type { Logger } from '../core/logger.ts';
import { openLgwanSide, pollSpool, type LgwanSide } from './lgwan.ts';
import { RepositoryWorkers, workerCount } from './repository-workers.ts';

export { workerCount };

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

export async function runLgwanService(config: LgwanConfig, logger: Logger, options: ServiceOptions, ahead?: RepositoryWorkers): Promise<ServiceHandle> {
  const count = workerCount(config);
  if (count <= 1) {
    ahead?.abandon();
    // `serve` imports nothing: it reads no vendor keyring and no transfer key (the keyring alone loads openpgp).
    return serveInProcess(await openLgwanSide(config, logger, { importing: options.importing }), config, logger, options);
  }
  const workers = ahead ?? new RepositoryWorkers();
  workers.logger = logger;
  workers.resize(count);
  return runPrimary(workers, config, logger, options, count);
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

/**
 * The primary: opens the side while its workers load, then hands them the config
 * (service.start). It reports the service up once the first worker listens.
 */
async function runPrimary(workers: RepositoryWorkers, config: LgwanConfig, logger: Logger, options: ServiceOptions, count: number): Promise<ServiceHandle> {
  let side: LgwanSide;
  try {
    side = await openLgwanSide(config, logger, { repository: false, importing: options.importing });
  } catch (error) {
    workers.abandon(error);
    throw error;
  }
  workers.open(side, {
    config,
    options: { ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host !== undefined ? { host: options.host } : {}) },
    log: { name: String(logger.bindings().name ?? 'repository'), level: logger.level },
  });
  let first: Awaited<ReturnType<RepositoryWorkers['firstListening']>>;
  try {
    first = await workers.firstListening();
  } catch (error) {
    workers.abandon(error);
    await side.close();
    throw error;
  }
  // One that fails to get there is replaced like one that dies later.
  workers.listening().then(
    () => logger.info({ workers: count, url: first.url }, 'repository workers listening'),
    () => undefined,
  );
  const poller = options.importing ? pollSpool({ ...side, importOnce: () => side.importOnce().finally(() => workers.announce('state')) }, logger) : undefined;
  return {
    url: first.url,
    ...(first.httpsUrl ? { httpsUrl: first.httpsUrl } : {}),
    async stop() {
      poller?.stop();
      await workers.stop();
      await side.close();
    },
  };
}
