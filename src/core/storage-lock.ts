import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserFacingError } from './errors.ts';

/**
 * One writer per storage folder. Each side keeps its whole state in one process's memory and
 * writes it whole, so a second process on the same folder — an admin's `send` or `import` run
 * by hand beside the service — would overwrite the first's state and, on the internet side,
 * send a second bundle under a sequence number already used, which the LGWAN side must refuse
 * as equivocation. The lock names its holder by PID and the process's start time (Linux
 * /proc), so a holder killed with -9 is recognised as gone at once, and a PID reused by an
 * unrelated process is not mistaken for it. (proper-lockfile's lock goes stale only after a
 * timeout, which would hold up the restart after a crash.)
 */
export interface StorageLock {
  release(): void;
}

interface LockRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); null where there is no /proc. */
  startTime: string | null;
  command: string;
  since: string;
}

const lockName = 'lgwan-mirror.lock';

/** What the holder was started as, for the message another process shows. */
export function commandLine(): string {
  return ['lgwan-mirror', ...process.argv.slice(2)].join(' ');
}

/** Locks this process holds, by file, with how many open sides share each (tests open a side more than once). */
const held = new Map<string, number>();

function startTimeOf(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isRunning(record: LockRecord): boolean {
  try {
    process.kill(record.pid, 0);
  } catch (error) {
    // EPERM: alive, under another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (record.startTime === null) return true;
  const now = startTimeOf(record.pid);
  return now === null || now === record.startTime;
}

function readRecord(text: string): LockRecord | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, startTime: parsed.startTime ?? null, command: String(parsed.command ?? '?'), since: String(parsed.since ?? '?') } : undefined;
  } catch {
    return undefined;
  }
}

const ours = (record: LockRecord | undefined) => record?.pid === process.pid;

function lockedError(storage: string, service: string, holder: LockRecord): UserFacingError {
  return new UserFacingError(
    'E_LOCKED',
    `${storage} is in use by another lgwan-mirror process (pid ${holder.pid}, "${holder.command}", since ${holder.since}): stop it first (if it is the service: systemctl stop ${service}). Two processes writing one side's state would overwrite each other's work.`,
    { details: { storage, pid: holder.pid } },
  );
}

/** Acquisitions under way in this process, by file: a second open of the same side waits for the first. */
const acquiring = new Map<string, Promise<void>>();

/** `service` is the systemd unit that normally holds this folder, named in the message to whoever finds it locked. */
export async function lockStorage(storage: string, service: string, command: string): Promise<StorageLock> {
  const file = path.join(path.resolve(storage), lockName);
  while (acquiring.has(file)) await acquiring.get(file)!.catch(() => undefined);
  if (held.has(file)) held.set(file, held.get(file)! + 1);
  else {
    const attempt = acquire(file, storage, service, command);
    acquiring.set(file, attempt);
    try {
      await attempt;
    } finally {
      acquiring.delete(file);
    }
    held.set(file, 1);
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const count = held.get(file)! - 1;
      if (count > 0) held.set(file, count);
      else {
        held.delete(file);
        removeIfOurs(file);
      }
    },
  };
}

function removeIfOurs(file: string): void {
  try {
    if (ours(readRecord(readFileSync(file, 'utf8')))) unlinkSync(file);
  } catch {
    // Already gone: nothing to release.
  }
}

async function acquire(file: string, storage: string, service: string, command: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const record: LockRecord = { pid: process.pid, startTime: startTimeOf('self'), command, since: new Date().toISOString() };
  const candidate = `${file}.${process.pid}.tmp`;
  await writeFile(candidate, `${JSON.stringify(record)}\n`);
  try {
    try {
      // link() fails if the lock exists: taking a free lock is one atomic step.
      await link(candidate, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readRecord(await readFile(file, 'utf8').catch(() => ''));
      if (holder && !ours(holder) && isRunning(holder)) throw lockedError(storage, service, holder);
      // The holder is gone (killed, or the machine restarted): take its place, then read it back
      // (two processes replacing the same stale lock at the same moment: the later one wins,
      // and the earlier one notices if it reads after that).
      await rename(candidate, file);
      const now = readRecord(await readFile(file, 'utf8'));
      if (!ours(now)) throw lockedError(storage, service, now ?? holder ?? record);
    }
  } finally {
    await rm(candidate, { force: true });
  }
}

/** Runs the rest of a side's opening; if that fails, the lock is not kept for a side that never opened. */
export async function lockedWhileOpening<T>(lock: StorageLock, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    lock.release();
    throw error;
  }
}

// A process that exits (a one-shot command, Ctrl-C, an uncaught error) frees its locks;
// one killed with -9 leaves the file, recognised as stale by the next process.
process.once('exit', () => {
  for (const file of held.keys()) removeIfOurs(file);
});
