/*
 * Deadlines and maintenance windows of an approval (issue 15, point 4). An approval may say
 * "install inside these weekly windows, and by this deadline at the latest". Windows are wall
 * clock times in an explicit IANA time zone (the tenant's, Asia/Tokyo by default), stored with
 * the approval so that a later change of the tenant's zone does not move windows already
 * approved. The server decides from them, at each check-in, whether an agent installs now or
 * waits for the next window; the agent only obeys (deploy/agent/).
 */

export const defaultTimeZone = 'Asia/Tokyo';
/** Windows one approval may carry; a week has few sensible ones. */
export const maxWindows = 14;

/** A weekly window: on each of `days` (0 Sunday … 6 Saturday), from `start` to `end` (minutes after local midnight); an end at or before the start is on the next day. */
export interface MaintenanceWindow {
  days: number[];
  start: number;
  end: number;
}

export interface ApprovalSchedule {
  /** Install by then at the latest (ISO 8601, UTC). */
  deadline?: string;
  windows: MaintenanceWindow[];
  /** The zone `windows` (and the deadline as the admin typed it) are in. */
  timeZone: string;
}

/** What the server tells an agent about one offered update. */
export type InstallTiming =
  | { when: 'now'; reason: 'no-window' | 'in-window' | 'deadline-passed'; deadline: string | null; windowEndsAt: string | null }
  | { when: 'wait'; reason: 'outside-window'; notBefore: string; deadline: string | null };

export function isTimeZone(zone: string): boolean {
  if (zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterOf(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    if (formatters.size < 100) formatters.set(zone, formatter);
  }
  return formatter;
}

/** The wall clock in `zone` at `ms`. */
export function wallClockAt(ms: number, zone: string): WallClock & { second: number } {
  const parts = Object.fromEntries(formatterOf(zone).formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) % 24, minute: Number(parts.minute), second: Number(parts.second) };
}

function offsetAt(ms: number, zone: string): number {
  const wall = wallClockAt(ms, zone);
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second) - Math.floor(ms / 1000) * 1000;
}

/** The instant a wall clock time in `zone` names; one in the gap of a clock change moves later by the gap (as Temporal's "compatible" does). */
export function instantOf(wall: WallClock, zone: string): number {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const first = guess - offsetAt(guess, zone);
  const second = guess - offsetAt(first, zone);
  return second;
}

const dayNames: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, 日: 0, 月: 1, 火: 2, 水: 3, 木: 4, 金: 5, 土: 6 };
const dayLabels = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function minutesOf(text: string): number | undefined {
  const match = /^([01]?\d|2[0-4]):([0-5]\d)$/u.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return minutes <= 24 * 60 ? minutes : undefined;
}

/**
 * Windows as an admin types them: `mon-fri 18:00-22:00; sat 09:00-12:00` (days: sun … sat or
 * 日 … 土, single, comma lists or ranges; an end before the start runs past midnight).
 * Throws an Error whose message says what is wrong.
 */
export function parseWindows(text: string): MaintenanceWindow[] {
  if (text.length > 500) throw new Error('at most 500 characters');
  const windows: MaintenanceWindow[] = [];
  for (const entry of text.split(/[;；\n]/u).map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^(\S+)\s+(\S+)-(\S+)$/u.exec(entry.replace(/[〜~–]/gu, '-'));
    if (!match) throw new Error(`"${entry.slice(0, 40)}": write days and hours, e.g. "mon-fri 18:00-22:00"`);
    const days = new Set<number>();
    for (const item of match[1]!.toLowerCase().split(/[,、]/u)) {
      const [from, to] = item.split('-');
      const first = dayNames[from ?? ''];
      const last = to === undefined ? first : dayNames[to];
      if (first === undefined || last === undefined) throw new Error(`"${item.slice(0, 20)}" is not a day (sun … sat, or 日 … 土)`);
      for (let day = first; ; day = (day + 1) % 7) {
        days.add(day);
        if (day === last) break;
      }
    }
    const start = minutesOf(match[2]!);
    const end = minutesOf(match[3]!);
    if (start === undefined || end === undefined || start >= 24 * 60) throw new Error(`"${entry.slice(0, 40)}": hours are HH:MM, 00:00 to 24:00`);
    if (start === end) throw new Error(`"${entry.slice(0, 40)}": a window needs a length`);
    windows.push({ days: [...days].sort((a, b) => a - b), start, end });
  }
  if (windows.length > maxWindows) throw new Error(`at most ${maxWindows} windows`);
  return windows;
}

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** The same text `parseWindows` reads. */
export function formatWindows(windows: readonly MaintenanceWindow[]): string {
  return windows.map((window) => `${window.days.map((day) => dayLabels[day]).join(',')} ${hhmm(window.start)}-${hhmm(window.end)}`).join('; ');
}

