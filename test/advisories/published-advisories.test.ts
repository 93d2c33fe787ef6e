import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { Artifact, ProductSummary } from '../../src/bundle/manifest.ts';
import { advisoryDataOf, type AdvisoryBlobs } from '../../src/advisories/published-advisories.ts';
import { fixtures } from '../helpers/environment.ts';

/* advisoryDataOf on hand-made published states whose documents are the real samples (or are broken on purpose). */

const summary = (id: string, advisory: ProductSummary['advisory']): ProductSummary => ({
  id, name: id, vendor: id, scheme: 'integer', trust: 'tls-only', retention: 1, latestSeen: null, advisory,
  sourceHealth: { lastSuccessAt: '2026-12-01T00:00:00.000Z', lastErrorAt: null, lastError: null, consecutiveFailures: 0 },
});
const artifact = (productId: string, fileName: string, sha256: string, size: number, version = '20261202000000'): Artifact => ({
  productId, version, platform: 'any', locale: 'any', fileName, path: `pool/${productId}/${version}/any/any/${fileName}`, size, sha256, role: 'payload', verification: { method: 'tls-only', statement: 'test' },
});
const blobsOf = (blobs: Map<string, Buffer>): AdvisoryBlobs => ({
  read: async (sha256) => blobs.get(sha256)!,
  stream: async (sha256) => (async function* () { yield blobs.get(sha256)!; })(),
});
const mozillaProducts = { Firefox: 'firefox', 'Firefox ESR': 'firefox-esr', Thunderbird: 'thunderbird' };

test('a source none of whose documents can be read, or with nothing published yet, covers no product ("no advisory data"), and says why', async (t) => {
  const good = await readFile(path.join(fixtures, 'advisories', 'mozilla', 'mfsa2024-64.yml'));
  const blobs = new Map([['a'.repeat(64), Buffer.from('not: [yaml')], ['b'.repeat(64), good]]);
  const data = await advisoryDataOf(
    {
      manifestSha256: '1'.repeat(64),
      products: [summary('broken-mozilla', { kind: 'mozilla', products: mozillaProducts }), summary('empty-kev', { kind: 'cisa-kev' }), summary('half-mozilla', { kind: 'mozilla', products: mozillaProducts })],
      artifacts: [artifact('broken-mozilla', 'mfsa2024-99.yml', 'a'.repeat(64), 10), artifact('half-mozilla', 'mfsa2024-98.yml', 'a'.repeat(64), 10), artifact('half-mozilla', 'mfsa2024-64.yml', 'b'.repeat(64), good.length)],
    },
    blobsOf(blobs),
  );
  const [broken, empty, half] = data.sources;
  t.deepEqual(broken!.products, []);
  t.regex(broken!.problems![0]!, /^pool\/broken-mozilla\/20261202000000\/any\/any\/mfsa2024-99\.yml: mfsa2024-99\.yml: not YAML/u);
  t.deepEqual(empty!.products, []);
  t.deepEqual(empty!.problems, ['empty-kev: no documents of this source are published yet']);
  t.is(empty!.fetchedAt, '2026-12-01T00:00:00.000Z');
  // One document read: the source covers its products, and names the one it could not read.
  t.deepEqual(half!.products, ['firefox', 'firefox-esr', 'thunderbird']);
  t.is(half!.problems!.length, 1);
  t.deepEqual(data.advisories.map((advisory) => [advisory.source, advisory.id]), [['half-mozilla', 'mfsa2024-64']]);
});

test('only the newest retained snapshot of a source is read', async (t) => {
  const older = await readFile(path.join(fixtures, 'advisories', 'mozilla', 'mfsa2024-63.yml'));
  const newer = await readFile(path.join(fixtures, 'advisories', 'mozilla', 'mfsa2024-64.yml'));
  const blobs = new Map([['c'.repeat(64), older], ['d'.repeat(64), newer]]);
  const data = await advisoryDataOf(
    {
      manifestSha256: '2'.repeat(64),
      products: [summary('mozilla-advisories', { kind: 'mozilla', products: mozillaProducts })],
      // 9… sorts before 1… as text: the snapshots are compared as numbers.
      artifacts: [artifact('mozilla-advisories', 'mfsa2024-63.yml', 'c'.repeat(64), older.length, '9999'), artifact('mozilla-advisories', 'mfsa2024-64.yml', 'd'.repeat(64), newer.length, '20261202000000')],
    },
    blobsOf(blobs),
  );
  t.deepEqual(data.advisories.map((advisory) => advisory.id), ['mfsa2024-64']);
});
