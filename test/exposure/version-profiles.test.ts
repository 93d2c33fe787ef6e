import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { LowdbInventory, type InventoryObservation, type InventoryStore } from '../../src/coverage/inventory.ts';
import { PostgresInventory } from '../../src/coverage/postgres-inventory.ts';
import type { VersionProfile } from '../../src/coverage/version-profiles.ts';
import { computeExposure } from '../../src/exposure/compute-exposure.ts';
import { postgresPerFile } from '../helpers/postgres.ts';
import { mozillaAdvisories, product, stateWith } from './fixtures.ts';
import { seededRandom as random } from '../helpers/seeded-random.ts';

/*
 * The exposure profiles of the two inventory stores: the same observations into lowdb and into
 * PostgreSQL must give the same profiles (ids, counts, the sample in code-point order) and so
 * the same exposure report, tenant by tenant.
 */
const server = postgresPerFile(test.after);

const now = new Date('2026-11-22T03:00:00Z');
const at = (days: number) => new Date(now.getTime() - days * 86_400_000);

function observations(): Array<[InventoryObservation, Date]> {
  const pick = random(20261122);
  const firefox = ['129.0', '130.0', '131.0', '131.0.2', '132.0', 'banana'];
  const esr = ['115.15.0esr', '115.16.1esr', '128.2.0esr', '128.3.1esr'];
  const list: Array<[InventoryObservation, Date]> = [];
  for (let index = 0; index < 300; index += 1) {
    // Ids chosen so that code-point order and locale order differ ("B" before "a").
    const id = `${['a', 'B', '_', 'z'][pick(4)]}-pc-${index}`;
    const tenant = ['default', 'a', 'b'][pick(3)]!;
    const when = at(pick(3) === 0 ? 40 : pick(5));
    const endpoint = { kind: 'agent' as const, id };
    list.push([{ endpoint, tenant, source: 'agent', product: 'firefox', version: firefox[pick(firefox.length)]!, platform: 'win64' }, when]);
    if (pick(3) === 0) list.push([{ endpoint, tenant, source: 'agent', product: 'firefox', version: firefox[pick(firefox.length)]!, platform: 'win32' }, when]);
    if (pick(2) === 0) list.push([{ endpoint, tenant, source: 'agent', product: 'firefox-esr', version: esr[pick(esr.length)]!, platform: 'win64' }, when]);
  }
  return list;
}

const normalise = (profiles: VersionProfile[]) => [...profiles].sort((a, b) => a.ids.join(',').localeCompare(b.ids.join(',')));

test('lowdb and PostgreSQL give the same exposure profiles and the same report, per tenant', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-exposure-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const stores: InventoryStore[] = [await LowdbInventory.open(root, { flushIntervalMs: 0 }), await PostgresInventory.open({ url: await (await server()).createDatabase('exposure_profiles'), flushIntervalMs: 0, batchSize: 97 })];
  t.teardown(async () => {
    for (const store of stores) await store.close();
  });
  for (const [observation, when] of observations()) for (const store of stores) store.record(observation, when);
  for (const store of stores) await store.flush();

  const pairs = [
    { product: 'firefox', version: '130.0', id: 0 },
    { product: 'firefox', version: '131.0', id: 1 },
    { product: 'firefox-esr', version: '128.2.0esr', id: 2 },
    { product: 'firefox-esr', version: '115.15.0esr', id: 3 },
  ];
  for (const tenant of [undefined, 'a', 'b', 'default']) {
    const request = { staleBefore: at(30), pairs, sampleLimit: 3, ...(tenant ? { tenant } : {}) };
    const [embedded, postgres] = await Promise.all(stores.map((store) => store.versionProfiles(request)));
    t.true(embedded!.length > 3, 'several profiles');
    t.deepEqual(normalise(postgres!), normalise(embedded!), `profiles of ${tenant ?? 'all tenants'}`);
  }

  const state = stateWith([product('firefox'), product('firefox-esr')], { firefox: ['131.0', '131.0.2'], 'firefox-esr': ['128.3.1esr'] });
  for (const tenant of [undefined, 'a']) {
    const [embedded, postgres] = await Promise.all(stores.map((store) => computeExposure(state, mozillaAdvisories(), store, { now, endpointStaleDays: 30, mostExposedLimit: 20, ...(tenant ? { tenant } : {}) })));
    t.true(embedded!.endpoints.exposed > 0);
    t.deepEqual(postgres, embedded);
  }
});
