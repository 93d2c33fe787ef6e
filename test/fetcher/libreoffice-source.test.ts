import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { deterministicBytes } from '../../src/simulator/deterministic-bytes.ts';
import { sha256FromStatement, versionFolders } from '../../src/sources/libreoffice.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { acceptUnsignedProduct } from '../helpers/unsigned-products.ts';

/*
 * LibreOffice from a download listing and the `<file>.sha256` statements beside each file,
 * served by the vendor simulator in the download server's formats.
 */

const msiName = 'LibreOffice_24.8.10_Win_x86-64.msi';
const msiPath = `/libreoffice/stable/24.8.10/win/x86_64/${msiName}`;
const msi = deterministicBytes('libreoffice-msi', 250_000);
const sha256 = createHash('sha256').update(msi).digest('hex');
const listing = '<html><body><a href="../">../</a><a href="24.2.7/">24.2.7/</a> <a href="24.8.3/">24.8.3/</a> <a href="24.8.10/">24.8.10/</a></body></html>';

async function setup(statement: string) {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'libreoffice.yaml'),
    stringify({
      id: 'libreoffice-test', name: 'LibreOffice', vendor: 'The Document Foundation', scheme: 'dotted', trust: 'vendor-hash-over-tls',
      source: { type: 'libreoffice', baseUrl: `${simulatorCatalogOrigin}/libreoffice/stable/`, files: [{ platform: 'win64', path: 'win/x86_64/LibreOffice_{version}_Win_x86-64.msi' }] },
    }),
  );
  const environment = await createEnvironment({ catalogs: directory });
  for (const side of ['internet', 'lgwan']) await acceptUnsignedProduct(path.join(environment.root, side, 'vendor-keys'), 'libreoffice-test');
  environment.simulator.files.set('/libreoffice/stable/', Buffer.from(listing));
  environment.simulator.files.set(msiPath, msi);
  environment.simulator.files.set(`${msiPath}.sha256`, Buffer.from(statement));
  return environment;
}

test('LibreOffice: the newest version folder is taken by version, not by text order, and the MSI must match the SHA-256 stated beside it', async (t) => {
  const environment = await setup(`${sha256}  ${msiName}\n`);
  t.teardown(environment.cleanup);
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'libreoffice-test', status: 'fetched', version: '24.8.10' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.like(lgwan.database.data.published!.artifacts[0], { path: `pool/libreoffice-test/24.8.10/win64/any/${msiName}`, sha256, verification: { method: 'vendor-hash-over-tls' } });
});

test('LibreOffice: a statement for another file, or a hash that differs, is refused', async (t) => {
  const other = await setup(`${sha256}  LibreOffice_24.8.10_Win_x86.msi\n`);
  t.teardown(other.cleanup);
  t.regex((await (await other.openInternet()).runOnce()).fetched[0]!.error!, /\.msi\.sha256: states the hash of LibreOffice_24\.8\.10_Win_x86\.msi, not of LibreOffice_24\.8\.10_Win_x86-64\.msi/u);
  const wrong = await setup(`${'b'.repeat(64)}  ${msiName}\n`);
  t.teardown(wrong.cleanup);
  const [outcome] = (await (await wrong.openInternet()).runOnce()).fetched;
  t.regex(outcome!.error!, /LibreOffice_24\.8\.10_Win_x86-64\.msi: sha256 [0-9a-f]{64} differs from b{64} stated in/u);
});

test('listing and statement parsing', (t) => {
  t.deepEqual(versionFolders(listing), ['24.2.7', '24.8.3', '24.8.10']);
  t.is(sha256FromStatement(`${sha256} *${msiName}\r\n`, msiName, 'x.sha256'), sha256);
  t.throws(() => sha256FromStatement('<html>not found</html>', msiName, 'x.sha256'), { message: 'x.sha256: not a "<sha256>  <file>" line' });
});
