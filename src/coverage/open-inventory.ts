import type { LgwanConfig } from '../config/config.ts';
import { LowdbInventory, type InventoryStore } from './inventory.ts';

/**
 * The inventory store the configuration names: lowdb by default, PostgreSQL when configured.
 * pg and node-pg-migrate load only then: they are a good part of the repository's start-up.
 */
export async function openInventoryStore(config: Pick<LgwanConfig, 'storage' | 'inventory'>): Promise<InventoryStore> {
  const flushIntervalMs = config.inventory.flushSeconds * 1000;
  if (config.inventory.store === 'postgresql') return (await import('./postgres-inventory.ts')).PostgresInventory.open({ url: config.inventory.url!, flushIntervalMs });
  return LowdbInventory.open(config.storage, { flushIntervalMs });
}
