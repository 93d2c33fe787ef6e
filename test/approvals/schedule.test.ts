import test from 'ava';
import { formatInZone, formatWindows, installTiming, parseLocalDateTime, parseWindows, type ApprovalSchedule } from '../../src/admin/install-schedule.ts';
import { compileRings, dnUnder, ringOf } from '../../src/admin/rings.ts';
import { configSchema } from '../../src/config/config.ts';

/* Deadlines, maintenance windows and AD ring rules (issue 15, points 1 and 4), without a server. */

// 2026-12-07 is a Monday; JST is UTC+9 all year (Japan has no daylight saving time).
const jst = (day: number, hour: number, minute = 0) => new Date(Date.UTC(2026, 11, day, hour - 9, minute));

test('windows are read as an admin types them, in English or Japanese day names, and written back the same way', (t) => {
  t.deepEqual(parseWindows('mon-fri 12:00-13:00; sat 09:00-17:00'), [
    { days: [1, 2, 3, 4, 5], start: 720, end: 780 },
    { days: [6], start: 540, end: 1020 },
  ]);
  t.deepEqual(parseWindows('月,水 22:00〜02:00'), [{ days: [1, 3], start: 1320, end: 120 }], 'a window past midnight, with a Japanese wave dash');
  t.deepEqual(parseWindows('fri-mon 00:00-24:00'), [{ days: [0, 1, 5, 6], start: 0, end: 1440 }], 'a range across the weekend');
  t.deepEqual(parseWindows(''), []);
  t.is(formatWindows(parseWindows('mon-fri 12:00-13:00; sat 09:00-17:00')), 'mon,tue,wed,thu,fri 12:00-13:00; sat 09:00-17:00');
  for (const [text, message] of [
    ['monday 12:00-13:00', /not a day/u],
    ['mon 12:00', /write days and hours/u],
    ['mon 25:00-26:00', /HH:MM/u],
    ['mon 12:00-12:00', /needs a length/u],
    [Array.from({ length: 15 }, () => 'mon 01:00-02:00').join(';'), /at most 14 windows/u],
    ['x'.repeat(501), /500 characters/u],
  ] as const) {
    t.throws(() => parseWindows(text), { message }, text.slice(0, 30));
  }
});

test('a deadline typed in the tenant zone is an instant; shown back in that zone', (t) => {
  t.is(parseLocalDateTime('2026-12-07T12:00', 'Asia/Tokyo'), '2026-12-07T03:00:00.000Z');
  t.is(parseLocalDateTime('2026-07-01T12:00', 'Europe/Berlin'), '2026-07-01T10:00:00.000Z', 'summer time');
  t.is(parseLocalDateTime('2026-12-01T12:00', 'Europe/Berlin'), '2026-12-01T11:00:00.000Z', 'winter time');
  t.is(parseLocalDateTime('2026-02-30T12:00', 'Asia/Tokyo'), undefined);
  t.is(parseLocalDateTime('tomorrow', 'Asia/Tokyo'), undefined);
  t.is(formatInZone('2026-12-07T03:00:00.000Z', 'Asia/Tokyo'), '2026-12-07 12:00 (Asia/Tokyo)');
});

