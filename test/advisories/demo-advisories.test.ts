import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { advisoryDataOf, blobFileReader } from '../../src/advisories/published-advisories.ts';
import { demoSession } from '../../src/cli/demo-console.ts';
import { readLgwanState } from '../../src/importer/lgwan-state.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { freePort, startCli } from '../helpers/processes.ts';

test('npm run demo fetches the advisory sources from the simulator, its LGWAN side publishes data advisoryDataOf reads, and the running repository maps it to the endpoints', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-demo-advisories-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  const demo = startCli(['demo', '--port', String(await freePort()), '--storage', storage]);
  t.teardown(() => void demo.stop());
  await demo.waitFor(/Press Ctrl-C to stop\./u, 90_000);
  for (const source of ['cisa-kev', 'debian-security-tracker', 'demo-csaf', 'jvn', 'mozilla-advisories']) t.regex(demo.output(), new RegExp(`  ${source}: fetched \\d{14}`, 'u'));
  const state = await readLgwanState(path.join(storage, 'lgwan', 'state.json'));
  const data = await advisoryDataOf(state.published, blobFileReader(new BlobStore(path.join(storage, 'lgwan', 'blobs'))));
  t.deepEqual(data.sources.map((source) => [source.source, source.problems]), [['cisa-kev', undefined], ['debian-security-tracker', undefined], ['demo-csaf', undefined], ['jvn', undefined], ['mozilla-advisories', undefined]]);
  t.deepEqual(data.advisories.find((advisory) => advisory.id === 'mfsa2024-63')?.fixes, [{ product: 'demo-firefox', fixedIn: '133.0' }]);
  // The served repository (the same app `serve` builds) reads those published sources itself:
  // the simulated endpoints on Firefox 131.0 and 130.0 lack the fixes mfsa2024-63 lists for 133.0.
  const url = /LGWAN repository: +(http\S+)\/\n/u.exec(demo.output())?.[1];
  const password = /sign in as: +demo \/ (\S+)/u.exec(demo.output())?.[1];
  if (!url || !password) return t.fail(`no URL or password in the demo output:\n${demo.output()}`);
  const cookie = await demoSession(url, password);
  if (!cookie) return t.fail('demo sign-in failed');
  type ProductExposure = { advisoryData: string; sources: string[]; versions: Array<{ version: string; endpoints: number; cves: number }>; cves: Array<{ cve: string }> };
  const productExposure = async () => (await (await fetch(`${url}/api/v1/products/demo-firefox/exposure`, { headers: { cookie } })).json()) as ProductExposure;
  // The report is kept for a few seconds (coverageTtlMs): the demo's own status check before its
  // simulated endpoints checked in may have made the one answered first.
  let product = await productExposure();
  for (let attempt = 0; attempt < 40 && product.versions.length === 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    product = await productExposure();
  }
  t.is(product.advisoryData, 'versions');
  t.true(product.sources.includes('mozilla-advisories'));
  const mfsa202463 = data.advisories.find((advisory) => advisory.id === 'mfsa2024-63')?.vulnerabilities.map((vulnerability) => vulnerability.cve) ?? [];
  t.true(mfsa202463.length > 0);
  for (const cve of mfsa202463) t.true(product.cves.some((entry) => entry.cve === cve), cve);
  t.like(Object.fromEntries(product.versions.map((version) => [version.version, version.endpoints])), { '131.0': 5, '130.0': 3 });
  for (const version of product.versions) t.is(version.cves, mfsa202463.length, version.version);
  const exposureOverview = async () => (await (await fetch(`${url}/api/v1/exposure`, { headers: { cookie } })).json()) as { sources: Array<{ source: string }>; endpoints: { active: number; exposed: number } };
  let overview = await exposureOverview();
  for (let attempt = 0; attempt < 40 && overview.endpoints.active === 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    overview = await exposureOverview();
  }
  t.deepEqual(overview.sources.map((source) => source.source).sort(), ['cisa-kev', 'debian-security-tracker', 'demo-csaf', 'jvn', 'mozilla-advisories']);
  t.like(overview.endpoints, { active: 10, exposed: 10 });
  t.is(await demo.stop('SIGINT'), 0);
});
