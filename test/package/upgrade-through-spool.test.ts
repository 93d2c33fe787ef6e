import { generateKeyPairSync } from 'node:crypto';
import { access, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { projectRoot } from '../helpers/environment.ts';
import { shell } from '../helpers/root-shell.ts';
import { makeReleaseKey, signRelease, writeReleaseCatalog, writeReleaseKeyPins } from '../helpers/release-files.ts';

/**
 * Issue 17's upgrade, for real: two packages built by scripts/package.sh (versions A < B, one
 * release key), A installed into a fresh Debian 13 root (scripts/install-test-root.sh), B
 * dropped into the internet side's release folder, fetched and sent into a spool by the
 * checkout's internet side, imported by A inside the root, and installed there with
 * `lgwan-mirror upgrade`, everything in the root run without any network (unshare --net).
 * A changed blob and a foreign release key are refused first, with nothing installed.
 */
const cachedRoot = process.env.LGWAN_MIRROR_TEST_ROOT ?? '/var/cache/lgwan-mirror-test-root';
const versionA = (JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
const versionB = `${versionA.split('.').slice(0, 2).join('.')}.${Number(versionA.split('.')[2]) + 7}`;
const config = '/etc/lgwan-mirror/lgwan-mirror.yaml';
const cli = path.join(projectRoot, 'bin', 'lgwan-mirror.js');
const escape = (text: string) => text.replaceAll('.', '\\.');


/** A script in the root, with no network at all (a fresh network namespace: not even loopback is up). */
const inRoot = (root: string, script: string) => shell('unshare', ['--net', 'chroot', root, 'sh', '-euc', `cd /root\n${script}`]);

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

const state: { work?: string } = {};
test.after.always(async () => {
  if (state.work) await rm(state.work, { recursive: true, force: true });
});

test.serial('a newer lgwan-mirror carried through the spool is installed on the LGWAN host with one command, its state migrated; a changed file, a foreign key, the same version and a downgrade are refused', async (t) => {
  t.timeout(30 * 60_000);
  await access(path.join(cachedRoot, '.complete')).catch(() => t.fail(`no Debian 13 root at ${cachedRoot}: run scripts/install-test-root.sh as root (npm test does)`));
  const work = (state.work = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-upgrade-')));
  const releaseKey = path.join(work, 'release-key.pem');
  await writeFile(releaseKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  // Both packages at once (each build is mostly single-threaded: tsc, then npm ci from the cache).
  let begin = performance.now();
  const build = async (version: string) => {
    const directory = path.join(work, `release-${version}`);
    const built = await shell('bash', [path.join(projectRoot, 'scripts', 'package.sh')], {
      env: { ...process.env, LGWAN_MIRROR_PACKAGE_VERSION: version, LGWAN_MIRROR_RELEASE_DIR: directory, LGWAN_MIRROR_RELEASE_KEY: releaseKey },
      cwd: projectRoot,
    });
    if (built.code !== 0) throw new Error(`npm run package (${version}) failed:\n${built.output}`);
    return directory;
  };
  const [releaseA, releaseB] = await Promise.all([build(versionA), build(versionB)]);
  t.log(`two packages (${versionA}, ${versionB}) built in ${seconds(begin)} s`);
  const debA = `lgwan-mirror_${versionA}_amd64.deb`;
  const debB = `lgwan-mirror_${versionB}_amd64.deb`;

  // The LGWAN host: a fresh root with A installed, offline.
  const root = path.join(work, 'lgwan-host');
  t.is((await shell('cp', ['-a', '--reflink=auto', cachedRoot, root])).code, 0);
  await cp(path.join(releaseA, debA), path.join(root, 'root', debA));
  const installed = await inRoot(root, `dpkg -i ${debA}\nlgwan-mirror --version`);
  t.is(installed.code, 0, installed.output);
  t.regex(installed.output, new RegExp(`^${escape(versionA)}$`, 'mu'));
  const pins = await readFile(path.join(root, 'etc', 'lgwan-mirror', 'catalogs', 'keys', 'pins.yaml'), 'utf8');
  t.regex(pins, /ed25519Keys:\n {2}lgwan-mirror-release:\n {4}file: lgwan-mirror-release\.pub\.pem\n {4}fingerprints:\n {6}- [0-9A-F]{64}/u, 'the package pinned the key that signed it');

  // The internet side (this checkout), its release folder holding A's release first.
  const internet = path.join(work, 'internet');
  const releases = path.join(internet, 'releases');
  const key = { publicPem: await readFile(path.join(releaseA, 'release-key.pub.pem'), 'utf8'), fingerprint: /- ([0-9A-F]{64})/u.exec(pins)![1]! };
  await writeReleaseKeyPins(path.join(internet, 'keys'), key);
  await writeReleaseCatalog(path.join(internet, 'catalogs'), path.join(projectRoot, 'catalogs', 'lgwan-mirror.yaml'), releases);
  await writeFile(path.join(internet, 'lgwan-mirror.yaml'), stringify({ internet: { storage: 'storage', catalogs: 'catalogs', keys: ['keys'], spool: 'outbox' } }));
  const internetCommand = (...args: string[]) => shell(process.execPath, [cli, ...args, '--config', path.join(internet, 'lgwan-mirror.yaml')], { env: { ...process.env } });
  t.is((await internetCommand('keys', 'init')).code, 0);
  const dropRelease = async (from: string, name: string) => {
    await mkdir(path.join(releases, name), { recursive: true });
    for (const file of await readdir(from)) await cp(path.join(from, file), path.join(releases, name, file));
  };
  await dropRelease(releaseA, versionA);
  let fetched = await internetCommand('fetch');
  t.is(fetched.code, 0, fetched.output);
  t.regex(fetched.output, new RegExp(`^lgwan-mirror\\tfetched\\t${escape(versionA)}\\t$`, 'mu'));

  // B with its SHA256SUMS signed by another key: refused by the internet side, nothing kept.
  await dropRelease(releaseB, versionB);
  await signRelease(path.join(releases, versionB), [debB, `lgwan-mirror-${versionB}-linux-x64.tar.gz`, 'release-key.pub.pem'], makeReleaseKey().privateKey);
  fetched = await internetCommand('fetch');
  t.is(fetched.code, 1, fetched.output);
  t.regex(fetched.output, new RegExp(`lgwan-mirror\\tfailed\\t\\t.*releases/${escape(versionB)}/SHA256SUMS: SHA256SUMS\\.sig is not a signature of SHA256SUMS by the pinned release key "lgwan-mirror-release"`, 'u'));
  // The genuine B.
  await rm(path.join(releases, versionB), { recursive: true });
  await dropRelease(releaseB, versionB);
  begin = performance.now();
  fetched = await internetCommand('fetch');
  t.is(fetched.code, 0, fetched.output);
  t.regex(fetched.output, new RegExp(`^lgwan-mirror\\tfetched\\t${escape(versionB)}\\t$`, 'mu'));
  const sent = await internetCommand('send');
  t.is(sent.code, 0, sent.output);
  t.log(`internet side: fetch and send of ${versionB} in ${seconds(begin)} s`);

  // The transfer appliance: the key once, then the outbox into the inbox.
  const lgwanStorage = path.join(root, 'var', 'lib', 'lgwan-mirror', 'lgwan');
  const prepared = await inRoot(root, 'install -d -o lgwan-mirror -g lgwan-mirror -m 0750 /var/lib/lgwan-mirror/lgwan');
  t.is(prepared.code, 0, prepared.output);
  await cp(path.join(internet, 'storage', 'transfer-key.pub.pem'), path.join(lgwanStorage, 'transfer-key.pub.pem'));
  for (const name of await readdir(path.join(internet, 'outbox'))) await cp(path.join(internet, 'outbox', name), path.join(root, 'var', 'spool', 'lgwan-mirror', 'inbox', name));
  const imported = await inRoot(root, `runuser -u lgwan-mirror -- lgwan-mirror import --config ${config}\nrunuser -u lgwan-mirror -- lgwan-mirror status --config ${config}`);
  t.is(imported.code, 0, imported.output);
  t.regex(imported.output, new RegExp(`^lgwan-mirror\\tvendor ${escape(versionB)}\\tpublished ${escape(versionB)}\\tsigned-hash-list$`, 'mu'));
  t.like(JSON.parse(await readFile(path.join(lgwanStorage, 'storage-format.json'), 'utf8')), { writtenBy: versionA });

  const upgrade = (options = '') => inRoot(root, `lgwan-mirror upgrade --config ${config} ${options}`);
  const installedVersion = async () => (await inRoot(root, "dpkg-query -W -f '${Version}' lgwan-mirror")).output;

  const dryRun = await upgrade('--dry-run');
  t.is(dryRun.code, 0, dryRun.output);
  t.regex(dryRun.output, new RegExp(`would upgrade ${escape(versionA)} → ${escape(versionB)}: dpkg --force-confold --install ${escape(debB)} \\(--dry-run: nothing installed\\)`, 'u'));
  const same = await upgrade(`--version ${versionA}`);
  t.is(same.code, 2, same.output);
  t.regex(same.output, new RegExp(`^lgwan-mirror: already at ${escape(versionA)}: nothing installed$`, 'mu'));

  // One byte of the published .deb changed in the LGWAN store.
  const lgwanState = JSON.parse(await readFile(path.join(lgwanStorage, 'state.json'), 'utf8')) as { published: { artifacts: { fileName: string; sha256: string }[] } };
  const blob = lgwanState.published.artifacts.find((artifact) => artifact.fileName === debB)!.sha256;
  const blobFile = path.join(lgwanStorage, 'blobs', 'sha256', blob.slice(0, 2), blob);
  const original = await readFile(blobFile);
  const changed = Buffer.from(original);
  changed[4096] = changed[4096]! ^ 0x01;
  await writeFile(blobFile, changed);
  let refused = await upgrade();
  t.is(refused.code, 1, refused.output);
  t.regex(refused.output, new RegExp(`^lgwan-mirror: /var/lib/lgwan-mirror/lgwan/blobs/sha256/${blob.slice(0, 2)}/${blob} \\(pool/lgwan-mirror/${escape(versionB)}/amd64/any/${escape(debB)}\\): sha256 [0-9a-f]{64} \\(\\d+ bytes\\) differs from the published manifest's ${blob}.*Nothing was installed`, 'mu'));
  t.is(await installedVersion(), versionA);
  await writeFile(blobFile, original);

  // This host's pinned release key replaced by another one: the signature no longer counts.
  const keysFolder = path.join(root, 'etc', 'lgwan-mirror', 'catalogs', 'keys');
  const pinnedPem = await readFile(path.join(keysFolder, 'lgwan-mirror-release.pub.pem'), 'utf8');
  const foreign = makeReleaseKey();
  await writeFile(path.join(keysFolder, 'lgwan-mirror-release.pub.pem'), foreign.publicPem);
  await writeFile(path.join(keysFolder, 'pins.yaml'), pins.replace(key.fingerprint, foreign.fingerprint));
  refused = await upgrade();
  t.is(refused.code, 1, refused.output);
  t.regex(refused.output, new RegExp(`^lgwan-mirror: pool/lgwan-mirror/${escape(versionB)}/any/any/SHA256SUMS: SHA256SUMS\\.sig is not a signature of SHA256SUMS by the pinned release key "lgwan-mirror-release" \\(${foreign.fingerprint}, /etc/lgwan-mirror/catalogs/keys/lgwan-mirror-release\\.pub\\.pem\\)`, 'mu'));
  t.is(await installedVersion(), versionA);
  await writeFile(path.join(keysFolder, 'lgwan-mirror-release.pub.pem'), pinnedPem);
  await writeFile(path.join(keysFolder, 'pins.yaml'), pins);

  // The one documented command.
  begin = performance.now();
  const upgraded = await upgrade();
  t.log(`lgwan-mirror upgrade ${versionA} → ${versionB} in the root: ${seconds(begin)} s`);
  t.is(upgraded.code, 0, upgraded.output);
  t.regex(upgraded.output, new RegExp(`installed ${escape(versionB)} \\(was ${escape(versionA)}\\)`, 'u'));
  t.is(await installedVersion(), versionB);
  t.is((await inRoot(root, 'lgwan-mirror --version')).output.trim(), versionB);
  // The service's next start (here: the next import, as its user) migrates the data root.
  const restarted = await inRoot(root, `runuser -u lgwan-mirror -- lgwan-mirror import --config ${config}\nrunuser -u lgwan-mirror -- lgwan-mirror status --config ${config}`);
  t.is(restarted.code, 0, restarted.output);
  t.regex(restarted.output, new RegExp(`^lgwan-mirror\\tvendor ${escape(versionB)}\\tpublished ${escape(versionB)}`, 'mu'), 'what A published is still published');
  t.like(JSON.parse(await readFile(path.join(lgwanStorage, 'storage-format.json'), 'utf8')), { format: 1, writtenBy: versionB });

  const again = await upgrade();
  t.is(again.code, 2, again.output);
  t.regex(again.output, new RegExp(`^lgwan-mirror: already at ${escape(versionB)} \\(the newest published release\\): nothing installed$`, 'mu'));
  const downgrade = await upgrade(`--version ${versionA}`);
  t.is(downgrade.code, 2, downgrade.output);
  t.regex(downgrade.output, new RegExp(`^lgwan-mirror: ${escape(versionA)} is older than the installed ${escape(versionB)}: downgrade refused, nothing installed`, 'mu'));
  t.is(await installedVersion(), versionB);
});
