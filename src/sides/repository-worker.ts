import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import type { AdminStore } from '../admin/admin-store.ts';
import type { CheckInClaim, CheckInVerdict } from '../admin/agent-auth.ts';
import { forwardedInventory } from '../coverage/forwarded-inventory.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { errorMessage } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { readLgwanState, type LgwanState } from '../importer/lgwan-state.ts';
import { BlobStore } from '../store/blob-store.ts';
import { listenOn, readMetricsToken, readTlsPair, startSideProbes, tenantDirectoryOf } from './lgwan.ts';
import { buildRepositoryApp, requestListener } from './repository-app.ts';
import { PrimaryLink, type WorkerStart } from './worker-channel.ts';

/**
 * One repository worker of `serve` (lgwan-service.ts): answers HTTP with a read-only copy of
 * the published state. It takes the config from the primary instead of reading it again, so
 * every worker, a replacement forked hours later included, serves with the config the primary
 * opened the stores with.
 */
export async function runRepositoryWorker(): Promise<void> {
  // SIGTERM from systemd reaches the whole process group: the primary decides when a worker stops.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  const link = new PrimaryLink();
  // Asked to stop at any point, even before it listens (serve stopped while starting).
  const servers: Server[] = [];
  let inventory: InventoryStore | undefined;
  process.on('message', (message: unknown) => {
    if (!(message as { lgwanWorkerStop?: boolean })?.lgwanWorkerStop) return;
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
    void (inventory?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  // Answered once the primary has opened the side (and migrated the state, if it had to).
  const { config, options, log } = await link.call<WorkerStart>('service', 'start', []);
  const logger = createLogger(log.name, log.level);
  const stateFile = path.join(config.storage, 'state.json');
  // Each re-read is a new revision (status-answers.ts keeps the status until it moves).
  const database = { data: undefined as unknown as LgwanState, revision: 0 };
  // The primary writes state.json atomically (rename): a read sees one whole version. Heard
  // before the first read: a publication announced while it runs is read after it.
  let reading = readLgwanState(stateFile).then((data) => {
    database.data = data;
  });
  link.on('state', () => {
    reading = reading.then(async () => {
      database.data = await readLgwanState(stateFile).catch((error: unknown) => {
        logger.error({ error: errorMessage(error) }, 'cannot re-read the published state; serving the previous one');
        return database.data;
      });
      database.revision += 1;
    });
  });
  await reading;
  const decisionListeners: Array<(tenant: string) => void> = [];
  link.on('decisions', (tenant) => {
    for (const listener of decisionListeners) listener(tenant as string);
  });
  inventory = await forwardedInventory(link);
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
  const plain = await listenOn(createServer(requestListener(app)), 'http', options.port ?? config.port, host);
  servers.push(plain.server);
  const secure = config.tls ? await listenOn(createHttpsServer(await readTlsPair(config), requestListener(app)), 'https', config.tls.port, host) : undefined;
  if (secure) servers.push(secure.server);
  process.send!({ lgwanWorkerReady: { url: plain.url, ...(secure ? { httpsUrl: secure.url } : {}) } });
}
