import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { upgradeFromPublished } from '../../src/cli/upgrade.ts';
import { readDebControl } from '../../src/verify/deb-control.ts';
import { PinnedKeyring } from '../../src/verify/pinned-keys.ts';
import { createEnvironment, projectRoot } from '../helpers/environment.ts';
import { makeReleaseKey, signRelease, writeReleaseCatalog, writeReleaseKeyPins, writeSmallRelease } from '../helpers/release-files.ts';

/**
 * catalogs/lgwan-mirror.yaml (source local-release, verification lgwan-mirror-release) with
 * small real .debs made by dpkg-deb: fetched from a release folder, carried, verified again and
 * published by the LGWAN side; then what `lgwan-mirror upgrade --dry-run` sees in that state.
 */
async function releaseEnvironment(t: import('ava').ExecutionContext, options: { lgwanKey?: ReturnType<typeof makeReleaseKey> } = {}) {
  const key = makeReleaseKey();
  const scratch = path.join((await import('node:os')).tmpdir(), `lgwan-mirror-release-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const releases = path.join(scratch, 'releases');
  await mkdir(releases, { recursive: true });
  const catalogs = await writeReleaseCatalog(path.join(scratch, 'catalogs'), path.join(projectRoot, 'catalogs', 'lgwan-mirror.yaml'), releases);
  const internetKeys = await writeReleaseKeyPins(path.join(scratch, 'internet-keys'), key);
  const lgwanKeys = await writeReleaseKeyPins(path.join(scratch, 'lgwan-keys'), options.lgwanKey ?? key);
  const environment = await createEnvironment({ catalogs, internet: { keys: [internetKeys] }, lgwan: { keys: [lgwanKeys] } });
  t.teardown(async () => {
    await environment.cleanup();
    await (await import('node:fs/promises')).rm(scratch, { recursive: true, force: true });
  });
  return { key, releases, environment, lgwanKeys };
}

test('a signed release dropped into the folder is fetched, carried, verified again and published with its SHA256SUMS and signature', async (t) => {
  const { key, releases, environment } = await releaseEnvironment(t);
  await writeSmallRelease(path.join(releases, 'older'), '0.1.5', key.privateKey);
  await writeSmallRelease(releases, '0.2.0', key.privateKey);
  const internet = await environment.openInternet();
  const { fetched } = await internet.runOnce();
  t.deepEqual(fetched.map((outcome) => [outcome.productId, outcome.status, outcome.version]), [['lgwan-mirror', 'fetched', '0.2.0']], JSON.stringify(fetched));
  internet.close();
  const lgwan = await environment.openLgwan();
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published'], JSON.stringify(outcomes));
  const published = lgwan.database.data.published!;
  t.deepEqual(published.artifacts.map((artifact) => artifact.path).sort(), [
    'pool/lgwan-mirror/0.2.0/amd64/any/lgwan-mirror_0.2.0_amd64.deb',
    'pool/lgwan-mirror/0.2.0/any/any/SHA256SUMS',
    'pool/lgwan-mirror/0.2.0/any/any/SHA256SUMS.sig',
    'pool/lgwan-mirror/0.2.0/linux-x64/any/lgwan-mirror-0.2.0-linux-x64.tar.gz',
  ]);
  t.like(published.products.find((product) => product.id === 'lgwan-mirror'), { trust: 'signed-hash-list', scheme: 'semver' });
  await lgwan.close();

  // What the upgrade command would do with this state, as a 0.1.0 install, without dpkg.
  const lines: string[] = [];
  const print = (line: string) => lines.push(line);
  t.is(await upgradeFromPublished({ config: environment.config.lgwan, dryRun: true, installed: '0.1.0', print }), 0);
  t.regex(lines.join('\n'), /lgwan-mirror_0\.2\.0_amd64\.deb verified: sha256 [0-9a-f]{64} as published \(bundle 1\), listed in SHA256SUMS signed by the pinned release key "lgwan-mirror-release"/u);
  t.regex(lines.at(-1)!, /would upgrade 0\.1\.0 → 0\.2\.0: dpkg --force-confold --install lgwan-mirror_0\.2\.0_amd64\.deb \(--dry-run: nothing installed\)/u);
  lines.length = 0;
  t.is(await upgradeFromPublished({ config: environment.config.lgwan, dryRun: true, installed: '0.2.0', print }), 2);
  t.regex(lines.join('\n'), /^lgwan-mirror: already at 0\.2\.0 \(the newest published release\): nothing installed$/u);
  lines.length = 0;
  t.is(await upgradeFromPublished({ config: environment.config.lgwan, dryRun: true, installed: '0.3.0', version: '0.2.0', print }), 2);
  t.regex(lines.join('\n'), /0\.2\.0 is older than the installed 0\.3\.0: downgrade refused, nothing installed/u);
  const missing = await t.throwsAsync(upgradeFromPublished({ config: environment.config.lgwan, dryRun: true, installed: '0.1.0', version: '0.1.5', print }));
  t.regex(missing!.message, /--version 0\.1\.5: not published on this side \(.*state\.json publishes lgwan-mirror 0\.2\.0\)/u);

  // One byte of the stored .deb changed after the import: refused, naming the stored file.
  const deb = published.artifacts.find((artifact) => artifact.fileName.endsWith('.deb'))!;
  const stored = path.join(environment.config.lgwan.storage, 'blobs', 'sha256', deb.sha256.slice(0, 2), deb.sha256);
  const bytes = await readFile(stored);
  bytes[bytes.length - 1] = bytes.at(-1)! ^ 0x01;
  await writeFile(stored, bytes);
  const changed = await t.throwsAsync(upgradeFromPublished({ config: environment.config.lgwan, dryRun: true, installed: '0.1.0', print }));
  t.is((changed as { code?: string }).code, 'E_INTEGRITY');
  t.true(changed!.message.startsWith(`${stored} (pool/lgwan-mirror/0.2.0/amd64/any/lgwan-mirror_0.2.0_amd64.deb): sha256 `), changed!.message);
  t.regex(changed!.message, /differs from the published manifest's [0-9a-f]{64} .*Nothing was installed/u);
});

test('the LGWAN side checks the release signature with its own pinned key: another pin refuses the bundle, and nothing is published', async (t) => {
  const { key, releases, environment } = await releaseEnvironment(t, { lgwanKey: makeReleaseKey() });
  await writeSmallRelease(releases, '0.2.0', key.privateKey);
  const internet = await environment.openInternet();
  t.is((await internet.runOnce()).fetched[0]!.status, 'fetched');
  internet.close();
  const lgwan = await environment.openLgwan();
  const [outcome] = (await lgwan.importOnce()) as { status: string; code?: string; reason?: string }[];
  t.is(outcome!.status, 'refused');
  t.is(outcome!.code, 'E_SIGNATURE');
  t.regex(outcome!.reason!, /pool\/lgwan-mirror\/0\.2\.0\/any\/any\/SHA256SUMS: SHA256SUMS\.sig is not a signature of SHA256SUMS by the pinned release key "lgwan-mirror-release" \([0-9A-F]{64}, .*lgwan-mirror-release\.pub\.pem\)/u);
  t.is(lgwan.database.data.published, null);
  await lgwan.close();
});

test('the internet side refuses a release whose .deb changed by one byte, whose SHA256SUMS another key signed, or whose .deb says another version inside; nothing is bundled', async (t) => {
  const { key, releases, environment } = await releaseEnvironment(t);
  const folder = path.join(releases, 'candidate');
  const { deb } = await writeSmallRelease(folder, '0.2.0', key.privateKey);
  const debFile = path.join(folder, deb);
  const original = await readFile(debFile);
  const changed = Buffer.from(original);
  changed[changed.length - 1] = changed.at(-1)! ^ 0x01;
  await writeFile(debFile, changed);
  const internet = await environment.openInternet();
  let [outcome] = await internet.fetchAll();
  t.is(outcome!.status, 'failed');
  t.regex(outcome!.error!, new RegExp(`^${debFile.replaceAll('.', '\\.')}: sha256 [0-9a-f]{64} differs from [0-9a-f]{64} in the signed SHA256SUMS beside it`, 'u'));

  await writeFile(debFile, original);
  await signRelease(folder, [deb, 'lgwan-mirror-0.2.0-linux-x64.tar.gz'], makeReleaseKey().privateKey);
  [outcome] = await internet.fetchAll();
  t.is(outcome!.status, 'failed');
  t.regex(outcome!.error!, /candidate\/SHA256SUMS: SHA256SUMS\.sig is not a signature of SHA256SUMS by the pinned release key "lgwan-mirror-release"/u);

  await writeSmallRelease(folder, '0.2.0', key.privateKey, { controlVersion: '0.1.9' });
  [outcome] = await internet.fetchAll();
  t.is(outcome!.status, 'failed');
  t.regex(outcome!.error!, /lgwan-mirror_0\.2\.0_amd64\.deb: the \.deb's control field "Version" is "0\.1\.9", the release is lgwan-mirror 0\.2\.0 \(amd64\)/u);
  t.deepEqual(internet.database.data.products['lgwan-mirror']?.releases ?? [], [], 'nothing was kept for a bundle');

  await appendFile(path.join(folder, 'SHA256SUMS'), 'not a line\n');
  [outcome] = await internet.fetchAll();
  t.regex(outcome!.error!, /candidate\/SHA256SUMS:3: not a "<64-hex-digit hash>  <path>" line/u);
  internet.close();
});

test('an empty release folder, or none, is named with what to drop there', async (t) => {
  const { releases, environment } = await releaseEnvironment(t);
  const internet = await environment.openInternet();
  let [outcome] = await internet.fetchAll();
  t.regex(outcome!.error!, /releases: no release in it \(a release is the folder "npm run package" writes/u);
  await (await import('node:fs/promises')).rm(releases, { recursive: true });
  [outcome] = await internet.fetchAll();
  t.regex(outcome!.error!, /^lgwan-mirror: source\.folder .*releases does not exist: create it and drop a release there/u);
  internet.close();
});

test('the control fields are read from .debs whose control part is xz, gzip or not compressed', async (t) => {
  const key = makeReleaseKey();
  const folder = path.join((await import('node:os')).tmpdir(), `lgwan-mirror-deb-control-${process.pid}`);
  t.teardown(() => import('node:fs/promises').then(({ rm }) => rm(folder, { recursive: true, force: true })));
  for (const compression of ['xz', 'gzip', 'none'] as const) {
    const { deb } = await writeSmallRelease(path.join(folder, compression), '1.2.3', key.privateKey, { compression });
    const control = await readDebControl(path.join(folder, compression, deb), deb);
    t.like(control, { package: 'lgwan-mirror', version: '1.2.3', architecture: 'amd64' });
    t.is(control.fields.get('Description'), 'a test package\nmulti-line description');
  }
  await writeFile(path.join(folder, 'not-a.deb'), 'hello');
  const error = await t.throwsAsync(readDebControl(path.join(folder, 'not-a.deb'), 'not-a.deb'));
  t.regex(error!.message, /^not-a\.deb: ends inside the ar magic/u);
});

test('a pinned Ed25519 fingerprint must be the SHA-256 of a key in its file, and the key must be Ed25519', async (t) => {
  const folder = path.join((await import('node:os')).tmpdir(), `lgwan-mirror-ed25519-pins-${process.pid}`);
  t.teardown(() => import('node:fs/promises').then(({ rm }) => rm(folder, { recursive: true, force: true })));
  const key = makeReleaseKey();
  await writeReleaseKeyPins(folder, { publicPem: key.publicPem, fingerprint: makeReleaseKey().fingerprint });
  const error = await t.throwsAsync(PinnedKeyring.load([folder]));
  t.regex(error!.message, new RegExp(`pins\\.yaml: ed25519Keys "lgwan-mirror-release": fingerprint [0-9A-F]{64} is not the SHA-256 of a key in lgwan-mirror-release\\.pub\\.pem \\(found ${key.fingerprint}\\)`, 'u'));
  await writeReleaseKeyPins(folder, key);
  t.true((await PinnedKeyring.load([folder])).hasEd25519('lgwan-mirror-release'));
  const { createHash, generateKeyPairSync } = await import('node:crypto');
  const ecdsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  await writeReleaseKeyPins(folder, { publicPem: ecdsa.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: createHash('sha256').update(ecdsa.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase() });
  const wrongType = await t.throwsAsync(PinnedKeyring.load([folder]));
  t.regex(wrongType!.message, /ed25519Keys "lgwan-mirror-release": the key [0-9A-F]{64} in lgwan-mirror-release\.pub\.pem is ec, not Ed25519/u);
});
