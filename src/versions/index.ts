import semver from 'semver';
import type { VersionScheme } from '../catalog/schema.ts';
import { compareAdobe } from './adobe.ts';
import { compareDotted } from './dotted.ts';
import { compareJava } from './java.ts';
import { compareDpkg } from './dpkg.ts';
import { compareInteger } from './integer.ts';
import { compareMozilla } from './mozilla.ts';
import { InvalidVersionError } from './invalid-version.ts';

export { InvalidVersionError } from './invalid-version.ts';

function compareSemver(a: string, b: string): number {
  for (const version of [a, b]) {
    if (semver.valid(version) === null) throw new InvalidVersionError('semver', version, 'expected MAJOR.MINOR.PATCH[-pre][+build]');
  }
  return semver.compare(a, b);
}

const comparators: Record<VersionScheme, (a: string, b: string) => number> = {
  semver: compareSemver,
  mozilla: compareMozilla,
  dotted: compareDotted,
  dpkg: compareDpkg,
  integer: compareInteger,
  adobe: compareAdobe,
  java: compareJava,
};

/** -1, 0 or 1. Throws InvalidVersionError for a string that does not parse under the scheme: never coerced. */
export function compareVersions(scheme: VersionScheme, a: string, b: string): number {
  return Math.sign(comparators[scheme](a, b));
}

/** Newest first. */
export function sortVersionsDescending(scheme: VersionScheme, versions: Iterable<string>): string[] {
  return [...versions].sort((a, b) => compareVersions(scheme, b, a));
}
