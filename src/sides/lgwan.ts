import { readFile, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import type { LgwanConfig } from '../config/config.ts';
import { UserFacingError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ImportOutcome } from '../importer/import-bundle.ts';
import type { LgwanStateFile } from '../importer/lgwan-state.ts';
import type { createRepositoryApp } from '../repository/app.ts';
import type { DiskReading } from '../repository/status-model.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { BlobStore } from '../store/blob-store.ts';
import { TransferFileNames } from '../transfer/spool-names.ts';
import type { AdminStore } from '../admin/admin-store.ts';
import type { PinnedKeyring } from '../verify/pinned-keys.ts';
import { TenantDirectory } from '../admin/tenants.ts';

export interface LgwanSide {
  config: LgwanConfig;
  database: LgwanStateFile;
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

export interface OpenOptions {
  /** false: this process will not serve (the primary of `serve` with workers), so the repository app is not loaded and app() throws. */
  repository?: boolean;
  /** false: this process will not import (`serve`), so the vendor keyring and the transfer key are not read and importOnce() rejects. */
  importing?: boolean;
}

/**
 * What the importer verifies with: this side's pinned vendor keys and the transfer public key.
 * Read before the storage is locked, so that a missing or wrong key stops the start at once.
 */
async function loadImportKeys(config: LgwanConfig): Promise<{ keyring: PinnedKeyring; pinnedKey: { publicKey: KeyObject; keyId: string } }> {
  // openpgp, which the keyring parses keys with, is the largest module the LGWAN side loads.
  const [{ PinnedKeyring }, { loadTransferPublicKey }] = await Promise.all([import('../verify/pinned-keys.ts'), import('../bundle/transfer-key.ts')]);
  const keyring = await PinnedKeyring.load(config.keys);
  const { publicKey, keyId } = await loadTransferPublicKey(config.transferPublicKey);
  return { keyring, pinnedKey: { publicKey, keyId } };
}

/**
 * The LGWAN side: reads the spool (never writes it), imports, and serves. It imports
 * nothing from the internet side's modules (checked by test/boundary.test.ts).
 */
export async function openLgwanSide(config: LgwanConfig, logger: Logger, options: OpenOptions = {}): Promise<LgwanSide> {
  // Loaded here, not at the top: a repository worker imports this module for its listeners
  // and needs none of them; the primary of `serve` with workers never needs the repository.
  const [importKeys, { commandLine, lockedWhileOpening, lockStorage }, { openLgwanState }, { openInventoryStore }, { prepareStorageFormat }, { openAdminStore }, repositoryModule] = await Promise.all([
    options.importing === false ? undefined : loadImportKeys(config),
    import('../core/storage-lock.ts'),
    import('../importer/lgwan-state.ts'),
    import('../coverage/open-inventory.ts'),
    import('../store/storage-format.ts'),
    import('../admin/open-admin-store.ts'),
    options.repository === false ? undefined : import('./repository-app.ts'),
  ]);
  // Before anything is cleared or read: another process may be importing into this folder.
  const lock = await lockStorage(config.storage, 'lgwan-mirror-lgwan', commandLine());
  const store = new BlobStore(path.join(config.storage, 'blobs'));
  const [database, inventory, admin] = await lockedWhileOpening(lock, async () => {
    // Migrates an older data root, refuses one a newer lgwan-mirror wrote (no silent downgrade).
    await prepareStorageFormat(config.storage);
    await store.clearTemporaries();
    return [await openLgwanState(path.join(config.storage, 'state.json')), await openInventoryStore(config), await openAdminStore(config)] as const;
  });
  const tenants = tenantDirectoryOf(config);
  const metricsToken = await readMetricsToken(config);
  let importing: Promise<ImportOutcome[]> | undefined;
  let repository: ReturnType<typeof createRepositoryApp> | undefined;
  const probes = await startSideProbes(config);
  const app = () => {
    if (!repositoryModule) throw new Error('openLgwanSide: opened with repository: false (the workers serve)');
    return (repository ??= repositoryModule.buildRepositoryApp(config, { database, store, inventory, admin, tenants, logger, probes, metricsToken }));
  };
  // app.ts's, from the module loaded above (this module does not import app.ts: workers import it).
  const requestListener: typeof import('../repository/app.ts').requestListener = (repository, listenerOptions) => repositoryModule!.requestListener(repository, listenerOptions);
  return {
    config,
    database,
    store,
    inventory,
    admin,
    tenants,
    app,
    close: async () => {
      probes.stop();
      await inventory.close();
      await admin.close();
      lock.release();
    },
    importOnce() {
      if (!importKeys) return Promise.reject(new Error('openLgwanSide: opened with importing: false (serve)'));
      const { keyring, pinnedKey } = importKeys;
      // One importer at a time: a poll that finds one running waits for it instead.
      // The importer (tar, xz, the vendor verifiers) loads at the first import: `serve` never needs it.
      importing ??= import('../importer/import-bundle.ts').then(({ importFromSpool }) => importFromSpool({ database, store, keyring, pinnedKey, storageRoot: config.storage, logger, names: new TransferFileNames(config.transferFileExtension), stagingQuotaBytes: config.stagingQuotaBytes, quarantineQuotaBytes: config.quarantineQuotaBytes, spoolStableSeconds: config.spoolStableSeconds, partsTimeoutHours: config.partsTimeoutHours }, config.spool)).finally(() => {
        importing = undefined;
      });
      return importing;
    },
    listen: (port = config.port, host = config.host) => listenOn(createServer(requestListener(app())), 'http', port, host),
    async listenTls(port = config.tls?.port, host = config.host) {
      return listenOn(createHttpsServer(await readTlsPair(config, port), requestListener(app())), 'https', port!, host);
    },
  };
}

/** The HTTPS listener's certificate and key (lgwan.tls). */
export async function readTlsPair(config: LgwanConfig, port = config.tls?.port): Promise<{ cert: Buffer; key: Buffer }> {
  if (!config.tls || port === undefined) throw new UserFacingError('E_CONFIG_INVALID', 'lgwan.tls (cert, key, port) is not configured');
  const [cert, key] = await Promise.all([readFile(config.tls.cert), readFile(config.tls.key)]).catch((cause: NodeJS.ErrnoException) => {
    throw new UserFacingError('E_CONFIG_INVALID', `cannot read the TLS certificate or key: ${cause.message}`, { cause });
  });
  return { cert, key };
}

export function tenantDirectoryOf(config: LgwanConfig): TenantDirectory {
  return new TenantDirectory(config.tenants, { ...(config.rings ? { rings: config.rings } : {}), ...(config.policies ? { policies: config.policies } : {}), ...(config.timeZone ? { timeZone: config.timeZone } : {}) });
}

export async function readMetricsToken(config: LgwanConfig): Promise<string | undefined> {
  if (!config.console.metricsTokenFile) return undefined;
  const text = await readFile(config.console.metricsTokenFile, 'utf8').catch((cause: NodeJS.ErrnoException) => {
    throw new UserFacingError('E_CONFIG_INVALID', `lgwan.console.metricsTokenFile: cannot read ${config.console.metricsTokenFile}: ${cause.message}`, { cause });
  });
  return text.trim();
}

export interface SideProbes {
  disk(): DiskReading | undefined;
  heartbeat(): { receivedAt: string; latestSequence: number; staleSeconds: number } | undefined;
  stop(): void;
}

/** Free space for the disk-low alarm (once a minute, never per request) and the UDP receiver's heartbeats (a separate process writes them). */
export async function startSideProbes(config: LgwanConfig): Promise<SideProbes> {
  let disk: ReturnType<SideProbes['disk']>;
  const refreshDisk = async () => {
    const info = await statfs(config.storage).catch(() => undefined);
    disk = info ? { freeBytes: info.bavail * info.bsize, totalBytes: info.blocks * info.bsize, path: config.storage, measuredAt: new Date().toISOString() } : undefined;
  };
  let heartbeat: ReturnType<SideProbes['heartbeat']>;
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
  return {
    disk: () => disk,
    heartbeat: () => heartbeat,
    stop() {
      clearInterval(diskTimer);
      clearInterval(heartbeatTimer);
    },
  };
}

export async function listenOn(server: Server, scheme: 'http' | 'https', port: number, host: string): Promise<{ server: Server; url: string }> {
  // Node defaults to a backlog of 511: a burst of update checks beyond it waits for SYN retransmits (1 s, 3 s).
  server.listen({ port, host, backlog: 4096 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { server, url: `${scheme}://${host}:${actualPort}` };
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
