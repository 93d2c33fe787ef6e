import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import type { AdvisoryData } from '../../src/advisories/model.ts';
import type { InventoryStore } from '../../src/coverage/inventory.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createRepositoryApp, requestListener } from '../../src/repository/app.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/**
 * The demo repository (one bundle imported, demo-firefox 131.0 published) served by an app that
 * is given `advisories` as the provider part A's parser will be plugged into; `data` may be
 * swapped by the test (a new feed arriving).
 */
export async function exposureRepository(t: ExecutionContext, options: { advisories: AdvisoryData; tenants?: unknown[]; advisoryMaxAgeHours?: number; inventory?: (store: InventoryStore) => InventoryStore }) {
  const { lgwan, environment } = await publishedRepository(t, options.tenants ? { lgwan: { tenants: options.tenants } } : {});
  const provider = { current: options.advisories };
  const app = createRepositoryApp({
    database: lgwan.database,
    store: lgwan.store,
    logger: silentLogger,
    inventory: options.inventory ? options.inventory(lgwan.inventory) : lgwan.inventory,
    console: { store: lgwan.admin, tenants: lgwan.tenants },
    thresholds: { transferStaleHours: 10_000, releaseLagHours: 10_000, diskLowPercent: 0, ...(options.advisoryMaxAgeHours ? { advisoryMaxAgeHours: options.advisoryMaxAgeHours } : {}) },
    coverageTtlMs: 0,
    advisories: { data: () => provider.current },
  });
  const server = createServer(requestListener(app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, lgwan, environment, provider };
}
