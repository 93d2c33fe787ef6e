import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { buildMsi, codeSigningPki, pinAuthenticodeSigner, signWindowsFile } from '../helpers/windows-signing.ts';

/*
 * Google Chrome's enterprise MSI end to end: a Version History API answer and an MSI behind
 * a rolling URL, both served by the vendor simulator; a real MSI built with wixl and signed
 * with osslsigncode under a root made for this run, pinned on each side.
 */

const versionsPath = '/chrome/v1/chrome/platforms/win64/channels/stable/versions';
const msiPath = '/chrome/dl/chrome/install/googlechromestandaloneenterprise64.msi';

async function chromeCatalog(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'chrome.yaml'),
    stringify({
      id: 'chrome', name: 'Google Chrome', vendor: 'Google', scheme: 'dotted', trust: 'vendor-signature', retention: 2,
      source: {
        type: 'chrome', versionsUrl: `${simulatorCatalogOrigin}${versionsPath}`, msiUrl: `${simulatorCatalogOrigin}${msiPath}`, platform: 'win64', signer: 'google',
        msiVersion: { from: 'summary', name: 'Comments', pattern: '(\\d+\\.\\d+\\.\\d+\\.\\d+)' },
      },
    }),
  );
  return directory;
}

async function setup(options: { announced: string[]; msiVersion: string; lgwanNames?: string[] }) {
  const environment = await createEnvironment({ catalogs: await chromeCatalog() });
  const pki = await codeSigningPki(environment.root, 'Google LLC', 'google');
  await pinAuthenticodeSigner(path.join(environment.root, 'internet', 'vendor-keys'), pki, 'google', ['Google LLC']);
  await pinAuthenticodeSigner(path.join(environment.root, 'lgwan', 'vendor-keys'), pki, 'google', options.lgwanNames ?? ['Google LLC']);
  // As Google's MSI: the Property table's ProductVersion is another number; the Chrome version is in the summary.
  const msi = await buildMsi(environment.root, { name: 'Google Chrome', productVersion: '66.88.49277', comments: `${options.msiVersion} Copyright 2026 Google LLC` });
  const signed = await signWindowsFile(msi, path.join(environment.root, 'chrome-signed.msi'), pki);
  environment.simulator.files.set(versionsPath, Buffer.from(JSON.stringify({ versions: options.announced.map((version) => ({ name: `chrome/platforms/win64/channels/stable/versions/${version}`, version })), nextPageToken: '' })));
  environment.simulator.files.set(msiPath, await readFile(signed));
  return { environment, signed };
}

test('Chrome: the newest announced version is fetched when the signed MSI carries it, and the LGWAN side verifies it again', async (t) => {
  // The API's order is not relied on, and a four-part version is compared part by part (131.0.6778.108 > 131.0.6778.86).
  const { environment, signed } = await setup({ announced: ['131.0.6778.86', '131.0.6778.108', '130.0.6723.117'], msiVersion: '131.0.6778.108' });
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched, [{ productId: 'chrome', status: 'fetched', version: '131.0.6778.108' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const artifact = lgwan.database.data.published!.artifacts[0]!;
  t.like(artifact, { path: 'pool/chrome/131.0.6778.108/win64/any/googlechromestandaloneenterprise64.msi', verification: { method: 'authenticode', signer: 'google' } });
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const served = Buffer.from(await (await fetch(`${url}/${artifact.path}`)).arrayBuffer());
  t.deepEqual(served, await readFile(signed));
});

test('Chrome: an MSI whose inside version is not the announced one is refused and quarantined (a rolling URL mid-rollout)', async (t) => {
  const { environment } = await setup({ announced: ['131.0.6778.108'], msiVersion: '131.0.6778.86' });
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.like(fetched[0], { productId: 'chrome', status: 'failed' });
  t.regex(fetched[0]!.error!, /googlechromestandaloneenterprise64\.msi: the feed announced 131\.0\.6778\.108 but the MSI is 131\.0\.6778\.86 \(Comments\)/u);
  const quarantine = await readdir(path.join(environment.config.internet.storage, 'quarantine'));
  t.true(quarantine.some((name) => name.endsWith('.reason.json')));
});

test('Chrome: a tampered MSI and a version list that does not parse are refused with the file or URL named', async (t) => {
  const { environment } = await setup({ announced: ['131.0.6778.108'], msiVersion: '131.0.6778.108' });
  t.teardown(environment.cleanup);
  environment.simulator.faults.corrupt.add(msiPath);
  const internet = await environment.openInternet();
  const first = await internet.runOnce();
  t.regex(first.fetched[0]!.error!, /googlechromestandaloneenterprise64\.msi: Authenticode signature does not verify/u);
  environment.simulator.faults.corrupt.delete(msiPath);
  environment.simulator.files.set(versionsPath, Buffer.from(JSON.stringify({ versions: [{ version: '131.0.6778.108' }, { version: 'latest' }] })));
  const second = await internet.runOnce();
  t.regex(second.fetched[0]!.error!, /chrome: .*versions lists a version that is not dotted: .*latest/u);
});

test('Chrome: the LGWAN side checks the signer against its own pins: a signer it does not pin is refused', async (t) => {
  const { environment } = await setup({ announced: ['131.0.6778.108'], msiVersion: '131.0.6778.108', lgwanNames: ['Another Vendor LLC'] });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.regex((outcome as { reason: string }).reason, /signed by "Google LLC", not by "Another Vendor LLC" \(pinned signer "google"\)/u);
  t.is(lgwan.database.data.published, null, 'nothing published');
});
