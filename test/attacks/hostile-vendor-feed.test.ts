import test from 'ava';
import { generateVendorKey } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { signIn } from '../helpers/console.ts';

/*
 * Threat: a hostile vendor feed or a hostile network between us and the vendor (docs/transfer.md,
 * "Threat model"). What must hold: nothing enters a bundle unless the vendor's pinned key or
 * signed hash list vouches for it; a downgrade is refused; a failing source holds back only its
 * own product; its error text reaches the LGWAN pages as inert text. What does not hold: a
 * vendor that signs bad software, or a product trusted on a hash over TLS (unsignedProducts),
 * is only as good as that vendor; a feed that stops offering updates freezes its product
 * (the status page shows it as not up to date and source-failing).
 */

test('hostile vendor feed: a hash list signed by an unpinned key puts nothing into a bundle, and other products go on', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.signSumsWith = (await generateVendorKey('Impostor')).privateKey;
  const internet = await environment.openInternet();
  const { fetched } = await internet.runOnce();
  t.is(fetched.find((outcome) => outcome.productId === 'demo-firefox')?.status, 'failed');
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await lgwan.importOnce();
  t.false(lgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === 'demo-firefox'));
  t.true(lgwan.database.data.published!.artifacts.some((artifact) => artifact.productId === 'demo-debian-bookworm-updates'));
});

test('hostile vendor feed: a file that differs from the signed hash list, or an older version, is refused', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.fetchAll();
  environment.simulator.options.mozilla.latest = '130.0';
  const downgrade = (await internet.fetchAll()).find((outcome) => outcome.productId === 'demo-firefox');
  t.regex(downgrade?.error ?? '', /refusing a downgrade/u);
  environment.simulator.options.mozilla.latest = '131.0.1';
  environment.simulator.faults.corrupt.add('/pub/firefox/releases/131.0.1/update/win64/ja/firefox-131.0.1.complete.mar');
  const corrupt = (await internet.fetchAll()).find((outcome) => outcome.productId === 'demo-firefox');
  t.regex(corrupt?.error ?? '', /differs from the signed SHA512SUMS/u);
  t.deepEqual(internet.database.data.products['demo-firefox']!.releases.map((release) => release.version), ['131.0']);
});

test('hostile vendor feed: a hostile version string is refused by the fetcher and its error reaches the status page as text', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.options.mozilla.latest = '<script>alert(1)</script>';
  const internet = await environment.openInternet();
  for (let run = 0; run < 3; run += 1) await internet.fetchAll();
  const firefox = internet.database.data.products['demo-firefox']!;
  t.deepEqual(firefox.releases, []);
  t.is(firefox.health.consecutiveFailures, 3);
  await internet.send();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await lgwan.importOnce();
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const page = await (await signIn(lgwan.admin, url)).text('/?lang=en');
  t.false(page.includes('<script>alert(1)</script>'), 'never as markup');
  t.true(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'shown as text in the source-failing alarm');
});
