import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parseCsafDocument } from '../../src/advisories/csaf.ts';
import { parseDebianTracker } from '../../src/advisories/debian-tracker.ts';
import { parseKev } from '../../src/advisories/cisa-kev.ts';
import { parseMozillaAdvisory } from '../../src/advisories/mozilla-advisories.ts';
import { fixtures } from '../helpers/environment.ts';

/*
 * The shared parsers on the real sample documents (test/fixtures/advisories, provenance in
 * test/fixtures/SOURCES.md). Expected values are counted from the raw text by another route
 * (line patterns, JSON.parse) or are facts read in the sample by hand.
 */

const sample = (...parts: string[]) => readFile(path.join(fixtures, 'advisories', ...parts));
const mozillaProducts = { Firefox: 'firefox', 'Firefox ESR': 'firefox-esr', Thunderbird: 'thunderbird' };

test("Mozilla: mfsa2024-64 is a fix of our firefox-esr in 128.5esr, with every CVE the file lists", async (t) => {
  const text = (await sample('mozilla', 'mfsa2024-64.yml')).toString('utf8');
  const advisory = parseMozillaAdvisory(text, 'mfsa2024-64.yml', 'mozilla-advisories', mozillaProducts);
  const cvesInText = [...text.matchAll(/^ {2}(CVE-\d{4}-\d+):$/gmu)].map((match) => match[1]);
  t.true(cvesInText.length > 0);
  t.deepEqual(advisory.vulnerabilities.map((vulnerability) => vulnerability.cve), cvesInText);
  t.deepEqual(advisory.fixes, [{ product: 'firefox-esr', fixedIn: '128.5esr' }]);
  t.is(advisory.id, 'mfsa2024-64');
  t.is(advisory.published, '2024-11-26');
});

test('Mozilla: "Firefox 133" is our 133.0; "Thunderbird 140.13" our 140.13; an unmapped product gives no fix', async (t) => {
  const firefox = parseMozillaAdvisory((await sample('mozilla', 'mfsa2024-63.yml')).toString('utf8'), 'mfsa2024-63.yml', 'm', mozillaProducts);
  t.deepEqual(firefox.fixes, [{ product: 'firefox', fixedIn: '133.0' }]);
  t.is(firefox.vulnerabilities.find((vulnerability) => vulnerability.cve === 'CVE-2024-11691')?.severity, 'high');
  const thunderbird = parseMozillaAdvisory((await sample('mozilla', 'mfsa2026-72.yml')).toString('utf8'), 'mfsa2026-72.yml', 'm', mozillaProducts);
  t.deepEqual(thunderbird.fixes, [{ product: 'thunderbird', fixedIn: '140.13' }]);
  t.is(thunderbird.vulnerabilities.find((vulnerability) => vulnerability.cve === 'CVE-2026-15718')?.severity, 'critical');
  t.deepEqual(parseMozillaAdvisory((await sample('mozilla', 'mfsa2024-64.yml')).toString('utf8'), 'mfsa2024-64.yml', 'm', { Thunderbird: 'thunderbird' }).fixes, []);
});

test('Mozilla: a file without fixed_in, or not YAML, is refused naming the file and field', async (t) => {
  const text = (await sample('mozilla', 'mfsa2024-65.yml')).toString('utf8');
  const withoutFixes = text.replace(/^fixed_in:\n(?:- .*\n)+/mu, '');
  t.not(withoutFixes, text);
  t.throws(() => parseMozillaAdvisory(withoutFixes, 'mfsa2024-65.yml', 'm', mozillaProducts), { code: 'E_ADVISORY_INVALID', message: /^mfsa2024-65\.yml: not a Mozilla security advisory .*field "fixed_in"/u });
  t.throws(() => parseMozillaAdvisory('a: [b', 'mfsa2024-65.yml', 'm', mozillaProducts), { code: 'E_ADVISORY_INVALID', message: /^mfsa2024-65\.yml: not YAML/u });
  t.throws(() => parseMozillaAdvisory(text, '../mfsa.yml', 'm', mozillaProducts), { code: 'E_ADVISORY_INVALID' });
});

test("CISA KEV: every entry of CISA's real feed is read, with the fields of one checked by hand", async (t) => {
  const data = await sample('cisa-kev', 'known_exploited_vulnerabilities.json');
  const raw = JSON.parse(data.toString('utf8')) as { count: number; dateReleased: string };
  const catalog = parseKev(data, 'known_exploited_vulnerabilities.json');
  t.is(catalog.knownExploited.length, raw.count);
  t.is(catalog.dateReleased, '2025-08-25T17:04:19.9796Z');
  t.deepEqual(catalog.knownExploited.find((entry) => entry.cve === 'CVE-2025-48384'), { cve: 'CVE-2025-48384', vendorProject: 'Git', product: 'Git', dateAdded: '2025-08-25', dueDate: '2025-09-15', knownRansomwareCampaignUse: 'Unknown' });
});

test('CISA KEV: a count that differs from the list, or a malformed CVE id, is refused naming the field', async (t) => {
  const raw = JSON.parse((await sample('cisa-kev', 'known_exploited_vulnerabilities.json')).toString('utf8')) as { count: number; vulnerabilities: { cveID: string }[] };
  t.throws(() => parseKev(JSON.stringify({ ...raw, count: raw.count + 1 }), 'kev.json'), { code: 'E_ADVISORY_INVALID', message: /^kev\.json: field "count" says/u });
  raw.vulnerabilities[3]!.cveID = 'CVE-2025-<script>';
  t.throws(() => parseKev(JSON.stringify(raw), 'kev.json'), { code: 'E_ADVISORY_INVALID', message: /field "vulnerabilities\.3\.cveID"/u });
});

