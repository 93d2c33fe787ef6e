import test from 'ava';
import fc from 'fast-check';
import { endpointKey } from '../../src/coverage/coverage-source.ts';
import { applyObservation, historyLength, maxProductsPerEndpoint, productKeyOf, type EndpointProduct, type EndpointRecord, type InventoryObservation } from '../../src/coverage/inventory.ts';
import { defaultTenantId } from '../../src/admin/tenants.ts';

/**
 * applyObservation as it was before the in-place fast path (issue 18): every observation
 * builds the product entry anew. The fast path must leave exactly the records this builds.
 */
function rebuildingApply(endpoints: Record<string, EndpointRecord>, observation: InventoryObservation, at: string): void {
  const tenant = observation.tenant === undefined || observation.tenant === defaultTenantId ? undefined : observation.tenant;
  const key = endpointKey({ ...observation.endpoint, tenant });
  const endpoint = (endpoints[key] ??= { kind: observation.endpoint.kind, id: observation.endpoint.id, ...(tenant ? { tenant } : {}), firstSeen: at, lastSeen: at, products: {} });
  if (observation.hostname !== undefined && at >= endpoint.lastSeen) endpoint.hostname = observation.hostname;
  if (observation.ring !== undefined && at >= endpoint.lastSeen) endpoint.ring = observation.ring;
  if (at > endpoint.lastSeen) endpoint.lastSeen = at;
  if (at < endpoint.firstSeen) endpoint.firstSeen = at;
  const productKey = productKeyOf(observation);
  const previous = endpoint.products[productKey];
  if (!previous && Object.keys(endpoint.products).length >= maxProductsPerEndpoint) return;
  const firstSeen = { ...previous?.firstSeen };
  if (firstSeen[observation.version] === undefined || at < firstSeen[observation.version]!) firstSeen[observation.version] = at;
  const versions = Object.entries(firstSeen).sort(([versionA, a], [versionB, b]) => a.localeCompare(b) || versionA.localeCompare(versionB));
  const latest: Omit<EndpointProduct, 'firstSeen' | 'product'> = previous && previous.seenAt > at ? previous : { ...observation, seenAt: at };
  endpoint.products[productKey] = {
    product: observation.product,
    version: latest.version,
    ...(latest.platform ? { platform: latest.platform } : {}),
    ...(latest.locale ? { locale: latest.locale } : {}),
    ...(latest.channel ? { channel: latest.channel } : {}),
    source: latest.source,
    seenAt: latest.seenAt,
    firstSeen: Object.fromEntries(versions.slice(-historyLength)),
  };
}

const observation = fc.record({
  endpoint: fc.record({ kind: fc.constantFrom('address' as const, 'freshclam-uuid' as const), id: fc.constantFrom('10.0.0.1', '10.0.0.2') }),
  tenant: fc.option(fc.constantFrom('default', 'sapporo'), { nil: undefined }),
  source: fc.constantFrom('mozilla-aus', 'apt'),
  product: fc.constantFrom('demo-firefox', 'demo-debian'),
  version: fc.constantFrom('130.0', '131.0', '131.0.1'),
  platform: fc.option(fc.constantFrom('win64', 'linux-x86_64', ''), { nil: undefined }),
  locale: fc.option(fc.constantFrom('ja', 'en-US'), { nil: undefined }),
  channel: fc.option(fc.constantFrom('release', 'esr'), { nil: undefined }),
});
// Mostly moving forward in time, as requests do, with late batches now and then.
const step = fc.tuple(observation, fc.integer({ min: -2, max: 5 }));

test('recording an endpoint that reports again what it reported leaves exactly the records that rebuilding them would', (t) => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
      const fast: Record<string, EndpointRecord> = {};
      const reference: Record<string, EndpointRecord> = {};
      let clock = Date.parse('2026-12-01T00:00:00Z');
      for (const [entry, seconds] of steps) {
        clock += seconds * 1000;
        const at = new Date(clock).toISOString();
        // Repeat each observation: the second is the hot path's common case.
        for (const _ of [0, 1]) {
          applyObservation(fast, entry, at);
          rebuildingApply(reference, entry, at);
        }
      }
      t.deepEqual(JSON.parse(JSON.stringify(fast)), JSON.parse(JSON.stringify(reference)));
      t.is(JSON.stringify(fast), JSON.stringify(reference), 'the same key order: the same file');
    }),
    { numRuns: 300 },
  );
});
