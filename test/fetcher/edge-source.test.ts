import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { signIn } from '../helpers/console.ts';
import { acceptUnsignedProduct } from '../helpers/unsigned-products.ts';

/*
 * Microsoft Edge from an answer in the format of Microsoft's enterprise products API, served
 * by the vendor simulator: per channel, releases with each MSI's location, SHA-256 and size.
 */

const apiPath = '/edge/api/products';
const msi = (version: string) => deterministicBytes(`edge-${version}`, 180_000);
const release = (version: string, architecture = 'x64', hash?: string) => ({
  ReleaseId: 1, Platform: 'Windows', Architecture: architecture, CVEs: [], ProductVersion: version, PublishedTime: '2026-11-20T00:00:00',
  Artifacts: [{ ArtifactName: 'msi', Location: `${simulatorCatalogOrigin}/edge/files/${version}/MicrosoftEdgeEnterpriseX64.msi`, Hash: hash ?? createHash('sha256').update(msi(version)).digest('hex').toUpperCase(), HashAlgorithm: 'SHA256', SizeInBytes: msi(version).length }],
});

async function setup(releases: ReturnType<typeof release>[]) {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, 'edge.yaml'), stringify({ id: 'edge-test', name: 'Microsoft Edge', vendor: 'Microsoft', scheme: 'dotted', trust: 'vendor-hash-over-tls', source: { type: 'edge', apiUrl: `${simulatorCatalogOrigin}${apiPath}`, platforms: ['win64'] } }));
  const environment = await createEnvironment({ catalogs: directory });
  for (const side of ['internet', 'lgwan']) await acceptUnsignedProduct(path.join(environment.root, side, 'vendor-keys'), 'edge-test');
  environment.simulator.files.set(apiPath, Buffer.from(JSON.stringify([{ Product: 'Beta', Releases: [release('132.0.2957.11')] }, { Product: 'Stable', Releases: releases }])));
  for (const entry of releases) environment.simulator.files.set(`/edge/files/${entry.ProductVersion}/MicrosoftEdgeEnterpriseX64.msi`, msi(entry.ProductVersion));
  return environment;
}

test('Edge: the newest Stable x64 MSI (by version, not by list order) is fetched with the size and SHA-256 the API states', async (t) => {
  const environment = await setup([release('131.0.2903.99', 'x86'), release('131.0.2903.86'), release('131.0.2903.112'), release('130.0.2849.80')]);
  t.teardown(environment.cleanup);
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'edge-test', status: 'fetched', version: '131.0.2903.112' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.like(lgwan.database.data.published!.artifacts[0], { path: 'pool/edge-test/131.0.2903.112/win64/any/MicrosoftEdgeEnterpriseX64.msi', verification: { method: 'vendor-hash-over-tls' } });
  // Issue 13, item 2: nothing Microsoft signs names the version here; the status page says so.
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const operator = await signIn(lgwan.admin, url);
  const status = await operator.json<{ products: { id: string; versionBinding: string }[] }>('/api/v1/status');
  t.like(status.products.find((product) => product.id === 'edge-test'), { versionBinding: 'unbound' });
  t.regex(await operator.text('/?lang=en'), /<tr data-product="edge-test">[\s\S]*?version not covered by a vendor signature[\s\S]*?<\/tr>/u);
  await lgwan.close();
});

test('Edge: an MSI whose SHA-256 differs from the API is refused; a missing channel is named', async (t) => {
  const environment = await setup([release('131.0.2903.112', 'x64', 'AB'.repeat(32))]);
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  t.regex((await internet.runOnce()).fetched[0]!.error!, /MicrosoftEdgeEnterpriseX64\.msi: sha256 [0-9a-f]{64} differs from the (ab){32} Microsoft's API states/u);
  environment.simulator.files.set(apiPath, Buffer.from(JSON.stringify([{ Product: 'Beta', Releases: [] }])));
  t.regex((await internet.runOnce()).fetched[0]!.error!, /no "Stable" channel \(listed: Beta\)/u);
});

test("Edge: odd artifacts of products and releases the mirror does not use (EdgeUpdate, Policy, macOS) do not reject the feed; the MSI used is still checked strictly, naming the field", async (t) => {
  const releases = [release('131.0.2903.112'), { ...release('131.0.2903.112'), Platform: 'MacOS', Architecture: 'universal', Artifacts: [{ ArtifactName: 'pkg', Location: 'http://example.invalid/x.pkg', Hash: '', HashAlgorithm: 'SHA256' }] }];
  const environment = await setup(releases as ReturnType<typeof release>[]);
  t.teardown(environment.cleanup);
  const answer = JSON.parse(environment.simulator.files.get(apiPath)!.toString()) as unknown[];
  answer.push(
    { Product: 'EdgeUpdate', Releases: [{ ReleaseId: 7, Platform: 'Windows', Architecture: 'x86', ProductVersion: '1.3.195.31', Artifacts: [{ ArtifactName: 'exe', Location: 'http://msedge.example.invalid/u.exe', Hash: 'not-a-hash', HashAlgorithm: 'SHA1' }] }] },
    { Product: 'Policy', Releases: [{ ReleaseId: 8, Platform: 'Any', Architecture: 'any', ProductVersion: '131.0.2903.112', Artifacts: [{ ArtifactName: 'cab', Location: '', Hash: null, SizeInBytes: 0 }] }] },
  );
  environment.simulator.files.set(apiPath, Buffer.from(JSON.stringify(answer)));
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'edge-test', status: 'fetched', version: '131.0.2903.112' }]);

  // The MSI of the chosen release with a malformed hash is refused, naming where.
  const broken = await setup([{ ...release('131.0.2903.112'), Artifacts: [{ ...release('131.0.2903.112').Artifacts[0]!, Hash: 'ABC' }] }]);
  t.teardown(broken.cleanup);
  const [outcome] = (await (await broken.openInternet()).runOnce()).fetched;
  t.like(outcome, { status: 'failed' });
  t.regex(outcome!.error!, /Stable 131\.0\.2903\.112 Windows x64, Artifacts\[0\]: field Hash/u);
});
