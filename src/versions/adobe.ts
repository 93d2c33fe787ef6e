import { compareNumberLists } from './dotted.ts';
import { InvalidVersionError } from './invalid-version.ts';

/*
 * Adobe Acrobat/Reader: YY.NNN.NNNNN with zero-padded parts (24.005.20320). Some feeds spell
 * the year in full (2023.001.20064): it is read as 23, so both spellings order together.
 */
function parseAdobe(version: string): bigint[] {
  if (!/^\d+(\.\d+){1,3}$/u.test(version)) throw new InvalidVersionError('adobe', version, 'expected e.g. 24.005.20320');
  const parts = version.split('.').map((part) => BigInt(part));
  if (parts[0]! >= 2000n && parts[0]! < 2100n) parts[0] = parts[0]! - 2000n;
  return parts;
}

export function compareAdobe(a: string, b: string): number {
  return compareNumberLists(parseAdobe(a), parseAdobe(b));
}

/**
 * The spelling Adobe's download paths use: two-digit year, zero-padded parts, no dots
 * ("24.005.20320" and "2024.005.20320" → "2400520320").
 */
export function adobeDownloadNumber(version: string): string {
  if (!/^\d{2,4}\.\d{3}\.\d{5}$/u.test(version)) throw new InvalidVersionError('adobe', version, 'expected YY.NNN.NNNNN for a download path');
  const [year, minor, build] = version.split('.') as [string, string, string];
  const shortYear = year.length === 4 && year.startsWith('20') ? year.slice(2) : year;
  if (shortYear.length !== 2) throw new InvalidVersionError('adobe', version, 'expected a year of two digits (or 20YY)');
  return `${shortYear}${minor}${build}`;
}
