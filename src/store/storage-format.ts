import { readFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { UserFacingError } from '../core/errors.ts';
import { productVersion } from '../core/product-version.ts';

/**
 * The format of a side's data root (state.json, inventory.json, blobs/, quarantine/) and the
 * version that last wrote it, in `<storage>/storage-format.json`. Each side checks it at
 * start, under the storage lock, before it reads anything else:
 * - an older format is migrated step by step (`migrations`), then stamped;
 * - a newer format, or a data root last written by a newer lgwan-mirror, is refused: an
 *   older program would misread or silently drop what a newer one wrote (a downgrade is
 *   undone by restoring the backup taken before the upgrade, docs/operations.md).
 */
export const currentStorageFormat = 1;

export interface StorageFormatRecord {
  format: number;
  writtenBy: string;
}

type Migration = (storage: string) => Promise<void>;

/**
 * `migrations[n]` takes a data root from format n to n + 1. Format 0 is every data root
 * written before this file existed (lgwan-mirror 0.1.0 and its checkouts): its state files
 * are already what format 1 reads, so the step only records the format.
 */
const migrations: readonly Migration[] = [async () => {}];

export class StorageFormatError extends UserFacingError {
  constructor(message: string, details: Record<string, unknown>) {
    super('E_STORAGE_NEWER', message, { details });
  }
}

const formatFileName = 'storage-format.json';

export async function readStorageFormat(storage: string): Promise<StorageFormatRecord | undefined> {
  const text = await readFile(path.join(storage, formatFileName), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const record = JSON.parse(text) as Partial<StorageFormatRecord>;
  if (!Number.isInteger(record.format) || typeof record.writtenBy !== 'string') throw new UserFacingError('E_CONFIG_INVALID', `${path.join(storage, formatFileName)} is not a storage format record`);
  return record as StorageFormatRecord;
}

/**
 * Migrates `storage` to the current format, or refuses it if a newer lgwan-mirror wrote it.
 * Returns what was there before (undefined: a new or pre-format data root).
 */
export async function prepareStorageFormat(storage: string, options: { version?: string } = {}): Promise<{ before: StorageFormatRecord | undefined; after: StorageFormatRecord }> {
  const version = options.version ?? productVersion;
  const file = path.join(storage, formatFileName);
  const before = await readStorageFormat(storage);
  const from = before?.format ?? 0;
  if (from > currentStorageFormat || (before && semver.valid(before.writtenBy) && semver.gt(before.writtenBy, version))) {
    throw new StorageFormatError(
      `${storage} was written by lgwan-mirror ${before?.writtenBy ?? '?'} (storage format ${from}); this is lgwan-mirror ${version} (format ${currentStorageFormat}) and refuses to run on newer state. ` +
        `Install lgwan-mirror ${before?.writtenBy ?? 'the newer version'} again, or restore the backup of ${storage} taken before the upgrade.`,
      { storage, found: before, version, format: currentStorageFormat },
    );
  }
  for (let format = from; format < currentStorageFormat; format++) await migrations[format]!(storage);
  const after = { format: currentStorageFormat, writtenBy: version };
  if (before?.format !== after.format || before.writtenBy !== after.writtenBy) await writeFileAtomic(file, `${JSON.stringify(after, null, 2)}\n`);
  return { before, after };
}
