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
