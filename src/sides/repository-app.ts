import type { LgwanConfig } from '../config/config.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { LgwanDatabase } from '../importer/lgwan-state.ts';
import { createRepositoryApp } from '../repository/app.ts';

export { requestListener } from '../repository/app.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { emptyAdvisoryData } from '../advisories/model.ts';
import { advisoriesPerPublication } from '../exposure/exposure-view.ts';
import type { AdminStore } from '../admin/admin-store.ts';
import type { CheckInVerifier } from '../admin/agent-auth.ts';
import { sha256Hex } from '../admin/sessions.ts';
import type { TenantDirectory } from '../admin/tenants.ts';
import type { SideProbes } from './lgwan.ts';

/*
 * The repository app as the LGWAN side's configuration sets it up, in the one process of
 * `serve` or in each worker (repository-worker.ts). Apart from lgwan.ts: the primary of
 * `serve` with workers opens the side without loading any of this (issue 18, start-up).
 */

export interface RepositoryParts {
  database: Pick<LgwanDatabase, 'data'> & { readonly revision?: number };
  store: BlobStore;
  inventory: InventoryStore;
  admin: AdminStore;
  tenants: TenantDirectory;
  logger: Logger;
  probes: SideProbes;
  metricsToken: string | undefined;
  checkInVerifier?: CheckInVerifier;
  onDecisionsChanged?: (listener: (tenant: string) => void) => void;
}

/** The repository app as the configuration sets it up: one process, or each worker process. */
export function buildRepositoryApp(config: LgwanConfig, parts: RepositoryParts): ReturnType<typeof createRepositoryApp> {
  const repository = createRepositoryApp({
    database: parts.database,
    store: parts.store,
    logger: parts.logger,
    inventory: parts.inventory,
    console: {
      store: parts.admin,
      tenants: parts.tenants,
      // The LDAP client loads at the first directory sign-in.
      directories: config.directories.map((directory) => ({ name: directory.url, authenticate: async (username: string, password: string) => (await import('../admin/ldap-directory.ts')).authenticateWithDirectory(directory, username, password) })),
      sessionPolicy: { idleMinutes: config.console.sessionIdleMinutes, maxHours: config.console.sessionMaxHours },
      ...(parts.metricsToken ? { metricsTokenHash: sha256Hex(parts.metricsToken) } : {}),
    },
    trustProxy: config.trustProxy,
    trustedProxies: config.trustedProxies,
    ...(config.nginxFront ? { accelRedirectPrefix: config.nginxFront.accelRedirectPrefix } : {}),
    checkInsPerMinute: config.checkInsPerMinute,
    thresholds: { transferStaleHours: config.transferStaleHours, releaseLagHours: config.releaseLagHours, diskLowPercent: config.diskLowPercent, advisoryMaxAgeHours: config.advisoryMaxAgeHours },
    endpointStaleDays: config.endpointStaleDays,
    // Parsed once per published state, in each process that answers (issue 16); the parsers
    // (their schemas, YAML, streaming JSON) load at the first report that needs them.
    advisories: advisoriesPerPublication(
      () => parts.database.data.published,
      async (published) => {
        const { advisoryDataOf, blobFileReader } = await import('../advisories/published-advisories.ts');
        return advisoryDataOf(published, blobFileReader(parts.store));
      },
      emptyAdvisoryData,
    ),
    disk: parts.probes.disk,
    heartbeat: parts.probes.heartbeat,
    ...(parts.checkInVerifier ? { checkInVerifier: parts.checkInVerifier } : {}),
    ...(parts.onDecisionsChanged ? { onDecisionsChanged: parts.onDecisionsChanged } : {}),
  });
  repository.on('error', (error: unknown) => parts.logger.warn({ error: errorMessage(error) }, 'connection error'));
  return repository;
}

