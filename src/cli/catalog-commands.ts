import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { readCatalogDirectory } from '../catalog/load-catalog.ts';
import { catalogEntrySchema, keyPinsSchema } from '../catalog/schema.ts';
import { configSchema } from '../config/config.ts';
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
      const signer = 'signer' in entry.source ? entry.source.signer : undefined;
      if (signer !== undefined && !keyring.hasAuthenticodeSigner(signer)) {
        all.push({ file: entry.file, field: 'source.signer', message: `no pinned Authenticode signer named "${signer}" under authenticode.signers in ${keyDirectories.join(', ')}/pins.yaml` });
      }
      if (entry.source.type === 'clamav' && entry.source.signFiles && !keyring.hasClamavSign()) {
        all.push({ file: entry.file, field: 'source.signFiles', message: `.sign files need roots and signers under clamavSign in ${keyDirectories.join(', ')}/pins.yaml (docs/catalog.md)` });
      }
      if (!all.some((problem) => problem.file === entry.file)) lines.push(`ok  ${path.relative(process.cwd(), entry.file)} (${entry.id}, ${entry.source.type}, trust ${entry.trust})`);
      // The release key is pinned by the package build (scripts/package.sh pins the key that signs the
      // release); a checkout has none. Valid, but every release would be refused: say so, naming the field.
      const releaseKey = entry.source.type === 'local-release' ? entry.source.releaseKey : undefined;
      if (releaseKey !== undefined && !keyring.hasEd25519(releaseKey)) {
        lines.push(
          `WARN ${path.relative(process.cwd(), entry.file)}: field "source.releaseKey": no Ed25519 key "${releaseKey}" is pinned under ed25519Keys in ${keyDirectories.join(', ')}/pins.yaml: every ${entry.id} release will be refused. An installed package pins the key that signed it; pin it by hand otherwise (docs/operations.md, "Upgrading").`,
        );
      }
      // Valid, but each side would refuse it: say so now rather than let it never publish.
      if ((entry.trust === 'tls-only' || entry.trust === 'vendor-hash-over-tls') && !keyring.acceptsUnsigned(entry.id)) {
        lines.push(
          `WARN ${path.relative(process.cwd(), entry.file)}: ${entry.id} has trust ${entry.trust}, and no pins.yaml in ${keyDirectories.join(', ')} lists it under unsignedProducts: neither side will publish it. If that is intended, leave it; otherwise add "${entry.id}: { reviewed: <who, when, why> }" under unsignedProducts in the pins.yaml of each side's keys folder (docs/catalog.md).`,
        );
      }
    }
    for (const problem of all) lines.push(`ERR ${formatProblem({ ...problem, file: path.relative(process.cwd(), problem.file) })}`);
    problems += all.length;
  }
  return { lines, problems };
}

/** The JSON Schemas editors use (yaml-language-server reads the `$schema` comment), by file. */
export function renderSchemas(root = projectRoot): Map<string, string> {
  const schemas = new Map<string, string>();
  for (const [file, schema, title] of [
    ['catalogs/catalog.schema.json', catalogEntrySchema, 'lgwan-mirror product catalog entry'],
    ['catalogs/pins.schema.json', keyPinsSchema, 'lgwan-mirror pinned vendor keys'],
    ['docs/config.schema.json', configSchema, 'lgwan-mirror configuration'],
  ] as const) {
    schemas.set(path.join(root, file), `${JSON.stringify({ title, ...z.toJSONSchema(schema, { io: 'input' }) }, null, 2)}\n`);
  }
  return schemas;
}

export async function writeSchemas(): Promise<string[]> {
  const schemas = renderSchemas();
  for (const [file, text] of schemas) await writeFile(file, text);
  return [...schemas.keys()];
}

export function assertNoProblems(report: { problems: number }): void {
  if (report.problems > 0) throw new UserFacingError('E_CATALOG_INVALID', `${report.problems} catalog problem(s) found`);
}
