import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { readCatalogDirectory } from '../../src/catalog/load-catalog.ts';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { signIn } from '../helpers/console.ts';
import { acceptUnsignedProduct, refuseUnsignedProducts } from '../helpers/unsigned-products.ts';

/*
 * Eclipse Temurin from an Adoptium-style API answer served by the vendor simulator. The
 * API states each file's size and SHA-256 over TLS; no key is pinned for it, so each side
 * publishes it only when its own keys/pins.yaml lists the product under unsignedProducts.
 */

const apiPath = '/adoptium/v3/assets/latest/21/hotspot';
const msiName = 'OpenJDK21U-jre_x64_windows_hotspot_21.0.5_11.msi';
const msiPath = `/adoptium/download/jdk-21.0.5+11/${msiName}`;
const msi = deterministicBytes('temurin-msi', 300_000);

const catalogEntry = (trust = 'vendor-hash-over-tls') =>
  stringify({
    id: 'temurin-21-jre', name: 'Eclipse Temurin 21 JRE', vendor: 'Eclipse Adoptium', scheme: 'java', trust,
    source: { type: 'adoptium', apiUrl: `${simulatorCatalogOrigin}/adoptium/v3/`, featureVersion: 21, imageType: 'jre', platforms: ['win64'], files: ['installer'] },
  });

async function catalog(trust?: string): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, 'temurin-21-jre.yaml'), catalogEntry(trust));
  return directory;
}

function answer(checksum = createHash('sha256').update(msi).digest('hex')) {
  const file = { name: msiName, link: `${simulatorCatalogOrigin}${msiPath}`, size: msi.length, checksum };
  return Buffer.from(JSON.stringify([{ release_name: 'jdk-21.0.5+11', vendor: 'eclipse', version: { openjdk_version: '21.0.5+11-LTS' }, binary: { image_type: 'jre', os: 'windows', architecture: 'x64', installer: file, package: { ...file, name: 'OpenJDK21U-jre_x64_windows_hotspot_21.0.5_11.zip' } } }]));
}

async function setup(options: { lgwanOptIn: boolean; checksum?: string }) {
  const environment = await createEnvironment({ catalogs: await catalog() });
  await acceptUnsignedProduct(path.join(environment.root, 'internet', 'vendor-keys'), 'temurin-21-jre');
  if (options.lgwanOptIn) await acceptUnsignedProduct(path.join(environment.root, 'lgwan', 'vendor-keys'), 'temurin-21-jre');
  // The shipped keys folder (the LGWAN side's copy) accepts temurin-21-jre: this side's admin removed that line.
  else await refuseUnsignedProducts(path.join(environment.root, 'lgwan', 'keys'));
  environment.simulator.files.set(apiPath, answer(options.checksum));
  environment.simulator.files.set(msiPath, msi);
  return environment;
}

test('Temurin: the newest build is fetched with the size and SHA-256 the API states, and published where the LGWAN side accepts a vendor hash', async (t) => {
  const environment = await setup({ lgwanOptIn: true });
  t.teardown(environment.cleanup);
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'temurin-21-jre', status: 'fetched', version: '21.0.5+11' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  t.deepEqual(Buffer.from(await (await fetch(`${url}/pool/temurin-21-jre/21.0.5+11/win64/any/${msiName}`)).arrayBuffer()), msi);
  t.regex(await (await signIn(lgwan.admin, url)).text('/?lang=en'), /vendor hash over TLS/iu, 'the weaker trust is on the status page');
});

test('Temurin: an LGWAN side whose own pins do not list the product leaves it out and shows it as not accepted on this side', async (t) => {
  const environment = await setup({ lgwanOptIn: false });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'published' });
  t.deepEqual(lgwan.database.data.published?.notAccepted, ['temurin-21-jre']);
  t.false(lgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === 'temurin-21-jre'));
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  t.is((await fetch(`${url}/pool/temurin-21-jre/21.0.5+11/win64/any/${msiName}`)).status, 404, 'not served');
  const page = await (await signIn(lgwan.admin, url)).text('/');
  t.regex(page, /この側では受け入れていません（keys\/pins\.yaml）/u);
  t.regex(page, /この側で受け入れていない製品があります/u, 'and an alarm says what to do');
});

test('Temurin: a file whose SHA-256 differs from the API answer is refused and quarantined', async (t) => {
  const environment = await setup({ lgwanOptIn: true, checksum: 'a'.repeat(64) });
  t.teardown(environment.cleanup);
  const [outcome] = (await (await environment.openInternet()).runOnce()).fetched;
  t.like(outcome, { status: 'failed' });
  t.regex(outcome!.error!, new RegExp(`${msiName.replaceAll('.', '\\.')}: sha256 [0-9a-f]{64} differs from the a{64} Adoptium's API states`, 'u'));
});

test('a catalog may not claim more trust than its source verifies', async (t) => {
  const directory = await catalog('vendor-signature');
  const { problems } = await readCatalogDirectory(directory);
  t.is(problems.length, 1);
  t.like(problems[0], { field: 'trust', message: 'the adoptium source type verifies "vendor-hash-over-tls", not "vendor-signature"' });
});
