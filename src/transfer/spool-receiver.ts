import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { bundleFilePattern, tocFilePattern } from './spool-names.ts';

export interface SpooledBundle {
  /** A whole bundle file, or the table of contents of one sent as parts. */
  kind: 'bundle' | 'parts';
  name: string;
  file: string;
  size: number;
  mtimeMs: number;
}

/**
 * Lists complete bundles in the spool, oldest sequence first. Read-only: the LGWAN side
 * never writes, renames or deletes anything here (nothing goes back across the boundary).
 * Names are matched against a strict pattern; anything else is ignored.
 */
export async function listSpool(spool: string): Promise<SpooledBundle[]> {
  let names: string[];
  try {
    names = await readdir(spool);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const bundles: SpooledBundle[] = [];
  for (const name of names.filter((candidate) => bundleFilePattern.test(candidate) || tocFilePattern.test(candidate)).sort()) {
    const file = path.join(spool, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) bundles.push({ kind: tocFilePattern.test(name) ? 'parts' : 'bundle', name, file, size: info.size, mtimeMs: info.mtimeMs });
  }
  return bundles;
}
