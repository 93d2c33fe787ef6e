import test from 'ava';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { buildStatus, defaultThresholds } from '../../src/repository/status-model.ts';
import { alarmTexts } from '../../src/repository/i18n.ts';

const now = new Date('2026-11-22T12:00:00Z');
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000).toISOString();

function state(options: { bundleCreatedHoursAgo: number; seenHoursAgo: number }): LgwanState {
  return {
    ...structuredClone(emptyLgwanState),
    published: {
      sequence: 3, manifestSha256: '0'.repeat(64), bundleCreatedAt: hoursAgo(options.bundleCreatedHoursAgo), publishedAt: hoursAgo(options.bundleCreatedHoursAgo),
      products: [{ id: 'firefox', name: 'Firefox', vendor: 'Mozilla', scheme: 'mozilla', trust: 'signed-hash-list', retention: 1, latestSeen: { version: '132.0', firstSeenAt: hoursAgo(options.seenHoursAgo) }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } }],
      artifacts: [{ productId: 'firefox', version: '131.0', platform: 'win64', locale: 'ja', fileName: 'x.mar', path: 'pool/firefox/131.0/win64/ja/x.mar', size: 1, sha256: '0'.repeat(64), role: 'payload', verification: { method: 'clamav-cvd' } }],
    },
    transfer: { ...emptyLgwanState.transfer, highestSequence: 3, lastBundle: 'bundle-0000000003.tar' },
  };
}

const kinds = (status: ReturnType<typeof buildStatus>) => status.alarms.map((alarm) => alarm.kind).sort();

test('a quiet transfer and a vendor release not published in time raise alarms only past their thresholds', (t) => {
  t.deepEqual(kinds(buildStatus(state({ bundleCreatedHoursAgo: 2, seenHoursAgo: 3 }), now)), [], 'a fresh bundle, a release seen 3 hours ago: still in transit');
  t.deepEqual(kinds(buildStatus(state({ bundleCreatedHoursAgo: 49, seenHoursAgo: 30 }), now)), ['not-yet-published', 'transfer-stale']);
  const lenient = buildStatus(state({ bundleCreatedHoursAgo: 49, seenHoursAgo: 30 }), now, { ...defaultThresholds, transferStaleHours: 72, releaseLagHours: 48 });
  t.deepEqual(kinds(lenient), []);
});

test('low disk space is an alarm with the free space in its reason', (t) => {
  const low = buildStatus(state({ bundleCreatedHoursAgo: 1, seenHoursAgo: 1 }), now, defaultThresholds, { freeBytes: 5 * 1024 ** 3, totalBytes: 100 * 1024 ** 3, path: '/srv/lgwan' });
  t.like(low.alarms.find((alarm) => alarm.kind === 'disk-low'), { severity: 'critical', subject: '/srv/lgwan', detail: '5 GiB free of 100 GiB' });
  const fine = buildStatus(state({ bundleCreatedHoursAgo: 1, seenHoursAgo: 1 }), now, defaultThresholds, { freeBytes: 50 * 1024 ** 3, totalBytes: 100 * 1024 ** 3, path: '/srv/lgwan' });
  t.is(fine.alarms.find((alarm) => alarm.kind === 'disk-low'), undefined);
});

test('every alarm kind has a title and an action in both languages', (t) => {
  const kindsJa = Object.keys(alarmTexts.ja).sort();
  t.deepEqual(Object.keys(alarmTexts.en).sort(), kindsJa);
  for (const language of ['ja', 'en'] as const) {
    for (const [kind, text] of Object.entries(alarmTexts[language])) {
      t.true(text.title.length > 5 && text.action.length > 20, `${language} ${kind}`);
    }
  }
});

test('an inventory that cannot be written is an alarm saying how much is waiting and why', (t) => {
  const health = { backend: 'postgresql' as const, pending: 42, lastWriteAt: null, lastError: { at: now.toISOString(), message: 'inventory database postgresql://lgwan@db.example/lgwan: writing the inventory failed: connection refused' } };
  const status = buildStatus(state({ bundleCreatedHoursAgo: 1, seenHoursAgo: 1 }), now, defaultThresholds, undefined, undefined, health);
  t.like(status.alarms.find((alarm) => alarm.kind === 'inventory-unwritable'), { severity: 'warning', subject: 'postgresql', detail: `42 observations waiting; ${health.lastError.message}` });
  t.deepEqual(kinds(buildStatus(state({ bundleCreatedHoursAgo: 1, seenHoursAgo: 1 }), now, defaultThresholds, undefined, undefined, { ...health, lastError: null })), []);
  t.truthy(alarmTexts.ja['inventory-unwritable'].action);
});
