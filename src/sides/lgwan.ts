import type { Server } from 'node:http';
import path from 'node:path';
import { loadTransferPublicKey } from '../bundle/transfer-key.ts';
import type { LgwanConfig } from '../config/config.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { importFromSpool, type ImportOutcome } from '../importer/import-bundle.ts';
import { openLgwanState, type LgwanDatabase } from '../importer/lgwan-state.ts';
import { createRepositoryApp } from '../repository/app.ts';
import { Inventory } from '../coverage/inventory.ts';
import { BlobStore } from '../store/blob-store.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';

export interface LgwanSide {
  config: LgwanConfig;
  database: LgwanDatabase;
  store: BlobStore;
  inventory: Inventory;
  /** Writes pending inventory records; call before the process exits. */
  close(): Promise<void>;
  importOnce(): Promise<ImportOutcome[]>;
  listen(port?: number, host?: string): Promise<{ server: Server; url: string }>;
}

/**
 * The LGWAN side: reads the spool (never writes it), imports, and serves. It imports
 * nothing from the internet side's modules (checked by test/boundary.test.ts).
 */
export async function openLgwanSide(config: LgwanConfig, logger: Logger): Promise<LgwanSide> {
  const keyring = await PinnedKeyring.load(config.keys);
  const { publicKey, keyId } = await loadTransferPublicKey(config.transferPublicKey);
  const store = new BlobStore(path.join(config.storage, 'blobs'));
  await store.clearTemporaries();
  const database = await openLgwanState(path.join(config.storage, 'state.json'));
  const inventory = await Inventory.open(config.storage);
  let importing: Promise<ImportOutcome[]> | undefined;
  return {
    config,
    database,
    store,
    inventory,
    close: () => inventory.close(),
    importOnce() {
      // One importer at a time: a poll that finds one running waits for it instead.
      importing ??= importFromSpool({ database, store, keyring, publicKey, keyId, storageRoot: config.storage, logger }, config.spool).finally(() => {
        importing = undefined;
      });
      return importing;
    },
    async listen(port = config.port, host = config.host) {
      const app = createRepositoryApp({ database, store, logger, inventory });
      app.on('error', (error: unknown) => logger.warn({ error: errorMessage(error) }, 'connection error'));
      const server = app.listen(port, host);
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      return { server, url: `http://${host}:${actualPort}` };
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
