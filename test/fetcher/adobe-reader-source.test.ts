import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { adobeDownloadNumber } from '../../src/versions/adobe.ts';
import { createEnvironment, projectRoot } from '../helpers/environment.ts';
import { checkCatalogLive } from '../../src/cli/catalog-live-check.ts';
import { createLogger } from '../../src/core/logger.ts';
import { buildMsi, codeSigningPki, pinAuthenticodeSigner, signWindowsFile } from '../helpers/windows-signing.ts';

/*
 * Adobe Acrobat Reader's MSP patches: a plain-text version feed and one folder per version,
 * served by the vendor simulator; the patches are real OLE files (built with wixl) signed
 * with osslsigncode as "Adobe Inc." under a root made for this run and pinned on each side.
 */

const feedPath = '/adobe/arm-manifests/AcrobatDC/reader/current_version.txt';
const downloadPath = '/adobe/pub/adobe/reader/win/AcrobatDC/';

async function catalog(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'adobe-reader.yaml'),
    stringify({
      id: 'adobe-reader', name: 'Adobe Acrobat Reader', vendor: 'Adobe', scheme: 'adobe', trust: 'vendor-signature',
      source: {
        type: 'adobe-reader', versionUrl: `${simulatorCatalogOrigin}${feedPath}`, downloadBase: `${simulatorCatalogOrigin}${downloadPath}`, signer: 'adobe',
        files: [{ platform: 'win32', fileName: 'AcroRdrDCUpd{version}_MUI.msp' }, { platform: 'win64', fileName: 'AcroRdrDCx64Upd{version}_MUI.msp' }],
      },
    }),
  );
  return directory;
}

async function setup(options: { feed: string; version: string; organisation?: string; missing?: string }) {
  const environment = await createEnvironment({ catalogs: await catalog() });
  const adobe = await codeSigningPki(environment.root, 'Adobe Inc.', 'adobe');
  for (const side of ['internet', 'lgwan']) await pinAuthenticodeSigner(path.join(environment.root, side, 'vendor-keys'), adobe, 'adobe', ['Adobe Inc.']);
  const signer = options.organisation ? await codeSigningPki(environment.root, options.organisation, 'other') : adobe;
  environment.simulator.files.set(feedPath, Buffer.from(`${options.feed}\n`));
  const number = adobeDownloadNumber(options.version);
  const patches: Record<string, Buffer> = {};
  for (const name of [`AcroRdrDCUpd${number}_MUI.msp`, `AcroRdrDCx64Upd${number}_MUI.msp`]) {
    if (name === options.missing) continue;
    const unsigned = await buildMsi(environment.root, { name: 'Adobe Acrobat Reader', productVersion: '24.5.20320', comments: name });
    patches[name] = await readFile(await signWindowsFile(unsigned, path.join(environment.root, name), signer));
    environment.simulator.files.set(`${downloadPath}${number}/${name}`, patches[name]);
  }
  return { environment, patches };
}

