import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { advisoryDataOf, blobFileReader } from '../../src/advisories/published-advisories.ts';
import { fixtures } from '../helpers/environment.ts';
import { entries, setupAdvisoryEnvironment as setup } from './advisory-environment.ts';

/*
 * Advisory sources end to end: the real sample documents served by the advisory simulator in
 * each publisher's layout, fetched and verified by the internet side, carried in a bundle,
 * verified again by the LGWAN side with its own pinned keys, and read by advisoryDataOf.
 */

test('every advisory source is fetched, carried, re-verified and read on the LGWAN side; a second run with the same documents is up to date', async (t) => {
  const environment = await setup();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const first = await internet.runOnce();
  t.deepEqual(first.fetched.map((outcome) => [outcome.productId, outcome.status, outcome.error]), entries.map((entry) => [entry.id, 'fetched', undefined]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  const lgwan = await environment.openLgwan();
  const imported = await lgwan.importOnce();
  t.deepEqual(imported.map((outcome) => outcome.status), ['published'], JSON.stringify(imported));
  const published = lgwan.database.data.published!;
  // CSAF: each document with its .asc and .sha512, checked again here by signature and hash file.
  t.deepEqual(
    published.artifacts.filter((artifact) => artifact.productId === 'csaf-test').map((artifact) => [artifact.fileName, artifact.verification.method]).sort(),
    ['bsi-2022-0001.json', 'cisco-sa-20180328-smi2.json', 'rhsa-2022_0011.json'].flatMap((name) => [[name, 'openpgp-detached'], [`${name}.asc`, 'signature-of'], [`${name}.sha512`, 'hash-file']]).sort(),
  );

  const data = await advisoryDataOf(published, blobFileReader(lgwan.store));
  t.is(await advisoryDataOf(published, blobFileReader(lgwan.store)), data, 'parsed once per published state');
  t.deepEqual(data.sources.map((source) => [source.source, source.kind, source.trust, source.products, source.problems]), [
    ['cisa-kev', 'cisa-kev', 'tls-only', [], undefined],
    ['csaf-test', 'csaf', 'vendor-signature', ['cvrf-csaf-converter'], undefined],
    ['debian-security-tracker', 'debian-tracker', 'tls-only', ['debian-buster-test'], undefined],
    ['jvn', 'jvn', 'tls-only', [], undefined],
    ['mozilla-advisories', 'mozilla', 'tls-only', ['firefox', 'firefox-esr', 'thunderbird'], undefined],
  ]);
  const mozilla = data.advisories.filter((advisory) => advisory.source === 'mozilla-advisories');
  t.deepEqual(mozilla.map((advisory) => advisory.id).sort(), ['mfsa2024-63', 'mfsa2024-64', 'mfsa2024-65', 'mfsa2024-68', 'mfsa2026-72']);
  t.deepEqual(mozilla.find((advisory) => advisory.id === 'mfsa2024-65')?.fixes, [{ product: 'firefox-esr', fixedIn: '115.18esr' }]);
  t.deepEqual(mozilla.find((advisory) => advisory.id === 'mfsa2024-68')?.fixes, [{ product: 'thunderbird', fixedIn: '128.5' }]);
  const kev = JSON.parse(await readFile(path.join(fixtures, 'advisories', 'cisa-kev', 'known_exploited_vulnerabilities.json'), 'utf8')) as { count: number; dateReleased: string };
  t.is(data.knownExploited.length, kev.count);
  t.is(data.sources.find((source) => source.source === 'cisa-kev')?.producedAt, kev.dateReleased);
  t.deepEqual(data.advisories.find((advisory) => advisory.id === 'BSI-2022-0001')?.fixes, [{ product: 'cvrf-csaf-converter', fixedIn: '1.0.0-rc2', cves: ['CVE-2022-27193'] }]);
  t.deepEqual(data.advisories.filter((advisory) => advisory.source === 'debian-security-tracker').map((advisory) => [advisory.id, advisory.fixes]), [
    ['CVE-2009-1382', [{ product: 'debian-buster-test', fixedIn: '1.50-1.1', package: 'mimetex', cves: ['CVE-2009-1382'] }]],
    ['CVE-2009-2459', [{ product: 'debian-buster-test', fixedIn: '1.50-1.1', package: 'mimetex', cves: ['CVE-2009-2459'] }]],
  ]);

  // JVN: every entry MyJVN listed (in two pages), with the CVEs and JVN ids of its detail answer.
  t.deepEqual(data.advisories.filter((advisory) => advisory.source === 'jvn').map((advisory) => advisory.id), ['JVNDB-2017-009608', 'JVNDB-2018-009328', 'JVNDB-2021-002774', 'JVNDB-2022-000097']);
  t.deepEqual(data.advisories.find((advisory) => advisory.id === 'JVNDB-2021-002774')?.vulnerabilities.map((vulnerability) => vulnerability.jvn), [['JVNDB-2021-002774', 'JVNVU#99520559']]);

  const second = await internet.runOnce();
  t.deepEqual(second.fetched.map((outcome) => [outcome.productId, outcome.status, outcome.version]), first.fetched.map((outcome) => [outcome.productId, 'up-to-date', outcome.version]));
});

test('a CSAF document that differs from its .sha512 is refused on the internet side; the other sources still go through', async (t) => {
  const environment = await setup({ tamperCsaf: (name, document) => (name === 'bsi-2022-0001.json' ? Buffer.from(document.toString('utf8').replace('1.0.0-rc2', '1.0.0-rc9')) : document) });
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  const csaf = fetched.find((outcome) => outcome.productId === 'csaf-test')!;
  t.is(csaf.status, 'failed');
  t.regex(csaf.error!, /bsi-2022-0001\.json: sha512 [0-9a-f]{16}… differs from .*bsi-2022-0001\.json\.sha512/u);
  t.deepEqual(fetched.filter((outcome) => outcome.productId !== 'csaf-test').map((outcome) => outcome.status), ['fetched', 'fetched', 'fetched', 'fetched']);
});

test("the LGWAN side checks CSAF signatures with its own pinned key: signed by a key it does not pin, the bundle is refused and nothing is published", async (t) => {
  const environment = await setup({ lgwanKey: 'other' });
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.true(fetched.every((outcome) => outcome.status === 'fetched'));
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.regex((outcome as { reason: string }).reason, /pool\/csaf-test\/\d{14}\/any\/any\/[a-z0-9_-]+\.json: no good signature by pinned key "csaf-test"/u);
  t.is(lgwan.database.data.published, null);
  t.deepEqual(await advisoryDataOf(lgwan.database.data.published, blobFileReader(lgwan.store)), { sources: [], advisories: [], knownExploited: [] });
});
