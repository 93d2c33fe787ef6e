import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStatus } from '../../src/repository/status-model.ts';
import test from 'ava';
import { stringify } from 'yaml';
import { readCatalogDirectory } from '../../src/catalog/load-catalog.ts';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { acceptUnsignedProduct, refuseUnsignedProducts } from '../helpers/unsigned-products.ts';

/*
 * Vendors publishing on GitHub releases, served by the vendor simulator in GitHub's answer
 * format: Notepad++ with its own checksum asset (a vendor hash over TLS) and 7-Zip with
 * nothing but GitHub's upload digest (TLS only). Neither is signed by anything pinned, so
 * each side publishes them only when its own keys/pins.yaml lists them under unsignedProducts.
 */

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const installer = deterministicBytes('npp-installer', 200_000);
const portable = deterministicBytes('npp-portable', 50_000);
const sevenZip = deterministicBytes('7z-msi', 120_000);

function nppRelease(options: { tag?: string; listInstaller?: boolean; prerelease?: boolean } = {}) {
  const checksums = [`${sha256(portable)}  npp.8.7.1.portable.zip`, ...(options.listInstaller === false ? [] : [`${sha256(installer)} *npp.8.7.1.Installer.x64.exe`])].join('\r\n');
  const asset = (name: string, data: Buffer) => ({ name, size: data.length, browser_download_url: `${simulatorCatalogOrigin}/github/npp/${name}`, digest: `sha256:${sha256(data)}` });
  return {
    files: { 'npp.8.7.1.Installer.x64.exe': installer, 'npp.8.7.1.portable.zip': portable, 'npp.8.7.1.checksums.sha256': Buffer.from(`${checksums}\r\n`) },
    answer: {
      tag_name: options.tag ?? 'v8.7.1', draft: false, prerelease: options.prerelease ?? false,
      assets: [asset('npp.8.7.1.Installer.x64.exe', installer), asset('npp.8.7.1.portable.zip', portable), asset('npp.8.7.1.checksums.sha256', Buffer.from(`${checksums}\r\n`))],
    },
  };
}

const catalogs = {
  'notepad-plus-plus': {
    id: 'notepad-plus-plus', name: 'Notepad++', vendor: 'Notepad++', scheme: 'dotted', trust: 'vendor-hash-over-tls',
    source: { type: 'github-release', apiUrl: `${simulatorCatalogOrigin}/github/api/npp/releases/latest`, tagPrefix: 'v', assets: [{ platform: 'win64', pattern: '^npp\\.[0-9.]+\\.Installer\\.x64\\.exe$' }], checksums: { pattern: '\\.checksums\\.sha256$' } },
  },
  '7zip': {
    id: '7zip', name: '7-Zip', vendor: 'Igor Pavlov', scheme: 'dotted', trust: 'tls-only',
    source: { type: 'github-release', apiUrl: `${simulatorCatalogOrigin}/github/api/7zip/releases/latest`, assets: [{ platform: 'win64', pattern: '^7z\\d{4}-x64\\.msi$' }] },
  },
};

async function setup(product: keyof typeof catalogs, options: { lgwanOptIn?: boolean } = {}) {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, `${product}.yaml`), stringify(catalogs[product]));
  const environment = await createEnvironment({ catalogs: directory });
  for (const side of options.lgwanOptIn === false ? ['internet'] : ['internet', 'lgwan']) await acceptUnsignedProduct(path.join(environment.root, side, 'vendor-keys'), product);
  return environment;
}

test('Notepad++: the installer is fetched with the SHA-256 of the vendor\'s own checksum asset (CRLF lines), and published where accepted', async (t) => {
  const environment = await setup('notepad-plus-plus');
  t.teardown(environment.cleanup);
  const release = nppRelease();
  environment.simulator.files.set('/github/api/npp/releases/latest', Buffer.from(JSON.stringify(release.answer)));
  for (const [name, data] of Object.entries(release.files)) environment.simulator.files.set(`/github/npp/${name}`, data);
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'notepad-plus-plus', status: 'fetched', version: '8.7.1' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const [artifact] = lgwan.database.data.published!.artifacts;
  t.like(artifact, { path: 'pool/notepad-plus-plus/8.7.1/win64/any/npp.8.7.1.Installer.x64.exe', sha256: sha256(installer), verification: { method: 'vendor-hash-over-tls' } });
});