/** A `datetime-local` value (YYYY-MM-DDTHH:MM) in `zone`, as an ISO instant; undefined when malformed. */
export function parseLocalDateTime(text: string, zone: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?$/u.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return undefined;
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCDate() !== day) return undefined;
  return new Date(instantOf({ year, month, day, hour, minute }, zone)).toISOString();
}

/** An instant as the wall clock in `zone` shows it: `2026-12-07 10:30 (Asia/Tokyo)`. */
export function formatInZone(iso: string, zone: string): string {
  const wall = wallClockAt(Date.parse(iso), zone);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${wall.year}-${pad(wall.month)}-${pad(wall.day)} ${pad(wall.hour)}:${pad(wall.minute)} (${zone})`;
}

/** Occurrences of `window` (start and end instants) that start on the local days from `fromDay` for `count` days. */
function* occurrences(window: MaintenanceWindow, zone: string, from: WallClock, fromDay: number, count: number): Generator<{ start: number; end: number }> {
  for (let offset = fromDay; offset < fromDay + count; offset += 1) {
    const date = new Date(Date.UTC(from.year, from.month - 1, from.day + offset));
    if (!window.days.includes(date.getUTCDay())) continue;
    const at = (minutes: number, extraDays: number) => {
      const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + extraDays + Math.floor(minutes / 1440)));
      return instantOf({ year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: Math.floor((minutes % 1440) / 60), minute: minutes % 60 }, zone);
    };
    yield { start: at(window.start, 0), end: at(window.end, window.end <= window.start ? 1 : 0) };
  }
}

/** The window `now` is in (its end), else the next window start (within a week). */
export function windowState(windows: readonly MaintenanceWindow[], zone: string, now: number): { openUntil?: number; nextStart?: number } {
  const today = wallClockAt(now, zone);
  let openUntil: number | undefined;
  let nextStart: number | undefined;
  for (const window of windows) {
    // Yesterday's window may run past midnight into today.
    for (const occurrence of occurrences(window, zone, today, -1, 9)) {
      if (occurrence.start <= now && now < occurrence.end) openUntil = Math.max(openUntil ?? 0, occurrence.end);
      else if (occurrence.start > now && (nextStart === undefined || occurrence.start < nextStart)) nextStart = occurrence.start;
    }
  }
  return { ...(openUntil !== undefined ? { openUntil } : {}), ...(nextStart !== undefined ? { nextStart } : {}) };
}

/** Install now or wait, for an update offered under `schedule` (none: now). */
export function installTiming(schedule: ApprovalSchedule | undefined, now: Date): InstallTiming {
  const deadline = schedule?.deadline ?? null;
  if (!schedule || schedule.windows.length === 0) return { when: 'now', reason: 'no-window', deadline, windowEndsAt: null };
  const ms = now.getTime();
  if (deadline !== null && Date.parse(deadline) <= ms) return { when: 'now', reason: 'deadline-passed', deadline, windowEndsAt: null };
  const state = windowState(schedule.windows, schedule.timeZone, ms);
  if (state.openUntil !== undefined) return { when: 'now', reason: 'in-window', deadline, windowEndsAt: new Date(state.openUntil).toISOString() };
  const candidates = [state.nextStart, deadline === null ? undefined : Date.parse(deadline)].filter((value): value is number => value !== undefined);
  // Windows that never occur (none within a week cannot happen with a valid day) fall back to the deadline; neither: now.
  if (candidates.length === 0) return { when: 'now', reason: 'no-window', deadline, windowEndsAt: null };
  return { when: 'wait', reason: 'outside-window', notBefore: new Date(Math.min(...candidates)).toISOString(), deadline };
}
