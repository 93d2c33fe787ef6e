import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { signIn } from './helpers/console.ts';
import { createEnvironment, fixtures } from './helpers/environment.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('a release travels from the vendor simulator through fetch, spool, import and the repository with the vendor bytes intact', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);

  const internet = await environment.openInternet();
  const { fetched, bundle } = await internet.runOnce();
  t.deepEqual(
    fetched.map((outcome) => [outcome.productId, outcome.status]),
    [
      ['demo-clamav-bytecode', 'fetched'],
      ['demo-debian-bookworm-updates', 'fetched'],
      ['demo-firefox', 'fetched'],
    ],
  );
  t.is(bundle.status, 'sent');

  const lgwan = await environment.openLgwan();
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());

  // Every payload the API lists downloads over real HTTP with the vendor's sha256.
  const latest = (await (await fetch(`${url}/api/v1/latest`)).json()) as { latest: { productId: string; platform: string; locale: string; version: string; artifacts: { url: string; sha256: string; size: number }[] }[] };
  const firefox = latest.latest.filter((entry) => entry.productId === 'demo-firefox');
  t.is(firefox.length, 4, 'win64 and linux-x86_64 × ja and en-US');
  t.true(firefox.every((entry) => entry.version === '131.0'));
  let checked = 0;
  for (const entry of latest.latest) {
    for (const artifact of entry.artifacts) {
      const response = await fetch(`${url}${artifact.url}`);
      t.is(response.status, 200, artifact.url);
      const body = new Uint8Array(await response.arrayBuffer());
      t.is(body.length, artifact.size);
      t.is(sha256(body), artifact.sha256, artifact.url);
      checked += 1;
    }
  }
  t.is(checked, 4 * 2 + 1 + 1, 'Firefox installers and MARs, the Debian package and the ClamAV database');

  // The vendor's own bytes: compare with what the simulator serves and with the real fixtures.
  const installerPath = '/pub/firefox/releases/131.0/win64/ja/Firefox%20Setup%20131.0.exe';
  const vendorInstaller = new Uint8Array(await (await fetch(`${environment.simulator.url}${installerPath}`)).arrayBuffer());
  const mirrored = new Uint8Array(await (await fetch(`${url}/pool/demo-firefox/131.0/win64/ja/Firefox%20Setup%20131.0.exe`)).arrayBuffer());
  t.is(sha256(mirrored), sha256(vendorInstaller));
  const deb = await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'ca-certificates_20230311+deb12u1_all.deb'));
  const mirroredDeb = new Uint8Array(await (await fetch(`${url}/apt/debian/pool/main/c/ca-certificates/ca-certificates_20230311%2Bdeb12u1_all.deb`)).arrayBuffer());
  t.is(sha256(mirroredDeb), '0d5f444f594e48c1e16a41d8fc628a09b24c658916a1274025c2330f2a802bed');
  t.is(sha256(mirroredDeb), sha256(deb));
  const inRelease = await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'InRelease'));
  t.deepEqual(Buffer.from(await (await fetch(`${url}/apt/debian/dists/bookworm-updates/InRelease`)).arrayBuffer()), inRelease, 'InRelease byte for byte');
  const cvd = await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'));
  t.is(sha256(new Uint8Array(await (await fetch(`${url}/clamav/bytecode.cvd`)).arrayBuffer())), sha256(cvd));

  // The status page shows each product with the version seen and published.
  const operator = await signIn(lgwan.admin, url);
  const page = await operator.text('/');
  t.regex(page, /<html lang="ja">/u);
  t.regex(page, /Firefox \(demo\)[\s\S]*?131\.0/u);
  t.regex(page, /署名付きハッシュ一覧/u);
  const english = await operator.text('/?lang=en');
  t.regex(english, /signed hash list/u);
  t.notRegex(english, /https?:\/\/(?!127\.0\.0\.1)[a-z]/u, 'no external asset or link');
});

test('a new vendor release is picked up by the next run and both retained versions stay downloadable', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const oldUrl = `${url}/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar`;
  const before = sha256(new Uint8Array(await (await fetch(oldUrl)).arrayBuffer()));

  environment.simulator.options.mozilla.latest = '131.0.1';
  const second = await internet.runOnce();
  t.deepEqual(second.fetched.find((outcome) => outcome.productId === 'demo-firefox'), { productId: 'demo-firefox', status: 'fetched', version: '131.0.1' });
  t.is(second.bundle.status, 'sent');
  // Only the new blobs travel: the state is complete, the payload incremental.
  t.is((second.bundle as { blobs: number }).blobs, 2 + 8, 'hash list, signature, eight installers and MARs (the build IDs are inside the MARs)');
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);

  const releases = (await (await fetch(`${url}/api/v1/products/demo-firefox/releases`)).json()) as { releases: { version: string }[] };
  t.deepEqual(releases.releases.map((release) => release.version), ['131.0.1', '131.0']);
  t.is(sha256(new Uint8Array(await (await fetch(oldUrl)).arrayBuffer())), before, 'an endpoint mid-download keeps its file');
  const third = await internet.runOnce();
  t.is(third.bundle.status, 'unchanged', 'no new bundle when nothing changed');
});