test('the server says install now inside a window or past the deadline, else the next window start', (t) => {
  const schedule: ApprovalSchedule = { windows: parseWindows('mon-fri 12:00-13:00; wed 22:00-02:00'), deadline: jst(10, 18).toISOString(), timeZone: 'Asia/Tokyo' };
  t.deepEqual(installTiming(undefined, jst(7, 9)), { when: 'now', reason: 'no-window', deadline: null, windowEndsAt: null });
  t.deepEqual(installTiming({ windows: [], deadline: jst(10, 18).toISOString(), timeZone: 'Asia/Tokyo' }, jst(7, 9)), { when: 'now', reason: 'no-window', deadline: jst(10, 18).toISOString(), windowEndsAt: null });
  t.deepEqual(installTiming(schedule, jst(7, 11, 59)), { when: 'wait', reason: 'outside-window', notBefore: jst(7, 12).toISOString(), deadline: jst(10, 18).toISOString() });
  t.deepEqual(installTiming(schedule, jst(7, 12, 30)), { when: 'now', reason: 'in-window', deadline: jst(10, 18).toISOString(), windowEndsAt: jst(7, 13).toISOString() });
  t.like(installTiming(schedule, jst(7, 13)), { when: 'wait', notBefore: jst(8, 12).toISOString() }, 'the end of a window is outside it');
  t.like(installTiming(schedule, jst(10, 1)), { when: 'now', reason: 'in-window', windowEndsAt: jst(10, 2).toISOString() }, "Wednesday's night window runs into Thursday");
  t.like(installTiming(schedule, jst(10, 18)), { when: 'now', reason: 'deadline-passed' });
  // Friday 14:00, no deadline: the next window is Monday noon.
  t.like(installTiming({ ...schedule, deadline: undefined }, jst(11, 14)) as object, { when: 'wait', notBefore: jst(14, 12).toISOString(), deadline: null });
  // Before a window, but the deadline comes first: wait until the deadline at the latest.
  t.like(installTiming({ ...schedule, deadline: jst(8, 11).toISOString() }, jst(8, 10)), { when: 'wait', notBefore: jst(8, 11).toISOString() });
  // A zone with daylight saving time: 02:30 does not exist on the spring-forward Sunday in Berlin
  // (02:00 CET becomes 03:00 CEST); the window still occurs, shifted by the gap, at 03:30 CEST.
  const berlin: ApprovalSchedule = { windows: parseWindows('sun 02:30-04:00'), timeZone: 'Europe/Berlin' };
  t.like(installTiming(berlin, new Date('2026-03-29T00:00:00Z')), { when: 'wait', notBefore: '2026-03-29T01:30:00.000Z' });
});

test('rings select agents by AD OU (a DN suffix, case-insensitive) and by AD group name', (t) => {
  t.true(dnUnder('CN=PC1,OU=Pilot,DC=city,DC=local', 'ou=pilot,dc=City,dc=LOCAL'));
  t.true(dnUnder('OU=Pilot,DC=city,DC=local', 'OU=Pilot,DC=city,DC=local'), 'the OU itself');
  t.true(dnUnder('CN=PC1, OU=Pilot, DC=city, DC=local', 'OU=Pilot,DC=city,DC=local'), 'a space after a comma');
  t.false(dnUnder('CN=PC1,OU=CoPilot,DC=city,DC=local', 'OU=Pilot,DC=city,DC=local'), 'a suffix of a value is not an OU boundary');
  t.false(dnUnder('CN=PC1,OU=X\\,OU=Pilot,DC=city,DC=local', 'OU=Pilot,DC=city,DC=local'), 'an escaped comma is part of the value "X,OU=Pilot"');
  t.true(dnUnder('CN=PC1,OU=情報政策課,DC=city,DC=local', 'OU=情報政策課,DC=city,DC=local'));
  const rings = compileRings([{ id: 'pilot', adOus: ['OU=Pilot,DC=city,DC=local'] }, { id: 'finance', adGroups: ['Finance-PCs'] }, { id: 'general' }]);
  t.is(ringOf(rings, { ou: 'OU=Desk,OU=Pilot,DC=city,DC=local', groups: ['finance-pcs'] }), 'pilot', 'first match wins');
  t.is(ringOf(rings, { ou: 'OU=Desk,DC=city,DC=local', groups: ['FINANCE-PCS'] }), 'finance');
  t.is(ringOf(rings, { ou: 'OU=Desk,DC=city,DC=local', groups: ['Other'] }), 'general');
});

test('the config checks AD rules, the default ring and the time zone', (t) => {
  const parse = (lgwan: Record<string, unknown>) => configSchema.safeParse({ lgwan });
  t.true(parse({ rings: [{ id: 'pilot', adOus: ['OU=Pilot,DC=city,DC=local'], adGroups: ['LGWAN Pilot'] }, { id: 'general' }], timeZone: 'Asia/Tokyo' }).success);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'pilot' }, { id: 'general', adGroups: ['x'] }] }).error?.issues), /the last ring .* is the default/u);
  t.regex(JSON.stringify(parse({ rings: [{ id: 'pilot', adOus: ['Pilot'] }, { id: 'general' }] }).error?.issues), /an OU distinguished name/u);
  t.regex(JSON.stringify(parse({ timeZone: 'Tokyo' }).error?.issues), /an IANA time zone/u);
  t.true(parse({ tenants: [{ id: 'a', name: 'A', networks: [], timeZone: 'Asia/Tokyo' }] }).success);
});
