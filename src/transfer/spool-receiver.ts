import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { TransferFileNames, looksRenamed } from './spool-names.ts';

export interface SpooledBundle {
  /**
   * A whole bundle file, the table of contents of one sent as parts, or a file whose name
   * mentions a bundle but is none of this spool's names (renamed on the way).
   */
  kind: 'bundle' | 'parts' | 'renamed';
  name: string;
  file: string;
  size: number;
  mtimeMs: number;
}

/**
 * Lists complete bundles in the spool, oldest sequence first, and files that look like
 * renamed transfer files. Read-only: the LGWAN side never writes, renames or deletes here
 * (nothing goes back across the boundary). Names are matched against strict patterns;
 * summaries, parts, signatures and anything else are not listed.
 */
export async function listSpool(spool: string, names: TransferFileNames = new TransferFileNames()): Promise<SpooledBundle[]> {
  let entries: string[];
  try {
    entries = await readdir(spool);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const bundles: SpooledBundle[] = [];
  for (const name of entries.sort()) {
    const kind = names.parse(name)?.kind;
    const listed = kind === 'bundle' ? 'bundle' : kind === 'toc' ? 'parts' : looksRenamed(name, names) ? 'renamed' : undefined;
    if (listed === undefined) continue;
    const file = path.join(spool, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) bundles.push({ kind: listed, name, file, size: info.size, mtimeMs: info.mtimeMs });
  }
  return bundles;
}
