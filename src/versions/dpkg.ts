import { InvalidVersionError } from './invalid-version.ts';

/* deb-version(7): [epoch:]upstream[-revision]; letters sort before non-letters, '~' before everything, even the end. */
const upstreamPattern = /^[0-9][A-Za-z0-9.+~:-]*$/u;

interface DpkgVersion {
  epoch: bigint;
  upstream: string;
  revision: string;
}

function parseDpkg(version: string): DpkgVersion {
  let rest = version;
  let epoch = 0n;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    const epochText = rest.slice(0, colon);
    if (!/^\d+$/u.test(epochText)) throw new InvalidVersionError('dpkg', version, 'the epoch must be a number');
    epoch = BigInt(epochText);
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen === -1 ? rest : rest.slice(0, hyphen);
  const revision = hyphen === -1 ? '' : rest.slice(hyphen + 1);
  if (!upstreamPattern.test(upstream) || (colon === -1 && upstream.includes(':'))) {
    throw new InvalidVersionError('dpkg', version, 'the upstream version must start with a digit and use only A-Z a-z 0-9 . + ~ - :');
  }
  if (hyphen !== -1 && !/^[A-Za-z0-9.+~]+$/u.test(revision)) throw new InvalidVersionError('dpkg', version, 'the revision may use only A-Z a-z 0-9 . + ~');
  return { epoch, upstream, revision };
}

function characterOrder(character: string | undefined): number {
  if (character === undefined) return 0;
  if (character === '~') return -1;
  if (/[A-Za-z]/u.test(character)) return character.charCodeAt(0);
  return character.charCodeAt(0) + 256;
}

function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit prefix, compared character by character with the deb-version order.
    while ((i < a.length && !/\d/u.test(a[i]!)) || (j < b.length && !/\d/u.test(b[j]!))) {
      const left = i < a.length && !/\d/u.test(a[i]!) ? characterOrder(a[i]) : 0;
      const right = j < b.length && !/\d/u.test(b[j]!) ? characterOrder(b[j]) : 0;
      if (left !== right) return left < right ? -1 : 1;
      if (i < a.length && !/\d/u.test(a[i]!)) i += 1;
      if (j < b.length && !/\d/u.test(b[j]!)) j += 1;
    }
    let leftDigits = '';
    let rightDigits = '';
    while (i < a.length && /\d/u.test(a[i]!)) leftDigits += a[i++];
    while (j < b.length && /\d/u.test(b[j]!)) rightDigits += b[j++];
    const left = BigInt(leftDigits || '0');
    const right = BigInt(rightDigits || '0');
    if (left !== right) return left < right ? -1 : 1;
  }
  return 0;
}

export function compareDpkg(a: string, b: string): number {
  const left = parseDpkg(a);
  const right = parseDpkg(b);
  if (left.epoch !== right.epoch) return left.epoch < right.epoch ? -1 : 1;
  return comparePart(left.upstream, right.upstream) || comparePart(left.revision, right.revision);
}
