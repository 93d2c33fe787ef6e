import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { writeFileAtomic } from '../core/atomic-file.ts';

/*
 * lowdb's own JSONFile adapter renames a temp file into place but never fsyncs, so a
 * power cut can leave an empty state file behind. This adapter keeps lowdb's model (one
 * in-memory object, written whole) with a durable write: temp, fsync, rename, fsync dir.
 * One writer process per file (lowdb has no lock): each side owns its own state file.
 */
class DurableJsonFile<T> implements Adapter<T> {
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  async read(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.#file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.#file, `${JSON.stringify(data, null, 1)}\n`);
  }
}

/**
 * The state as its owner last wrote it, for a reader beside a running owner (`status`): it
 * removes no temp file (one may be the owner's write in progress) and never writes.
 */
export async function readJsonState<T extends object>(file: string, defaults: T): Promise<T> {
  return { ...structuredClone(defaults), ...(await new DurableJsonFile<T>(file).read()) };
}

/**
 * lowdb's database that counts its writes: a reader holding answers made from `data` (the
 * repository's status) knows the object changed in place when the count has moved.
 */
export class RevisedLow<T> extends Low<T> {
  #revision = 0;

  get revision(): number {
    return this.#revision;
  }

  override async write(): Promise<void> {
    // Counted before the write: the change is already in `data`, and a reader must not keep
    // an answer made before it while the file is being written.
    this.#revision += 1;
    await super.write();
  }
}

/** Opens a lowdb database at `file`, filled with `defaults` when the file does not exist yet. */
export async function openJsonState<T extends object>(file: string, defaults: T): Promise<RevisedLow<T>> {
  // Temp files of a write interrupted by a crash (kill -9, power cut): the file itself is intact.
  const prefix = `.tmp-${path.basename(file)}-`;
  for (const name of await readdir(path.dirname(file)).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) await rm(path.join(path.dirname(file), name), { force: true });
  }
  const database = new RevisedLow<T>(new DurableJsonFile<T>(file), structuredClone(defaults));
  await database.read();
  // Fields added in later versions get their defaults without losing what is stored.
  database.data = { ...structuredClone(defaults), ...database.data };
  return database;
}
