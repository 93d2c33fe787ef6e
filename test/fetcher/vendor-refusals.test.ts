import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { generateVendorKey } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment } from '../helpers/environment.ts';

test('a hash list signed by a key that is not pinned is refused and nothing enters a bundle', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.signSumsWith = (await generateVendorKey('Impostor')).privateKey;
  const internet = await environment.openInternet();
  const { fetched, bundle } = await internet.runOnce();
  const firefox = fetched.find((outcome) => outcome.productId === 'demo-firefox')!;
  t.is(firefox.status, 'failed');
  t.regex(firefox.error!, /SHA512SUMS: no good signature by pinned key "mozilla-demo" \(signature by key [0-9A-F]{16} is not pinned as "mozilla-demo"\)/u);
  t.is(internet.database.data.products['demo-firefox']!.health.consecutiveFailures, 1);
  t.is(bundle.status, 'sent');
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  t.false(lgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === 'demo-firefox'), 'no Firefox artifact was published');
  t.true(lgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === 'demo-clamav-bytecode'), 'the other products were not held back');
  // No installer was even downloaded: the signature is checked before the files it vouches for.
  t.false(environment.simulator.requests.some((request) => request.path.endsWith('.exe')));
});

test('a download that does not match the signed hash list is quarantined with its reason', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.corrupt.add('/pub/firefox/releases/131.0/update/win64/ja/firefox-131.0.complete.mar');
  const internet = await environment.openInternet();
  const { fetched } = await internet.runOnce();
  const firefox = fetched.find((outcome) => outcome.productId === 'demo-firefox')!;
  t.is(firefox.status, 'failed');
  t.regex(firefox.error!, /firefox-131\.0\.complete\.mar: SHA-512 [0-9a-f]{16}… differs from the signed SHA512SUMS/u);
  const quarantine = path.join(environment.config.internet.storage, 'quarantine');
  const reasons = (await readdir(quarantine)).filter((name) => name.endsWith('.reason.json'));
  t.is(reasons.length, 1);
  const reason = JSON.parse(await readFile(path.join(quarantine, reasons[0]!), 'utf8')) as { product: string; code: string; reason: string };
  t.like(reason, { product: 'demo-firefox', code: 'E_INTEGRITY' });
  t.is(internet.database.data.products['demo-firefox']!.releases.length, 0);
});

test('a vendor feed that offers an older version than seen before is refused as a downgrade', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.fetchAll();
  environment.simulator.options.mozilla.latest = '130.0';
  const outcomes = await internet.fetchAll();
  const firefox = outcomes.find((outcome) => outcome.productId === 'demo-firefox')!;
  t.is(firefox.status, 'failed');
  t.regex(firefox.error!, /offers 130\.0, older than 131\.0 seen before; refusing a downgrade/u);
  t.deepEqual(internet.database.data.products['demo-firefox']!.releases.map((release) => release.version), ['131.0']);
});

test('a ClamAV database whose body was altered fails its CVD signature check', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.corrupt.add('/clamav/bytecode.cvd');
  const internet = await environment.openInternet();
  const outcomes = await internet.fetchAll();
  const clamav = outcomes.find((outcome) => outcome.productId === 'demo-clamav-bytecode')!;
  t.is(clamav.status, 'failed');
  t.regex(clamav.error!, /bytecode\.cvd: body MD5 [0-9a-f]{32} differs from the header's/u);
});
