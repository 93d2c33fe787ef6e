import { TransferFileNames } from '../transfer/spool-names.ts';
import path from 'node:path';
import cron from 'node-cron';
import { loadCatalog, type LoadedCatalogEntry } from '../catalog/load-catalog.ts';
import type { InternetConfig } from '../config/config.ts';
import { errorMessage } from '../core/errors.ts';
import { commandLine, lockedWhileOpening, lockStorage } from '../core/storage-lock.ts';
import type { Logger } from '../core/logger.ts';
import { Downloader } from '../fetch/download.ts';
import { createHttpClient, defaultHttpPolicy } from '../fetch/http-client.ts';
import { createProgress } from '../fetch/progress.ts';
import { openInternetState, type InternetDatabase } from '../fetcher/internet-state.ts';
import { makeAndSendBundle, type BundleOutcome } from '../fetcher/make-bundle.ts';
import { runFetch, type ProductFetchOutcome } from '../fetcher/run-fetch.ts';
import { loadTransferPrivateKey, loadTransferPublicKey, nextKeyFiles, spkiOf } from '../bundle/transfer-key.ts';
import { access } from 'node:fs/promises';
import { BlobStore } from '../store/blob-store.ts';
import { clearInterruptedSends } from '../transfer/spool-sender.ts';
import { prepareStorageFormat } from '../store/storage-format.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';

export interface InternetSide {
  config: InternetConfig;
  entries: LoadedCatalogEntry[];
  database: InternetDatabase;
  store: BlobStore;
  fetchAll(): Promise<ProductFetchOutcome[]>;
  send(options?: { force?: boolean }): Promise<BundleOutcome>;
  /** fetch, then bundle + send; what each scheduled run does. */
  runOnce(): Promise<{ fetched: ProductFetchOutcome[]; bundle: BundleOutcome }>;
  /** Frees the storage folder for another process (the process's exit does too). */
  close(): void;
}

export async function openInternetSide(config: InternetConfig, logger: Logger, options: { interactive?: boolean; backoffMs?: number } = {}): Promise<InternetSide> {
  const entries = await loadCatalog(config.catalogs);
  const keyring = await PinnedKeyring.load(config.keys);
  // Before anything is cleared or read: another process may be writing this side's state.
  const lock = await lockStorage(config.storage, 'lgwan-mirror-internet', commandLine());
  const store = new BlobStore(path.join(config.storage, 'blobs'));
  const database = await lockedWhileOpening(lock, async () => {
    // Migrates an older data root, refuses one a newer lgwan-mirror wrote (no silent downgrade).
    await prepareStorageFormat(config.storage);
    await store.clearTemporaries();
    const removed = await clearInterruptedSends(config.spool);
    if (removed.length > 0) logger.info({ removed }, 'removed files of interrupted sends from the spool');
    return openInternetState(path.join(config.storage, 'state.json'));
  });
  const policy = { ...defaultHttpPolicy, originRewrites: new Map(Object.entries(config.originRewrites)), dnsServers: config.dnsServers };
  const downloader = new Downloader({
    client: createHttpClient(policy),
    policy,
    store,
    logger,
    progress: createProgress(logger, options.interactive),
    concurrencyPerHost: config.concurrencyPerHost,
    backoffMs: options.backoffMs,
  });
  const side: InternetSide = {
    config,
    entries,
    database,
    store,
    fetchAll: () => runFetch({ entries, database, store, downloader, keyring, logger, storageRoot: config.storage }),
    async send(sendOptions = {}) {
      const { privateKey, keyId } = await loadTransferPrivateKey(config.transferKey);
      // During a rotation every bundle announces the next key until "keys promote" switches to it.
      const next = await access(nextKeyFiles(config.transferKey).publicFile).then(
        async () => {
          const { publicKey, keyId: nextKeyId } = await loadTransferPublicKey(nextKeyFiles(config.transferKey).publicFile);
          return { keyId: nextKeyId, spki: spkiOf(publicKey) };
        },
        () => undefined,
      );
      return makeAndSendBundle({ entries, database, store, spool: config.spool, privateKey, keyId, logger, expiryDays: config.bundleExpiryDays, heartbeatHours: config.heartbeatHours, partMaxBytes: config.partMaxBytes, names: new TransferFileNames(config.transferFileExtension), carousel: config.carousel, nextTransferKey: next, force: sendOptions.force });
    },
    async runOnce() {
      const fetched = await side.fetchAll();
      return { fetched, bundle: await side.send() };
    },
    close: () => lock.release(),
  };
  return side;
}

/**
 * Runs at start, then on the cron schedule. A tick that finds a run still going is skipped:
 * node-cron's `noOverlap` covers its own ticks, the guard here also the run at start.
 */
export function scheduleInternetSide(side: InternetSide, logger: Logger): { stop(): void } {
  let running = false;
  const run = async () => {
    if (running) {
      logger.info('previous run still going; this tick is skipped');
      return;
    }
    running = true;
    try {
      const { fetched, bundle } = await side.runOnce();
      logger.info({ fetched: fetched.map((outcome) => `${outcome.productId}:${outcome.status}`), bundle }, 'scheduled run finished');
    } catch (error) {
      logger.error({ error: errorMessage(error) }, 'scheduled run failed');
    } finally {
      running = false;
    }
  };
  const task = cron.schedule(side.config.schedule, run, { noOverlap: true, name: 'internet-side' });
  void run();
  return { stop: () => void task.stop() };
}
