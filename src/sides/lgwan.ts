import { readFile, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import { loadTransferPublicKey } from '../bundle/transfer-key.ts';
import type { LgwanConfig } from '../config/config.ts';
import { UserFacingError, errorMessage } from '../core/errors.ts';
import { commandLine, lockedWhileOpening, lockStorage } from '../core/storage-lock.ts';
import type { Logger } from '../core/logger.ts';
import type { ImportOutcome } from '../importer/import-bundle.ts';
import { openLgwanState, type LgwanDatabase } from '../importer/lgwan-state.ts';
import { createRepositoryApp } from '../repository/app.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { openInventoryStore } from '../coverage/open-inventory.ts';
import { BlobStore } from '../store/blob-store.ts';
import { prepareStorageFormat } from '../store/storage-format.ts';
import { TransferFileNames } from '../transfer/spool-names.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';
import type { AdminStore } from '../admin/admin-store.ts';
import { openAdminStore } from '../admin/open-admin-store.ts';
import { sha256Hex } from '../admin/sessions.ts';
import { TenantDirectory } from '../admin/tenants.ts';
import { authenticateWithDirectory } from '../admin/ldap-directory.ts';

export interface LgwanSide {
  config: LgwanConfig;
  database: LgwanDatabase;
  store: BlobStore;
  inventory: InventoryStore;
  /** Accounts, sessions, enrolled agents and the audit log. */
  admin: AdminStore;
  tenants: TenantDirectory;
  /** Writes pending inventory records; call before the process exits. */
  close(): Promise<void>;
  importOnce(): Promise<ImportOutcome[]>;
  /** The repository's Koa app (built on first use). */
  app(): ReturnType<typeof createRepositoryApp>;
  listen(port?: number, host?: string): Promise<{ server: Server; url: string }>;
  /** The HTTPS listener (config lgwan.tls), for clients that refuse plain HTTP such as winget. */
  listenTls(port?: number, host?: string): Promise<{ server: Server; url: string }>;
}

/**
 * The LGWAN side: reads the spool (never writes it), imports, and serves. It imports
 * nothing from the internet side's modules (checked by test/boundary.test.ts).
 */
export async function openLgwanSide(config: LgwanConfig, logger: Logger): Promise<LgwanSide> {
  const keyring = await PinnedKeyring.load(config.keys);
  const { publicKey, keyId } = await loadTransferPublicKey(config.transferPublicKey);
  // Before anything is cleared or read: another process may be importing into this folder.
  const lock = await lockStorage(config.storage, 'lgwan-mirror-lgwan', commandLine());
  const store = new BlobStore(path.join(config.storage, 'blobs'));
  const [database, inventory, admin] = await lockedWhileOpening(lock, async () => {
    // Migrates an older data root, refuses one a newer lgwan-mirror wrote (no silent downgrade).
    await prepareStorageFormat(config.storage);
    await store.clearTemporaries();
    return [await openLgwanState(path.join(config.storage, 'state.json')), await openInventoryStore(config), await openAdminStore(config)] as const;
  });
  const tenants = new TenantDirectory(config.tenants, { ...(config.rings ? { rings: config.rings } : {}), ...(config.policies ? { policies: config.policies } : {}) });
  const metricsToken = config.console.metricsTokenFile
    ? (await readFile(config.console.metricsTokenFile, 'utf8').catch((cause: NodeJS.ErrnoException) => {
        throw new UserFacingError('E_CONFIG_INVALID', `lgwan.console.metricsTokenFile: cannot read ${config.console.metricsTokenFile}: ${cause.message}`, { cause });
      })).trim()
    : undefined;
  let importing: Promise<ImportOutcome[]> | undefined;
  let repository: ReturnType<typeof createRepositoryApp> | undefined;
  // Free space on the storage volume, for the disk-low alarm; read once a minute, never per request.
  let disk: { freeBytes: number; totalBytes: number; path: string } | undefined;
  const refreshDisk = async () => {
    const info = await statfs(config.storage).catch(() => undefined);
    disk = info ? { freeBytes: info.bavail * info.bsize, totalBytes: info.blocks * info.bsize, path: config.storage } : undefined;
  };
  // The UDP receiver (a separate process) records heartbeats; read them with the disk figures.
  let heartbeat: { receivedAt: string; latestSequence: number; staleSeconds: number } | undefined;
  const refreshHeartbeat = async () => {
    const text = await readFile(path.join(config.storage, 'udp-heartbeat.json'), 'utf8').catch(() => undefined);
    const parsed = text === undefined ? undefined : (JSON.parse(text) as { receivedAt: string; latestSequence: number });
    heartbeat = parsed && config.udp ? { receivedAt: parsed.receivedAt, latestSequence: parsed.latestSequence, staleSeconds: config.udp.heartbeatStaleSeconds } : undefined;
  };
  await refreshDisk();
  await refreshHeartbeat();
  const diskTimer = setInterval(() => void refreshDisk(), 60_000);
  diskTimer.unref();
  const heartbeatTimer = setInterval(() => void refreshHeartbeat(), 2_000);
  heartbeatTimer.unref();
  const app = () => {
    if (!repository) {
      repository = createRepositoryApp({
        database,
        store,
        logger,
        inventory,
        console: {
          store: admin,
          tenants,
          directories: config.directories.map((directory) => ({ name: directory.url, authenticate: (username: string, password: string) => authenticateWithDirectory(directory, username, password) })),
          sessionPolicy: { idleMinutes: config.console.sessionIdleMinutes, maxHours: config.console.sessionMaxHours },
          ...(metricsToken ? { metricsTokenHash: sha256Hex(metricsToken) } : {}),
        },
        trustProxy: config.trustProxy,
        trustedProxies: config.trustedProxies,
        ...(config.nginxFront ? { accelRedirectPrefix: config.nginxFront.accelRedirectPrefix } : {}),
        checkInsPerMinute: config.checkInsPerMinute,
        thresholds: { transferStaleHours: config.transferStaleHours, releaseLagHours: config.releaseLagHours, diskLowPercent: config.diskLowPercent },
        endpointStaleDays: config.endpointStaleDays,
        disk: () => disk,
        heartbeat: () => heartbeat,
      });
      repository.on('error', (error: unknown) => logger.warn({ error: errorMessage(error) }, 'connection error'));
    }
    return repository;
  };
  const start = async (server: Server, scheme: 'http' | 'https', port: number, host: string) => {
    // Node defaults to a backlog of 511: a burst of update checks beyond it waits for SYN retransmits (1 s, 3 s).
    server.listen({ port, host, backlog: 4096 });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    return { server, url: `${scheme}://${host}:${actualPort}` };
  };
  return {
    config,
    database,
    store,
    inventory,
    admin,
    tenants,
    app,
    close: async () => {
      clearInterval(diskTimer);
      clearInterval(heartbeatTimer);
      await inventory.close();
      await admin.close();
      lock.release();
    },
    importOnce() {
      // One importer at a time: a poll that finds one running waits for it instead.
      // The importer (tar, xz, the vendor verifiers) loads at the first import: `serve` never needs it.
      importing ??= import('../importer/import-bundle.ts').then(({ importFromSpool }) => importFromSpool({ database, store, keyring, pinnedKey: { publicKey, keyId }, storageRoot: config.storage, logger, names: new TransferFileNames(config.transferFileExtension), stagingQuotaBytes: config.stagingQuotaBytes, quarantineQuotaBytes: config.quarantineQuotaBytes, spoolStableSeconds: config.spoolStableSeconds, partsTimeoutHours: config.partsTimeoutHours }, config.spool)).finally(() => {
        importing = undefined;
      });
      return importing;
    },
    listen: (port = config.port, host = config.host) => start(createServer(app().callback()), 'http', port, host),
    async listenTls(port = config.tls?.port, host = config.host) {
      if (!config.tls || port === undefined) throw new UserFacingError('E_CONFIG_INVALID', 'lgwan.tls (cert, key, port) is not configured');
      const [cert, key] = await Promise.all([readFile(config.tls.cert), readFile(config.tls.key)]).catch((cause: NodeJS.ErrnoException) => {
        throw new UserFacingError('E_CONFIG_INVALID', `cannot read the TLS certificate or key: ${cause.message}`, { cause });
      });
      return start(createHttpsServer({ cert, key }, app().callback()), 'https', port, host);
    },
  };
}

export function pollSpool(side: LgwanSide, logger: Logger): { stop(): void } {
  const run = () =>
    side.importOnce().then(
      (outcomes) => {
        for (const outcome of outcomes) logger.info(outcome, 'spool import');
      },
      (error: unknown) => logger.error({ error: errorMessage(error) }, 'import failed'),
    );
  void run();
  const timer = setInterval(run, side.config.importIntervalSeconds * 1000);
  return { stop: () => clearInterval(timer) };
}
