import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readCatalogDirectory } from '../catalog/load-catalog.ts';
import { catalogEntrySchema, keyPinsSchema } from '../catalog/schema.ts';
import { UserFacingError } from '../core/errors.ts';
import { formatProblem, type YamlProblem } from '../core/yaml-file.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';
import { demoGeneratedKeyNames } from './demo.ts';
import { projectRoot } from './project-paths.ts';

/** Checks every catalog folder: schema, unique ids, and that each signing key is pinned. Returns the report lines. */
export async function validateCatalogs(directories: string[], keyDirectories: string[]): Promise<{ lines: string[]; problems: number }> {
  const keyring = await PinnedKeyring.load(keyDirectories);
  const lines: string[] = [];
  let problems = 0;
  for (const directory of directories) {
    const { entries, problems: found } = await readCatalogDirectory(directory);
    const all: YamlProblem[] = [...found];
    const isDemo = path.basename(directory) === 'demo';
    for (const entry of entries) {
      const key = 'signingKey' in entry.source ? entry.source.signingKey : undefined;
      if (key !== undefined && !keyring.has(key) && !(isDemo && demoGeneratedKeyNames.includes(key))) {
        all.push({ file: entry.file, field: 'source.signingKey', message: `no pinned key named "${key}" in ${keyDirectories.join(', ')}/pins.yaml` });
      }
      if (!all.some((problem) => problem.file === entry.file)) lines.push(`ok  ${path.relative(process.cwd(), entry.file)} (${entry.id}, ${entry.source.type}, trust ${entry.trust})`);
    }
    for (const problem of all) lines.push(`ERR ${formatProblem({ ...problem, file: path.relative(process.cwd(), problem.file) })}`);
    problems += all.length;
  }
  return { lines, problems };
}

/** Publishes the JSON Schemas editors use (yaml-language-server reads the `$schema` comment). */
export async function writeSchemas(directory = path.join(projectRoot, 'catalogs')): Promise<string[]> {
  const written: string[] = [];
  for (const [name, schema, title] of [
    ['catalog.schema.json', catalogEntrySchema, 'lgwan-mirror product catalog entry'],
    ['pins.schema.json', keyPinsSchema, 'lgwan-mirror pinned vendor keys'],
  ] as const) {
    const file = path.join(directory, name);
    const json = { title, ...z.toJSONSchema(schema, { io: 'input' }) };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    written.push(file);
  }
  return written;
}

export function assertNoProblems(report: { problems: number }): void {
  if (report.problems > 0) throw new UserFacingError('E_CATALOG_INVALID', `${report.problems} catalog problem(s) found`);
}
