import type { LgwanConfig } from '../config/config.ts';
import type { AdminStore } from './admin-store.ts';
import { JsonAdminStore } from './json-admin-store.ts';

/** Beside the inventory: PostgreSQL when the inventory is there (replicas share sign-ins), else files in the data root (pg loads only then: start-up). */
export async function openAdminStore(config: Pick<LgwanConfig, 'storage' | 'inventory'>): Promise<AdminStore> {
  if (config.inventory.store === 'postgresql') return (await import('./postgres-admin-store.ts')).PostgresAdminStore.open(config.inventory.url!);
  return JsonAdminStore.open(config.storage);
}
