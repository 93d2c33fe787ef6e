import type { LgwanConfig } from '../config/config.ts';
import type { AdminStore } from './admin-store.ts';
import { JsonAdminStore } from './json-admin-store.ts';
import { PostgresAdminStore } from './postgres-admin-store.ts';

/** Beside the inventory: PostgreSQL when the inventory is there (replicas share sign-ins), else files in the data root. */
export async function openAdminStore(config: Pick<LgwanConfig, 'storage' | 'inventory'>): Promise<AdminStore> {
  if (config.inventory.store === 'postgresql') return PostgresAdminStore.open(config.inventory.url!);
  return JsonAdminStore.open(config.storage);
}