test('Notepad++: a checksum asset that does not list the installer, a pre-release, or two matching assets are refused with the reason', async (t) => {
  const environment = await setup('notepad-plus-plus');
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const serve = (release: ReturnType<typeof nppRelease>) => {
    environment.simulator.files.set('/github/api/npp/releases/latest', Buffer.from(JSON.stringify(release.answer)));
    for (const [name, data] of Object.entries(release.files)) environment.simulator.files.set(`/github/npp/${name}`, data);
  };
  serve(nppRelease({ listInstaller: false }));
  t.regex((await internet.runOnce()).fetched[0]!.error!, /npp\.8\.7\.1\.checksums\.sha256: does not list npp\.8\.7\.1\.Installer\.x64\.exe/u);
  serve(nppRelease({ prerelease: true }));
  t.regex((await internet.runOnce()).fetched[0]!.error!, /the latest release v8\.7\.1 is a draft or pre-release/u);
  const doubled = nppRelease();
  doubled.answer.assets.push({ ...doubled.answer.assets[0]!, name: 'npp.8.7.1.Installer.x64.exe' });
  serve(doubled);
  t.regex((await internet.runOnce()).fetched[0]!.error!, /2 assets match platform win64/u);
});

test('7-Zip: with nothing but GitHub\'s upload digest the file is tls-only; a byte that differs is refused, and an LGWAN side that did not opt in refuses the product', async (t) => {
  const answer = (data: Buffer) => JSON.stringify({ tag_name: '24.09', draft: false, prerelease: false, assets: [{ name: '7z2409-x64.msi', size: data.length, browser_download_url: `${simulatorCatalogOrigin}/github/7zip/7z2409-x64.msi`, digest: `sha256:${sha256(data)}` }] });
  const strict = await setup('7zip', { lgwanOptIn: false });
  t.teardown(strict.cleanup);
  strict.simulator.files.set('/github/api/7zip/releases/latest', Buffer.from(answer(sevenZip)));
  strict.simulator.files.set('/github/7zip/7z2409-x64.msi', sevenZip);
  t.deepEqual((await (await strict.openInternet()).runOnce()).fetched, [{ productId: '7zip', status: 'fetched', version: '24.09' }]);
  // The shipped keys folder (the LGWAN side's copy) lists 7zip: this side's admin removed it.
  await refuseUnsignedProducts(path.join(strict.root, 'lgwan', 'keys'));
  const strictLgwan = await strict.openLgwan();
  const [outcome] = await strictLgwan.importOnce();
  // The product is left out on this side, and said so; the bundle itself (anything else in it) publishes.
  t.like(outcome, { status: 'published' });
  t.deepEqual(strictLgwan.database.data.published?.notAccepted, ['7zip']);
  t.false(strictLgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === '7zip'), 'nothing of it is published');
  t.like(buildStatus(strictLgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'product-not-accepted'), { subject: '7zip', severity: 'warning' });

  const tampered = await setup('7zip');
  t.teardown(tampered.cleanup);
  tampered.simulator.files.set('/github/api/7zip/releases/latest', Buffer.from(answer(sevenZip)));
  tampered.simulator.files.set('/github/7zip/7z2409-x64.msi', sevenZip);
  tampered.simulator.faults.corrupt.add('/github/7zip/7z2409-x64.msi');
  t.regex((await (await tampered.openInternet()).runOnce()).fetched[0]!.error!, /7z2409-x64\.msi: sha256 [0-9a-f]{64} differs from [0-9a-f]{64} \(GitHub's digest\)/u);
});

test('a GitHub source with a checksum asset verifies a vendor hash; without one, only TLS: the catalog must say which', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, '7zip.yaml'), stringify({ ...catalogs['7zip'], trust: 'vendor-hash-over-tls' }));
  const { problems } = await readCatalogDirectory(directory);
  t.like(problems[0], { field: 'trust', message: 'the github-release source type verifies "tls-only", not "vendor-hash-over-tls"' });
});
