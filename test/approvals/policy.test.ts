import test from 'ava';
import { compileRings, offeredVersion, ringOf, type ProductFacts, type ReleaseDecision, type TenantRollout } from '../../src/admin/rings.ts';
import { configSchema } from '../../src/config/config.ts';

/* The one decision of what a ring is offered (src/admin/rings.ts), without a server. */

const rings = compileRings([{ id: 'pilot', networks: ['10.1.5.0/24'], agentTags: ['pilot'] }, { id: 'early', agentTags: ['it'] }, { id: 'general' }]);
const firefox: ProductFacts = { id: 'firefox', scheme: 'mozilla', antivirus: false };
const clamav: ProductFacts = { id: 'clamav-daily', scheme: 'integer', antivirus: true };
const publishedAt = '2026-01-01T00:00:00.000Z';
const day = 86_400_000;
const at = (days: number) => new Date(Date.parse(publishedAt) + days * day);

function rollout(policies: TenantRollout['policies'], decisions: Partial<ReleaseDecision>[] = []): TenantRollout {
  return { rings, policies, decisions: decisions.map((decision) => ({ tenant: 't', kind: 'approve', product: 'firefox', version: '131.0', at: publishedAt, by: 'admin', ...decision }) as ReleaseDecision), publishedAt: () => publishedAt };
}

test('every endpoint is in exactly one ring: first match by address or tag, else the last', (t) => {
  t.is(ringOf(rings, { address: '10.1.5.9' }), 'pilot');
  t.is(ringOf(rings, { address: '10.1.6.9', tags: ['it', 'pilot'] }), 'pilot', 'first match wins');
  t.is(ringOf(rings, { address: '10.1.6.9', tags: ['it'] }), 'early');
  t.is(ringOf(rings, { address: '10.1.6.9' }), 'general');
  t.is(ringOf(rings, {}), 'general');
  t.is(ringOf(compileRings(undefined), { address: '10.1.5.9' }), 'all', 'no rings: one ring "all"');
});

test('automatic offers the newest, approval only what was approved for that ring', (t) => {
  const policies = { firefox: { general: 'approval' as const } };
  t.is(offeredVersion(rollout(policies), firefox, 'pilot', ['130.0', '131.0'], at(0)), '131.0');
  t.is(offeredVersion(rollout(policies), firefox, 'general', ['130.0', '131.0'], at(0)), undefined);
  t.is(offeredVersion(rollout(policies, [{ version: '130.0', ring: 'general' }]), firefox, 'general', ['130.0', '131.0'], at(0)), '130.0');
  t.is(offeredVersion(rollout(policies, [{ version: '131.0', ring: 'pilot' }]), firefox, 'general', ['131.0'], at(0)), undefined, 'an approval for another ring does not count');
});

test('a delay offers a release N days after the ring it follows got it', (t) => {
  const policies = { firefox: { early: { delay: { after: 'pilot', days: 2 } }, general: { delay: { after: 'early', days: 5 } } } };
  t.is(offeredVersion(rollout(policies), firefox, 'early', ['131.0'], at(1.9)), undefined);
  t.is(offeredVersion(rollout(policies), firefox, 'early', ['131.0'], at(2)), '131.0');
  t.is(offeredVersion(rollout(policies), firefox, 'general', ['131.0'], at(6.9)), undefined, 'delays add up');
  t.is(offeredVersion(rollout(policies), firefox, 'general', ['131.0'], at(7)), '131.0');
  const gated = { firefox: { pilot: 'approval' as const, general: { delay: { after: 'pilot', days: 1 } } } };
  t.is(offeredVersion(rollout(gated), firefox, 'general', ['131.0'], at(30)), undefined, 'the ring it follows never got it');
  t.is(offeredVersion(rollout(gated, [{ ring: 'pilot', at: at(3).toISOString() }]), firefox, 'general', ['131.0'], at(3.5)), undefined);
  t.is(offeredVersion(rollout(gated, [{ ring: 'pilot', at: at(3).toISOString() }]), firefox, 'general', ['131.0'], at(4)), '131.0', 'one day after the pilot approval');
});

test('a declined release is offered nowhere; a hold caps a ring; antivirus signatures no policy names ignore both', (t) => {
  const declined = rollout({}, [{ kind: 'decline', version: '131.0' }, { ring: 'pilot' }]);
  t.is(offeredVersion(declined, firefox, 'pilot', ['130.0', '131.0'], at(0)), '130.0');
  t.is(offeredVersion(declined, firefox, 'general', ['131.0'], at(0)), undefined);
  const held = rollout({}, [{ kind: 'hold', version: '130.0', ring: 'general' }]);
  t.is(offeredVersion(held, firefox, 'general', ['130.0', '130.0.1', '131.0'], at(0)), '130.0');
  t.is(offeredVersion(held, firefox, 'pilot', ['130.0', '131.0'], at(0)), '131.0');
  const decided = [{ kind: 'decline' as const, product: 'clamav-daily', version: '27000' }, { kind: 'hold' as const, product: 'clamav-daily', version: '1', ring: 'general' }];
  t.is(offeredVersion(rollout({}, decided), clamav, 'general', ['26999', '27000'], at(0)), '27000', 'unmanaged: offered as published');
  const delayed = { 'clamav-daily': { general: { delay: { after: 'pilot', days: 1 } } } };
  t.is(offeredVersion(rollout(delayed), clamav, 'general', ['26999', '27000'], at(0.5)), undefined, 'named in the policies: general a day behind pilot');
  t.is(offeredVersion(rollout(delayed), clamav, 'general', ['26999', '27000'], at(1)), '27000');
  t.is(offeredVersion(rollout(delayed, decided), clamav, 'pilot', ['26999', '27000'], at(1)), '26999', 'and the decisions count');
});

test('the config refuses rings without a default, unknown rings in policies and a delay after itself', (t) => {
  const parse = (lgwan: Record<string, unknown>) => configSchema.safeParse({ lgwan });
  t.true(parse({ rings: [{ id: 'pilot', networks: ['10.0.0.0/24'] }, { id: 'general' }], policies: { firefox: { general: 'approval', pilot: { delay: { after: 'general', days: 1 } } } } }).success);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'pilot', networks: ['10.0.0.0/24'] }] }).error?.issues), /the last ring \(\\"pilot\\"\) is the default/u);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'general' }], policies: { firefox: { pilot: 'approval' } } }).error?.issues), /no ring \\"pilot\\"/u);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'a', agentTags: ['x'] }, { id: 'b' }], policies: { firefox: { b: { delay: { after: 'b', days: 1 } } } } }).error?.issues), /must name another ring/u);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'a', agentTags: ['x'] }, { id: 'b' }], policies: { firefox: { a: { delay: { after: 'b', days: 1 } }, b: { delay: { after: 'a', days: 1 } } } } }).error?.issues), /in a circle/u);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'a' }, { id: 'a' }] }).error?.issues), /ring ids must be unique/u);
  t.regex(JSON.stringify(parse({ tenants: [{ id: 'x', name: 'X', networks: [] }], rings: [{ id: 'a' }] }).error?.issues), /set rings and policies per tenant/u);
  t.false(parse({ rings: [{ id: 'Pilot!' }] }).success);
});