test('Adobe Reader: both MSPs of the announced version are fetched, signed by the pinned signer, and verified again on the LGWAN side', async (t) => {
  // The feed spells the year in full; the download path uses two digits.
  const { environment, patches } = await setup({ feed: '2024.005.20320', version: '24.005.20320' });
  t.teardown(environment.cleanup);
  t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'adobe-reader', status: 'fetched', version: '2024.005.20320' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const paths = lgwan.database.data.published!.artifacts.map((artifact) => artifact.path).sort();
  t.deepEqual(paths, ['pool/adobe-reader/2024.005.20320/win32/mui/AcroRdrDCUpd2400520320_MUI.msp', 'pool/adobe-reader/2024.005.20320/win64/mui/AcroRdrDCx64Upd2400520320_MUI.msp']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  t.deepEqual(Buffer.from(await (await fetch(`${url}/${paths[1]}`)).arrayBuffer()), patches['AcroRdrDCx64Upd2400520320_MUI.msp']);
});

test('Adobe Reader: a patch signed by another organisation is refused and quarantined; a missing patch fails the run', async (t) => {
  const impostor = await setup({ feed: '24.005.20320', version: '24.005.20320', organisation: 'Adobe Systems Incorporated' });
  t.teardown(impostor.environment.cleanup);
  const [outcome] = (await (await impostor.environment.openInternet()).runOnce()).fetched;
  t.like(outcome, { status: 'failed' });
  // Its certificate chains to a root neither side pins: refused before the organisation is even read.
  t.regex(outcome!.error!, /AcroRdrDCUpd2400520320_MUI\.msp: Authenticode signature does not verify: .*unable to get local issuer certificate/u);
  t.true((await readdir(path.join(impostor.environment.config.internet.storage, 'quarantine'))).some((name) => name.endsWith('.reason.json')));

  const missing = await setup({ feed: '24.005.20320', version: '24.005.20320', missing: 'AcroRdrDCx64Upd2400520320_MUI.msp' });
  t.teardown(missing.environment.cleanup);
  const [gap] = (await (await missing.environment.openInternet()).runOnce()).fetched;
  t.like(gap, { status: 'failed' });
  t.regex(gap!.error!, /AcroRdrDCx64Upd2400520320_MUI\.msp: HTTP 404/u);
});

test('Adobe Reader: a feed that does not say a version is refused, naming the URL', async (t) => {
  const { environment } = await setup({ feed: '<html>maintenance</html>', version: '24.005.20320' });
  t.teardown(environment.cleanup);
  const [outcome] = (await (await environment.openInternet()).runOnce()).fetched;
  t.regex(outcome!.error!, /adobe-reader: .*current_version\.txt says "<html>maintenance<\/html>", not an Adobe version/u);
});

test('the download number spells the year in two digits and drops the dots', (t) => {
  t.is(adobeDownloadNumber('24.005.20320'), '2400520320');
  t.is(adobeDownloadNumber('2023.001.20064'), '2300120064');
  t.throws(() => adobeDownloadNumber('24.5.20320'), { message: /expected YY\.NNN\.NNNNN/u });
});

test("the shipped adobe-reader catalog fetches both patches from where Adobe publishes them: 32-bit under reader/win/AcrobatDC/, 64-bit under acrobat/win/AcrobatDC/ (Evergreen's AdobeAcrobat.json, Chocolatey's update script)", async (t) => {
  // The shipped catalog with only its two origins pointed at the simulator.
  const shipped = await readFile(path.join(projectRoot, 'catalogs', 'adobe-reader.yaml'), 'utf8');
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, 'adobe-reader.yaml'), shipped.replaceAll('https://armmf.adobe.com/', `${simulatorCatalogOrigin}/armmf/`).replaceAll('https://ardownload2.adobe.com/', `${simulatorCatalogOrigin}/ardownload2/`));
  t.is((parse(shipped) as { source: { files: unknown[] } }).source.files.length, 2);
  const environment = await createEnvironment({ catalogs: directory });
  t.teardown(environment.cleanup);
  const adobe = await codeSigningPki(environment.root, 'Adobe Inc.', 'adobe');
  for (const side of ['internet', 'lgwan']) await pinAuthenticodeSigner(path.join(environment.root, side, 'vendor-keys'), adobe, 'adobe', ['Adobe Inc.']);
  environment.simulator.files.set('/armmf/arm-manifests/mac/AcrobatDC/reader/current_version.txt', Buffer.from('25.001.20693\n'));
  const layout = { 'reader/win/AcrobatDC/2500120693/AcroRdrDCUpd2500120693_MUI.msp': 'win32', 'acrobat/win/AcrobatDC/2500120693/AcroRdrDCx64Upd2500120693_MUI.msp': 'win64' };
  for (const [where, platform] of Object.entries(layout)) {
    const unsigned = await buildMsi(environment.root, { name: 'Adobe Acrobat Reader', productVersion: '25.1.20693', comments: platform });
    environment.simulator.files.set(`/ardownload2/pub/adobe/${where}`, await readFile(await signWindowsFile(unsigned, path.join(environment.root, `${platform}.msp`), adobe)));
  }
  const [outcome] = (await (await environment.openInternet()).runOnce()).fetched;
  t.like(outcome, { status: 'fetched', version: '25.001.20693' }, outcome?.error);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((imported) => imported.status), ['published']);
  t.deepEqual(lgwan.database.data.published!.artifacts.map((artifact) => artifact.platform).sort(), ['win32', 'win64']);
});

test('the live check asks for every patch a release would download: a missing 64-bit patch fails the row though the 32-bit one answers', async (t) => {
  const { environment } = await setup({ feed: '24.005.20320', version: '24.005.20320', missing: 'AcroRdrDCx64Upd2400520320_MUI.msp' });
  t.teardown(environment.cleanup);
  const config = environment.config.internet;
  const [row] = await checkCatalogLive({ catalogs: config.catalogs, keys: config.keys, originRewrites: config.originRewrites instanceof Map ? Object.fromEntries(config.originRewrites) : config.originRewrites, timeoutSeconds: 5, logger: createLogger('test', 'silent') });
  t.false(row!.ok);
  t.regex(row!.outcome, /AcroRdrDCx64Upd2400520320_MUI\.msp \(bytes=0-0\): HTTP 404/u);
});
