import test from 'ava';
import { ObservationFold } from '../../src/coverage/forwarded-inventory.ts';
import { applyObservation, type EndpointRecord, type InventoryObservation } from '../../src/coverage/inventory.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

/*
 * Issue 18: a worker folds repeated observations (same endpoint, same report) into one slot with
 * its first and last time before it sends them to the primary. The inventory the primary ends
 * with must be exactly the one it would have had from every observation one by one.
 */

const at = (ms: number) => new Date(ms).toISOString();

function randomObservations(seed: number, count: number): [InventoryObservation, number][] {
  const below = seededRandom(seed);
  const start = Date.parse('2026-12-01T00:00:00Z');
  const sequence: [InventoryObservation, number][] = [];
  let clock = start;
  for (let index = 0; index < count; index += 1) {
    // Mostly forward in time, sometimes a late one (a batch from another worker).
    clock += below(4) === 0 ? -below(2000) : below(500);
    const agent = below(3) === 0;
    sequence.push([
      {
        endpoint: agent ? { kind: 'agent', id: `pc-${below(4)}` } : { kind: 'address', id: `10.0.0.${below(4)}` },
        ...(below(2) === 0 ? { tenant: ['a', 'b'][below(2)]! } : {}),
        ...(agent ? { hostname: `host-${below(2)}` } : {}),
        ...(below(3) === 0 ? { ring: ['pilot', 'general'][below(2)]! } : {}),
        source: agent ? 'agent' : 'mozilla-aus',
        product: ['demo-firefox', 'demo-thunderbird'][below(2)]!,
        version: ['130.0', '131.0', '132.0'][below(3)]!,
        platform: ['win64', 'linux-x86_64'][below(2)]!,
        ...(below(2) === 0 ? { locale: 'ja' } : {}),
        channel: 'release',
      },
      clock,
    ]);
  }
  return sequence;
}

test('folding repeats in a worker leaves the primary with the inventory it would have had from every observation', (t) => {
  for (const seed of [1, 7, 42, 2026, 99991]) {
    const sequence = randomObservations(seed, 3000);
    const oneByOne: Record<string, EndpointRecord> = {};
    for (const [observation, ms] of sequence) applyObservation(oneByOne, observation, at(ms));

    // Batches as a worker sends them: a fold of capacity 64 drained whenever it is full.
    const folded: Record<string, EndpointRecord> = {};
    const fold = new ObservationFold(64);
    let sent = 0;
    const drain = () => {
      const batch = fold.drain();
      sent += batch.length;
      for (const [observation, ms] of batch) applyObservation(folded, observation, at(ms));
    };
    for (const [observation, ms] of sequence) {
      if (!fold.add(observation, ms)) {
        drain();
        t.true(fold.add(observation, ms));
      }
    }
    drain();
    t.deepEqual(folded, oneByOne, `seed ${seed}`);
    t.true(sent < sequence.length, `seed ${seed}: ${sent} sent for ${sequence.length} observed`);
  }
});

test('a fold keeps one slot per distinct report, and a report that differs in any field is its own slot', (t) => {
  const fold = new ObservationFold(4);
  const base: InventoryObservation = { endpoint: { kind: 'address', id: '10.0.0.1' }, source: 'mozilla-aus', product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja', channel: 'release' };
  t.true(fold.add(base, 1000));
  t.true(fold.add({ ...base }, 3000));
  t.true(fold.add({ ...base }, 2000));
  t.is(fold.size, 1);
  t.true(fold.add({ ...base, ring: 'pilot' }, 1500));
  t.true(fold.add({ ...base, endpoint: { kind: 'freshclam-uuid', id: '10.0.0.1' } }, 1500));
  const { locale: _locale, ...withoutLocale } = base;
  t.true(fold.add(withoutLocale, 1500), 'a report without a locale is not one with it');
  t.false(fold.add({ ...base, version: '131.0' }, 1600), 'full');
  const batch = fold.drain();
  t.deepEqual(
    batch.map(([observation, ms]) => [observation.ring ?? '', observation.endpoint.kind, observation.locale ?? '-', ms]),
    [['', 'address', 'ja', 1000], ['', 'address', 'ja', 3000], ['pilot', 'address', 'ja', 1500], ['', 'freshclam-uuid', 'ja', 1500], ['', 'address', '-', 1500]],
  );
  t.is(fold.size, 0);
  t.true(fold.add({ ...base, version: '131.0' }, 1600), 'room again after the drain');
});
