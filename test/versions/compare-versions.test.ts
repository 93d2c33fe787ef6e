import test from 'ava';
import type { VersionScheme } from '../../src/catalog/schema.ts';
import { compareVersions } from '../../src/versions/index.ts';

// VENDORS.md's trap table, for the schemes the pipeline uses today; each pair in both directions.
const ordered: [VersionScheme, string, string][] = [
  ['mozilla', '128.0b9', '128.0'],
  ['mozilla', '128.0b9', '128.0b10'],
  ['mozilla', '115.9.1esr', '115.10.0esr'],
  ['mozilla', '57.0a1', '57.0b1'],
  ['mozilla', '131.0', '131.0.1'],
  ['dotted', '131.0.6778.86', '131.0.6778.109'],
  ['dotted', '9.20', '24.09'],
  ['dotted', '20261120.021110', '20261127.021005'],
  ['dpkg', '3.0-1', '1:2.0-1'],
  ['dpkg', '2.0~rc1-1', '2.0-1'],
  ['dpkg', '1.2.3-1ubuntu9', '1.2.3-1ubuntu10'],
  ['dpkg', '2.36.1', '2.36.1-8'],
  ['dpkg', '20230311', '20230311+deb12u1'],
  ['dpkg', '1.0~~', '1.0~'],
  ['integer', '9999', '27500'],
  ['semver', '1.2.3-rc.1', '1.2.3'],
];

for (const [scheme, older, newer] of ordered) {
  test(`${scheme}: ${older} < ${newer}`, (t) => {
    t.is(compareVersions(scheme, older, newer), -1);
    t.is(compareVersions(scheme, newer, older), 1);
    t.is(compareVersions(scheme, older, older), 0);
  });
}

test('esr is a channel name, not a pre-release: 115.9.1esr equals 115.9.1', (t) => {
  t.is(compareVersions('mozilla', '115.9.1esr', '115.9.1'), 0);
});

test('a string that does not parse under its scheme is an error naming it, never coerced', (t) => {
  for (const [scheme, bad] of [
    ['mozilla', '128'],
    ['dotted', '1.2a'],
    ['integer', '27500.1'],
    ['dpkg', 'abc'],
    ['semver', '131.0.6778.86'],
  ] as const) {
    const error = t.throws(() => compareVersions(scheme, bad, bad), undefined, `${scheme} ${bad}`);
    t.is((error as { code?: string }).code, 'E_VERSION_INVALID');
    t.true(error!.message.includes(`"${bad}" is not a valid ${scheme} version`));
  }
});
