import { InvalidVersionError } from './invalid-version.ts';

/** ClamAV databases: one integer per database; callers must never compare main with daily. */
export function compareInteger(a: string, b: string): number {
  const left = parseInteger(a);
  const right = parseInteger(b);
  return left === right ? 0 : left < right ? -1 : 1;
}

function parseInteger(version: string): bigint {
  if (!/^\d+$/u.test(version)) throw new InvalidVersionError('integer', version, 'expected a whole number');
  return BigInt(version);
}
