import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IntegrityError, UserFacingError } from '../core/errors.ts';

const run = promisify(execFile);

/** Where an MSI keeps the version the catalog compares: a Property-table row or a Summary Information field. */
export interface MsiVersionField {
  from: 'property' | 'summary';
  /** ProductVersion, or a Summary Information field such as Comments or Subject. */
  name: string;
  /** A pattern whose first group is the version inside that text; the whole text when absent. */
  pattern?: string;
}

async function msiinfo(args: string[], label: string): Promise<string> {
  try {
    return (await run('msiinfo', args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') throw new UserFacingError('E_INTEGRITY', 'msiinfo is not installed (Debian package msitools); the version inside an MSI cannot be read', { details: { file: label } });
    throw new IntegrityError(`${label}: not a readable MSI: ${(failure.stderr ?? failure.message).trim().split('\n')[0]}`, { file: label });
  }
}

/**
 * Reads the version out of a downloaded MSI with msitools, so that a rolling download URL
 * (one URL for whatever is current) cannot hand us another version than the feed announced.
 */
export async function msiVersion(file: string, label: string, field: MsiVersionField): Promise<string> {
  let text: string | undefined;
  if (field.from === 'property') {
    for (const line of (await msiinfo(['export', file, 'Property'], label)).split(/\r?\n/u)) {
      const tab = line.indexOf('\t');
      if (tab > 0 && line.slice(0, tab) === field.name) text = line.slice(tab + 1);
    }
  } else {
    for (const line of (await msiinfo(['suminfo', file], label)).split(/\r?\n/u)) {
      const colon = line.indexOf(':');
      if (colon > 0 && line.slice(0, colon) === field.name) text = line.slice(colon + 1).trim();
    }
  }
  if (text === undefined) throw new IntegrityError(`${label}: the MSI has no ${field.from === 'property' ? 'Property' : 'Summary Information'} field ${field.name}`, { file: label });
  if (!field.pattern) return text;
  const match = new RegExp(field.pattern, 'u').exec(text);
  if (!match?.[1]) throw new IntegrityError(`${label}: ${field.name} "${text}" does not match ${field.pattern}`, { file: label });
  return match[1];
}
