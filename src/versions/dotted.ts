import { InvalidVersionError } from './invalid-version.ts';

/** Numbers compared part by part; a missing part counts as 0 (so 9.20 = 9.20.0). */
export function compareNumberLists(left: readonly bigint[], right: readonly bigint[]): number {
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = (left[index] ?? 0n) - (right[index] ?? 0n);
    if (difference !== 0n) return difference < 0n ? -1 : 1;
  }
  return 0;
}

/** Any number of numeric parts (Chrome, Edge, MSI, LibreOffice): compared part by part, missing parts are 0. */
export function compareDotted(a: string, b: string): number {
  return compareNumberLists(parseDotted(a), parseDotted(b));
}

function parseDotted(version: string): bigint[] {
  if (!/^\d+(\.\d+)*$/u.test(version)) throw new InvalidVersionError('dotted', version, 'expected numbers separated by dots');
  return version.split('.').map((part) => BigInt(part));
}
