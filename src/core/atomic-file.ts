import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A temp name in the destination's own folder, so that the final rename never crosses file systems. */
export function temporarySibling(destination: string): string {
  return path.join(path.dirname(destination), `.tmp-${path.basename(destination)}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Flushes a directory entry (a rename is durable only once its folder is synced). */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the whole file under a temporary name, fsyncs it, then renames it into place:
 * a reader sees the old content or the new, never half of one.
 */
export async function writeFileAtomic(destination: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(destination), { recursive: true });
  const temporary = temporarySibling(destination);
  try {
    const handle = await open(temporary, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, destination);
    await syncDirectory(path.dirname(destination));
  } finally {
    await rm(temporary, { force: true });
  }
}
