import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { openLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { StatusAnswers, type StatusInputs } from '../../src/repository/status-answers.ts';
import { buildStatus, defaultThresholds, type Alarm, type DiskReading } from '../../src/repository/status-model.ts';

/*
 * The kept status against one made afresh, over seeded random histories of everything it is
 * made of: publications and refusals written to a real state file, disk readings, heartbeats,
 * a failing inventory, advisory alarms, and a clock that jumps across every deadline the
 * model has (release lag, stale transfer, apt Valid-Until, a stale heartbeat).
 */

const start = Date.parse('2026-11-22T12:00:00Z');
const hour = 3_600_000;

function random(seed: number) {
  let value = seed;
  return () => {
    value = (value * 1_103_515_245 + 12_345) % 2 ** 31;
    return value / 2 ** 31;
  };
}

function publication(sequence: number, at: number, seenAt: number, validUntil: number): { published: NonNullable<LgwanState['published']>; releaseValidUntil: Record<string, string> } {
  const inRelease = sequence.toString(16).padStart(64, 'a');
  return {
    published: {
      sequence, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date(at).toISOString(), publishedAt: new Date(at).toISOString(),
      products: [
        { id: 'firefox', name: 'Firefox', vendor: 'Mozilla', scheme: 'mozilla', trust: 'signed-hash-list', retention: 1, latestSeen: { version: `${130 + sequence}.0`, firstSeenAt: new Date(seenAt).toISOString() }, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } },
        { id: 'debian', name: 'Debian', vendor: 'Debian', scheme: 'debian', trust: 'signed-hash-list', retention: 1, latestSeen: null, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } },
      ],
      artifacts: [
        { productId: 'firefox', version: `${129 + sequence}.0`, platform: 'win64', locale: 'ja', fileName: 'x.mar', path: `pool/firefox/${129 + sequence}.0/x.mar`, size: 1, sha256: '1'.repeat(64), role: 'payload', verification: { method: 'mozilla-mar' } },
        { productId: 'debian', version: '12', platform: 'amd64', locale: null, fileName: 'InRelease', path: 'dists/bookworm/InRelease', size: 1, sha256: inRelease, role: 'index', verification: { method: 'apt-inrelease' } },
      ],
    } as unknown as NonNullable<LgwanState['published']>,
    releaseValidUntil: { [inRelease]: new Date(validUntil).toISOString() },
  };
}

const withoutClock = (status: { generatedAt: string }) => ({ ...status, generatedAt: '' });

for (const seed of [1, 2, 3, 4, 5]) {
  test(`seed ${seed}: the kept status is always the status made afresh, and kept while nothing it shows changed`, async (t) => {
    const root = await mkdtemp(path.join(tmpdir(), 'lgwan-status-answers-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const database = await openLgwanState(path.join(root, 'state.json'));
    const next = random(seed);
    let now = start;
    let sequence = 1;
    Object.assign(database.data, publication(sequence, now, now - 2 * hour, now + 5 * 24 * hour));
    await database.write();
    let disk: DiskReading | undefined;
    let heartbeat: StatusInputs['heartbeat'];
    let inventory: StatusInputs['inventory'];
    let advisoryAlarms: Alarm[] = [];
    const answers = new StatusAnswers();
    let kept = 0;
    let previous: unknown;
    for (let step = 0; step < 400; step += 1) {
      const roll = next();
      if (roll < 0.3) now += Math.floor(next() * 12 * hour);
      else if (roll < 0.4) now += Math.floor(next() * 60_000);
      else if (roll < 0.47) {
        sequence += 1;
        Object.assign(database.data, publication(sequence, now - Math.floor(next() * 60 * hour), now - Math.floor(next() * 40 * hour), now + Math.floor((next() - 0.3) * 8 * 24 * hour)));
        await database.write();
      } else if (roll < 0.52) {
        // A refusal changes the object in place; only the write says so.
        database.data.refusals.unshift({ at: new Date(now).toISOString(), bundle: `bundle-${step}.tar`, code: 'E_SIGNATURE', reason: 'bad signature', quarantinedAs: null });
        await database.write();
      } else if (roll < 0.57) {
        database.data.transfer = { ...database.data.transfer, missingSequenceRanges: next() < 0.5 ? [] : [{ from: sequence + 1, to: sequence + 2 }] };
        await database.write();
      } else if (roll < 0.65) {
        const freeBytes = Math.floor(next() * 30) * 1024 ** 3;
        disk = { freeBytes, totalBytes: 100 * 1024 ** 3, path: '/srv/lgwan', measuredAt: new Date(now).toISOString() };
      } else if (roll < 0.75) {
        heartbeat = next() < 0.2 ? undefined : { receivedAt: new Date(now - Math.floor(next() * 60_000)).toISOString(), latestSequence: sequence + Math.floor(next() * 2), staleSeconds: 30 };
      } else if (roll < 0.8) {
        inventory = next() < 0.5 ? undefined : { backend: 'lowdb', pending: Math.floor(next() * 5), lastWriteAt: null, lastError: next() < 0.5 ? null : { at: new Date(now).toISOString(), message: 'disk full' } };
      } else if (roll < 0.85) {
        advisoryAlarms = next() < 0.5 ? [] : [{ kind: 'kev-overdue', severity: 'critical', at: new Date(now).toISOString(), subject: 'firefox', detail: 'CVE-2026-0001' }];
      }
      const inputs: StatusInputs = { root: database.data, revision: database.revision, state: database.data, thresholds: defaultThresholds, disk, heartbeat, inventory, advisoryAlarms };
      const answer = answers.of('*', inputs, new Date(now));
      const fresh = buildStatus(database.data, new Date(now), defaultThresholds, disk, heartbeat, inventory, advisoryAlarms);
      t.deepEqual(withoutClock(answer.status), withoutClock(fresh), `step ${step}`);
      t.deepEqual(JSON.parse(answer.json.body.toString()), answer.status, 'the bytes are the model');
      if (answer === previous) kept += 1;
      previous = answer;
    }
    t.true(kept > 40, `kept across ${kept} of 400 steps`);
  });
}

test('an unknown revision makes the status per request; a known one keeps the bytes and their ETag', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-status-answers-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const database = await openLgwanState(path.join(root, 'state.json'));
  Object.assign(database.data, publication(1, start, start, start + 10 * 24 * hour));
  await database.write();
  const answers = new StatusAnswers();
  const inputs = (revision: number | undefined): StatusInputs => ({ root: database.data, revision, state: database.data, thresholds: defaultThresholds, disk: undefined, heartbeat: undefined, inventory: undefined, advisoryAlarms: [] });
  const first = answers.of('*', inputs(database.revision), new Date(start));
  const again = answers.of('*', inputs(database.revision), new Date(start + 60_000));
  t.is(again, first);
  t.is(again.status.generatedAt, new Date(start).toISOString(), 'generatedAt says when the shown figures were computed');
  t.not(answers.of('*', inputs(undefined), new Date(start)), first);
  t.not(answers.of('tenant-a', inputs(database.revision), new Date(start)), first, 'each scope its own');
  // Past the apt suite's warning deadline the clock alone changes the answer.
  const later = answers.of('*', inputs(database.revision), new Date(start + 8 * 24 * hour));
  t.not(later.json.etag, first.json.etag);
  t.true(later.status.alarms.some((alarm) => alarm.kind === 'apt-valid-until'));
});
