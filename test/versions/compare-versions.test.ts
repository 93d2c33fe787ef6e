import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { cliPath } from '../helpers/processes.ts';
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
  ['adobe', '24.005.20320', '24.005.20399'],
  ['adobe', '2023.001.20064', '23.008.20470'],
  ['adobe', '23.008.20470', '24.001.20604'],
  ['java', '1.8.0_402-b06', '1.8.0_432-b06'],
  ['java', '17.0.13+10', '17.0.13+11'],
  ['java', '8u402b06', '1.8.0_432-b06'],
  ['java', '1.8.0_432-b06', '11.0.25+9'],
  ['java', '21.0.5+11', '21.0.5.1+2'],
  ['dotted', '6.3.0.52884', '6.3.1.53000'],
];

for (const [scheme, older, newer] of ordered) {
  test(`${scheme}: ${older} < ${newer}`, (t) => {
    t.is(compareVersions(scheme, older, newer), -1);
    t.is(compareVersions(scheme, newer, older), 1);
    t.is(compareVersions(scheme, older, older), 0);
  });
}

test('spellings of one version compare equal: Adobe years in full, Java legacy and short forms', (t) => {
  t.is(compareVersions('adobe', '2024.005.20320', '24.005.20320'), 0);
  t.is(compareVersions('java', '8u432b06', '1.8.0_432-b06'), 0);
  t.is(compareVersions('java', '21.0.5+11-LTS', '21.0.5+11'), 0);
});

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
    ['adobe', '24.005.20320a'],
    ['java', 'jdk-21'],
  ] as const) {
    const error = t.throws(() => compareVersions(scheme, bad, bad), undefined, `${scheme} ${bad}`);
    t.is((error as { code?: string }).code, 'E_VERSION_INVALID');
    t.true(error!.message.includes(`"${bad}" is not a valid ${scheme} version`));
  }
});

test('"lgwan-mirror version compare" prints <, = or > and exits 2 with the reason when a version does not parse', async (t) => {
  const run = promisify(execFile);
  t.is((await run(process.execPath, [cliPath, 'version', 'compare', '--scheme', 'dpkg', '2.0~rc1-1', '2.0-1'])).stdout, '<\n');
  t.is((await run(process.execPath, [cliPath, 'version', 'compare', '--scheme', 'mozilla', '115.9.1esr', '115.9.1'])).stdout, '=\n');
  t.is((await run(process.execPath, [cliPath, 'version', 'compare', '--scheme', 'java', '17.0.13+11', '17.0.13+10'])).stdout, '>\n');
  const failure = (await t.throwsAsync(run(process.execPath, [cliPath, 'version', 'compare', '--scheme', 'dotted', '131.0', '131.0-beta']))) as unknown as { code: number; stderr: string };
  t.is(failure.code, 2);
  t.is(failure.stderr, 'lgwan-mirror: "131.0-beta" is not a valid dotted version: expected numbers separated by dots\n');
});