test('CSAF: the BSI document fixes CVE-2022-27193 in CVRF-CSAF-Converter 1.0.0-rc2 (its product_status.fixed), severity from its CVSS v3 score', async (t) => {
  const advisory = parseCsafDocument(await sample('csaf', 'bsi-2022-0001.json'), 'bsi-2022-0001.json', 'csaf-test', { 'CVRF-CSAF-Converter': 'cvrf-csaf-converter' });
  t.is(advisory.id, 'BSI-2022-0001');
  t.deepEqual(advisory.vulnerabilities, [{ cve: 'CVE-2022-27193', severity: 'medium' }]);
  t.deepEqual(advisory.fixes, [{ product: 'cvrf-csaf-converter', fixedIn: '1.0.0-rc2', cves: ['CVE-2022-27193'] }]);
  t.is(advisory.published, '2022-03-17T13:03:42.105Z');
});

test("CSAF: Red Hat's document names its fixed packages through relationships whose components have no product_name: read, but no fix of ours", async (t) => {
  const advisory = parseCsafDocument(await sample('csaf', 'rhsa-2022_0011.json'), 'rhsa-2022_0011.json', 'csaf-test', { 'Red Hat Enterprise Linux Server AUS (v. 7.6)': 'rhel' });
  t.is(advisory.id, 'RHSA-2022:0011');
  t.deepEqual(advisory.vulnerabilities.map((vulnerability) => vulnerability.cve), ['CVE-2020-10188']);
  t.deepEqual(advisory.fixes, []);
});

test('CSAF: another csaf_version, or a vulnerability with a malformed CVE, is refused naming the field', async (t) => {
  const raw = JSON.parse((await sample('csaf', 'bsi-2022-0001.json')).toString('utf8')) as { document: { csaf_version: string }; vulnerabilities: { cve: string }[] };
  t.throws(() => parseCsafDocument(JSON.stringify({ ...raw, document: { ...raw.document, csaf_version: '1.2' } }), 'doc.json', 's', {}), { code: 'E_ADVISORY_INVALID', message: /^doc\.json: not a CSAF 2\.0 document \(field "document\.csaf_version"/u });
  raw.vulnerabilities[0]!.cve = 'not-a-cve';
  t.throws(() => parseCsafDocument(JSON.stringify(raw), 'doc.json', 's', {}), { code: 'E_ADVISORY_INVALID', message: /field "vulnerabilities\.0\.cve"/u });
  t.throws(() => parseCsafDocument('{"document":', 'doc.json', 's', {}), { code: 'E_ADVISORY_INVALID', message: /^doc\.json: not JSON/u });
});

test('Debian tracker: resolved issues of mapped releases are fixes per source package; open issues and TEMP names are not', async (t) => {
  const advisories = await parseDebianTracker(await sample('debian', 'tracker-data.json'), 'data/json', 'debian-security-tracker', { buster: 'debian-buster' });
  t.deepEqual(advisories.map((advisory) => advisory.id), ['CVE-2009-1382', 'CVE-2009-2459']);
  t.deepEqual(advisories[0]!.fixes, [{ product: 'debian-buster', fixedIn: '1.50-1.1', package: 'mimetex', cves: ['CVE-2009-1382'] }]);
  t.is(advisories[0]!.vulnerabilities[0]!.severity, 'medium');
  t.deepEqual(await parseDebianTracker(await sample('debian', 'tracker-data.json'), 'data/json', 's', { bookworm: 'debian-bookworm-security' }), []);
  await t.throwsAsync(parseDebianTracker('{"mimetex":{"CVE-2009-1382":{"releases":{"buster":{"status":"fixed?"}}}}}', 'data/json', 's', { buster: 'b' }), { code: 'E_ADVISORY_INVALID', message: /mimetex\.CVE-2009-1382\.releases\.buster.*field "status"/u });
});

test('Debian tracker: the JSON is read as a stream, one package at a time; a cut, non-JSON or oversized stream is refused naming the file', async (t) => {
  const data = await sample('debian', 'tracker-data.json');
  // In chunks of 7 bytes: tokens split across chunks are joined by the streaming parser.
  const chunks = async function* () {
    for (let offset = 0; offset < data.length; offset += 7) yield data.subarray(offset, offset + 7);
  };
  t.deepEqual((await parseDebianTracker(chunks(), 'data/json', 's', { buster: 'b' })).map((advisory) => advisory.id), ['CVE-2009-1382', 'CVE-2009-2459']);
  await t.throwsAsync(parseDebianTracker(data.subarray(0, 900), 'data/json', 's', { buster: 'b' }), { code: 'E_ADVISORY_INVALID', message: /^data\/json: not the Debian security tracker's JSON/u });
  await t.throwsAsync(parseDebianTracker('<html>', 'data/json', 's', { buster: 'b' }), { code: 'E_ADVISORY_INVALID', message: /^data\/json: not the Debian security tracker's JSON/u });
  await t.throwsAsync(parseDebianTracker('[1,2]', 'data/json', 's', { buster: 'b' }), { code: 'E_ADVISORY_INVALID' });
  await t.throwsAsync(parseDebianTracker(data, 'data/json', 's', { buster: 'b' }, 1000), { code: 'E_ADVISORY_INVALID', message: 'data/json: more than the 1000 bytes the Debian tracker JSON may have' });
});
