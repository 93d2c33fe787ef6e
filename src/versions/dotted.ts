import { InvalidVersionError } from './invalid-version.ts';

/** Any number of numeric parts (Chrome, Edge, MSI, LibreOffice): compared part by part, missing parts are 0. */
export function compareDotted(a: string, b: string): number {
  const left = parseDotted(a);
  const right = parseDotted(b);
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = (left[index] ?? 0n) - (right[index] ?? 0n);
    if (difference !== 0n) return difference < 0n ? -1 : 1;
  }
  return 0;
}

function parseDotted(version: string): bigint[] {
  if (!/^\d+(\.\d+)*$/u.test(version)) throw new InvalidVersionError('dotted', version, 'expected numbers separated by dots');
  return version.split('.').map((part) => BigInt(part));
}
