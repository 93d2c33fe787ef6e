import type { LgwanConfig } from '../config/config.ts';
import { LowdbInventory, type InventoryStore } from './inventory.ts';
import { PostgresInventory } from './postgres-inventory.ts';

/** The inventory store the configuration names: lowdb by default, PostgreSQL when configured. */
export async function openInventoryStore(config: Pick<LgwanConfig, 'storage' | 'inventory'>): Promise<InventoryStore> {
  const flushIntervalMs = config.inventory.flushSeconds * 1000;
  if (config.inventory.store === 'postgresql') return PostgresInventory.open({ url: config.inventory.url!, flushIntervalMs });
  return LowdbInventory.open(config.storage, { flushIntervalMs });
}
