import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { Artifact, ProductSummary } from '../../src/bundle/manifest.ts';
import { parseJvnDetail, parseJvnOverview } from '../../src/advisories/jvn.ts';
import { advisoryDataOf } from '../../src/advisories/published-advisories.ts';
import { fixtures } from '../helpers/environment.ts';

/* JVN iPedia through MyJVN: IPA's own example answers (github.com/MyJVN/np, examples/oka/). */

const sample = (name: string) => readFile(path.join(fixtures, 'advisories', 'jvn', name));

test("a real getVulnDetailInfo answer gives its CVEs with the JVNDB id and the JVN# advisory its references name", async (t) => {
  const advisory = parseJvnDetail(await sample('getVulnDetailInfo_oka_JVNDB-2022-000097.json'), 'JVNDB-2022-000097.json', 'jvn');
  t.is(advisory.id, 'JVNDB-2022-000097');
  t.is(advisory.title, '電子入札コアシステムにおける複数の脆弱性');
  // The answer's first vulnerability has cve "" (a weakness without a CVE): left out.
  t.deepEqual(advisory.vulnerabilities.map((vulnerability) => [vulnerability.cve, vulnerability.jvn]), ['CVE-2022-41993', 'CVE-2022-46287', 'CVE-2022-46288'].map((cve) => [cve, ['JVNDB-2022-000097', 'JVN#96321933']]));
  t.is(advisory.vulnerabilities[0]!.severity, 'medium');
  t.deepEqual(advisory.fixes, []);
  const vu = parseJvnDetail(await sample('getVulnDetailInfo_oka_JVNDB-2021-002774.json'), 'x.json', 'jvn');
  t.deepEqual(vu.vulnerabilities.map((vulnerability) => [vulnerability.cve, vulnerability.jvn]), [['CVE-2021-36745', ['JVNDB-2021-002774', 'JVNVU#99520559']]]);
  t.deepEqual(parseJvnDetail(await sample('getVulnDetailInfo_oka_JVNDB-2018-009328.json'), 'x.json', 'jvn').vulnerabilities, []);
});

test("a real getVulnOverviewList answer gives its entries' ids and MyJVN's paging counters; an error answer is refused", async (t) => {
  const page = parseJvnOverview(await sample('getVulnOverviewList_oka.json'), 'overview.json');
  t.deepEqual(page, { ids: ['JVNDB-2025-000000', 'JVNDB-2025-002953', 'JVNDB-2025-002884'], totalRes: 6, next: 5 });
  const raw = JSON.parse((await sample('getVulnOverviewList_oka.json')).toString('utf8')) as { status: Record<string, unknown> };
  raw.status.retCd = 1;
  raw.status.errMsg = 'パラメタ不正';
  t.throws(() => parseJvnOverview(JSON.stringify(raw), 'overview.json'), { code: 'E_ADVISORY_INVALID', message: 'overview.json: MyJVN answered retCd 1 (パラメタ不正)' });
  t.throws(() => parseJvnDetail('{"document":{}}', 'd.json', 'jvn'), { code: 'E_ADVISORY_INVALID', message: /^d\.json: not a MyJVN getVulnDetailInfo \(jvncsaf\) answer \(field "document\.title"/u });
});

test("advisoryDataOf adds a JVN source's ids to the same CVE in another source's advisories", async (t) => {
  const csaf = await readFile(path.join(fixtures, 'advisories', 'csaf', 'bsi-2022-0001.json'));
  // A test input, not a sample: IPA's real answer for JVNDB-2017-009608 with its CVE changed to the BSI document's.
  const jvn = Buffer.from((await sample('getVulnDetailInfo_oka_JVNDB-2017-009608.json')).toString('utf8').replaceAll('CVE-2017-14937', 'CVE-2022-27193'));
  const blobs = new Map([['a'.repeat(64), csaf], ['b'.repeat(64), jvn]]);
  const summary = (id: string, advisory: ProductSummary['advisory'], trust: ProductSummary['trust']): ProductSummary => ({
    id, name: id, vendor: id, scheme: 'integer', trust, retention: 1, latestSeen: null, advisory,
    sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 },
  });
  const artifact = (productId: string, fileName: string, sha256: string): Artifact => ({
    productId, version: '20261202000000', platform: 'any', locale: 'any', fileName, path: `pool/${productId}/20261202000000/any/any/${fileName}`, size: blobs.get(sha256)!.length, sha256, role: 'payload', verification: { method: 'tls-only', statement: 'test' },
  });
  const data = await advisoryDataOf(
    {
      manifestSha256: 'c'.repeat(64),
      products: [summary('csaf-test', { kind: 'csaf', products: { 'CVRF-CSAF-Converter': 'cvrf-csaf-converter' } }, 'vendor-signature'), summary('jvn', { kind: 'jvn' }, 'tls-only')],
      artifacts: [artifact('csaf-test', 'bsi-2022-0001.json', 'a'.repeat(64)), artifact('jvn', 'JVNDB-2017-009608.json', 'b'.repeat(64))],
    },
    { read: async (sha256) => blobs.get(sha256)!, stream: async (sha256) => (async function* () { yield blobs.get(sha256)!; })() },
  );
  t.deepEqual(data.advisories.find((advisory) => advisory.id === 'BSI-2022-0001')?.vulnerabilities, [{ cve: 'CVE-2022-27193', severity: 'medium', jvn: ['JVNDB-2017-009608'] }]);
  t.deepEqual(data.sources.map((source) => [source.source, source.kind, source.fetchedAt]), [['csaf-test', 'csaf', '2026-12-02T00:00:00.000Z'], ['jvn', 'jvn', '2026-12-02T00:00:00.000Z']]);
});
