import { compareNumberLists } from './dotted.ts';
import { InvalidVersionError } from './invalid-version.ts';

/*
 * Java runtimes in their three spellings, as one ordering of (feature, interim, update,
 * patch, build):
 *   21.0.5+11, 17.0.13+10-LTS      JEP 322 (the build number matters: Temurin rebuilds)
 *   1.8.0_432-b06                   the legacy 1.x form
 *   8u432b06, 8u432                 the short legacy form
 */
const modern = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:\+(\d+))?(?:-LTS)?$/u;
const legacyLong = /^1\.(\d+)\.0(?:_(\d+))?(?:-b(\d+))?$/u;
const legacyShort = /^(\d+)u(\d+)(?:-?b(\d+))?$/u;

function parseJava(version: string): bigint[] {
  const numbers = (...parts: (string | undefined)[]) => parts.map((part) => BigInt(part ?? '0'));
  let match = legacyLong.exec(version);
  if (match) return numbers(match[1], '0', match[2], '0', match[3]);
  match = legacyShort.exec(version);
  if (match) return numbers(match[1], '0', match[2], '0', match[3]);
  match = modern.exec(version);
  if (match && !version.startsWith('1.')) return numbers(match[1], match[2], match[3], match[4], match[5]);
  throw new InvalidVersionError('java', version, 'expected e.g. 21.0.5+11, 1.8.0_432-b06 or 8u432b06');
}

export function compareJava(a: string, b: string): number {
  return compareNumberLists(parseJava(a), parseJava(b));
}
