import { InvalidVersionError } from './invalid-version.ts';

/*
 * Mozilla release versions: `128.0`, `128.0.1`, `128.0b9`, `57.0a1`, `115.9.1esr`.
 * `a`/`b` mark pre-releases of the same numeric version; `esr` only names the channel
 * and does not change the order (https://wiki.mozilla.org/Release_Management/Version_Numbers).
 */
const pattern = /^(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b)(\d+))?(esr)?$/u;

interface MozillaVersion {
  numbers: [bigint, bigint, bigint];
  /** 0 alpha, 1 beta, 2 release. */
  stage: number;
  stageNumber: bigint;
}

function parseMozilla(version: string): MozillaVersion {
  const match = pattern.exec(version);
  if (!match) throw new InvalidVersionError('mozilla', version, 'expected e.g. 128.0, 128.0.1, 128.0b9 or 115.9.1esr');
  const [, major, minor, patch, stage, stageNumber, esr] = match;
  if (esr && stage) throw new InvalidVersionError('mozilla', version, 'an ESR version has no a/b pre-release part');
  return {
    numbers: [BigInt(major!), BigInt(minor!), BigInt(patch ?? '0')],
    stage: stage === 'a' ? 0 : stage === 'b' ? 1 : 2,
    stageNumber: BigInt(stageNumber ?? '0'),
  };
}

export function compareMozilla(a: string, b: string): number {
  const left = parseMozilla(a);
  const right = parseMozilla(b);
  for (let index = 0; index < 3; index += 1) {
    const difference = left.numbers[index]! - right.numbers[index]!;
    if (difference !== 0n) return difference < 0n ? -1 : 1;
  }
  if (left.stage !== right.stage) return left.stage < right.stage ? -1 : 1;
  if (left.stageNumber !== right.stageNumber) return left.stageNumber < right.stageNumber ? -1 : 1;
  return 0;
}
