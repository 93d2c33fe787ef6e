import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CatalogError, UserFacingError } from '../core/errors.ts';
import { formatProblem, readYamlWithSchema, type YamlProblem } from '../core/yaml-file.ts';
import { catalogEntrySchema, type CatalogEntry } from './schema.ts';

export interface LoadedCatalogEntry extends CatalogEntry {
  /** The file it came from, for messages. */
  file: string;
}

export interface CatalogLoadResult {
  entries: LoadedCatalogEntry[];
  problems: YamlProblem[];
}

/** Every `*.yaml` directly in `directory` (sub-folders such as `demo/` and `keys/` are separate catalogs). */
export async function readCatalogDirectory(directory: string): Promise<CatalogLoadResult> {
  const listing = await readdir(directory, { withFileTypes: true }).catch((cause: NodeJS.ErrnoException) => {
    const what = cause.code === 'ENOENT' ? 'does not exist' : cause.code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${cause.code ?? cause.message})`;
    throw new UserFacingError('E_CATALOG_INVALID', `the catalogs folder ${directory} ${what}: set internet.catalogs in the config file to the folder of product catalogs (the shipped ones are in catalogs/ of the installation)`, { cause, details: { file: directory } });
  });
  const names = listing
    .filter((item) => item.isFile() && /\.ya?ml$/u.test(item.name))
    .map((item) => item.name)
    .sort();
  const entries: LoadedCatalogEntry[] = [];
  const problems: YamlProblem[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = path.join(directory, name);
    const parsed = await readYamlWithSchema(file, catalogEntrySchema);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const earlier = seen.get(parsed.value.id);
    if (earlier !== undefined) {
      problems.push({ file, field: 'id', message: `product id "${parsed.value.id}" is already used by ${earlier}` });
      continue;
    }
    seen.set(parsed.value.id, file);
    entries.push(Object.freeze({ ...parsed.value, file }));
  }
  return { entries, problems };
}

/** Loads a catalog and fails with every problem listed (file:line, field, what was expected). */
export async function loadCatalog(directory: string): Promise<LoadedCatalogEntry[]> {
  const { entries, problems } = await readCatalogDirectory(directory);
  if (problems.length > 0) {
    throw new CatalogError(`invalid catalog:\n${problems.map(formatProblem).join('\n')}`, { file: problems[0]!.file, line: problems[0]!.line, field: problems[0]!.field });
  }
  return entries;
}
