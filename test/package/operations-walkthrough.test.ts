import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { access, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { generateVendorKey, simulatorCatalogOrigin, startVendorSimulator, type VendorSimulator } from '../../src/simulator/vendor-simulator.ts';
import { signInAs } from '../helpers/console.ts';
import { fixtures, projectRoot } from '../helpers/environment.ts';
import { shell } from '../helpers/root-shell.ts';

/**
 * docs/operations.md, followed block by block: `npm run package`, then the release checked
 * and installed on two fresh Debian 13 roots (scripts/install-test-root.sh makes the cached
 * one once), the LGWAN root inside a network namespace with nothing but loopback. The test
 * does by itself only what the guide leaves to people and machines outside the hosts: the
 * product choice in the config (here the demo catalog against the local vendor simulator),
 * the transfer appliance (outbox → inbox), the service manager (no init in the roots: the
 * unit's ExecStart runs as its User) and the endpoint (Firefox's update request, made with
 * the root's own Node.js inside the namespace).
 */
const cachedRoot = process.env.LGWAN_MIRROR_TEST_ROOT ?? '/var/cache/lgwan-mirror-test-root';
const packageVersion = (JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
const upgradeVersion = `${packageVersion.split('.').slice(0, 2).join('.')}.${Number(packageVersion.split('.')[2]) + 1}`;
const config = '/etc/lgwan-mirror/lgwan-mirror.yaml';

interface Block {
  host: string;
  text: string;
}

/** The English section's labelled blocks (`<!-- walkthrough: host -->` above a fence), in order. */
function walkthroughBlocks(guide: string): Block[] {
  const english = guide.slice(guide.indexOf('## English'));
  return [...english.matchAll(/<!-- walkthrough: (\w+) -->\n```\w*\n([\s\S]*?)```/gu)].map((match) => ({ host: match[1]!, text: match[2]! }));
}


const state: { release?: string; upgrade?: string; releaseKey?: string; work?: string; internetRoot?: string; lgwanRoot?: string; namespace?: string } = {};
const started: ChildProcess[] = [];
let simulator: VendorSimulator | undefined;

test.after.always(async () => {
  for (const child of started) child.kill('SIGTERM');
  await simulator?.close();
  if (state.namespace) await shell('ip', ['netns', 'delete', state.namespace]);
  if (state.work) await rm(state.work, { recursive: true, force: true });
});

async function buildRelease(version: string, directory: string): Promise<number> {
  const begin = performance.now();
  const result = await shell('bash', [path.join(projectRoot, 'scripts', 'package.sh')], {
    env: { ...process.env, LGWAN_MIRROR_PACKAGE_VERSION: version, LGWAN_MIRROR_RELEASE_DIR: directory, LGWAN_MIRROR_RELEASE_KEY: state.releaseKey },
    cwd: projectRoot,
  });
  if (result.code !== 0) throw new Error(`npm run package failed:\n${result.output}`);
  return performance.now() - begin;
}

test.serial('npm run package writes a .deb, a tarball and a SHA-256 list signed with the release key, with compiled JavaScript and linux-x64 native modules inside', async (t) => {
  t.timeout(20 * 60_000);
  await access(path.join(cachedRoot, '.complete')).catch(() => t.fail(`no Debian 13 root at ${cachedRoot}: run scripts/install-test-root.sh as root (npm test does)`));
  state.work = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-package-'));
  state.release = path.join(state.work, 'release');
  state.releaseKey = path.join(state.work, 'release-key.pem');
  await writeFile(state.releaseKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const milliseconds = await buildRelease(packageVersion, state.release);
  const files = (await readdir(state.release)).sort();
  const deb = `lgwan-mirror_${packageVersion}_amd64.deb`;
  const tarball = `lgwan-mirror-${packageVersion}-linux-x64.tar.gz`;
  t.deepEqual(files, ['SHA256SUMS', 'SHA256SUMS.sig', deb, tarball, 'release-key.pub.pem'].sort());
  t.log(`build ${(milliseconds / 1000).toFixed(0)} s; .deb ${((await stat(path.join(state.release, deb))).size / 1048576).toFixed(1)} MiB; tarball ${((await stat(path.join(state.release, tarball))).size / 1048576).toFixed(1)} MiB`);

  // A changed list no longer verifies (the same openssl command the guide gives).
  const sums = path.join(state.release, 'SHA256SUMS');
  const verify = () => shell('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'release-key.pub.pem', '-rawin', '-in', 'SHA256SUMS', '-sigfile', 'SHA256SUMS.sig'], { cwd: state.release });
  t.is((await verify()).code, 0);
  const original = await readFile(sums, 'utf8');
  await writeFile(sums, original.replace(/^[0-9a-f]/u, (digit) => (digit === '0' ? '1' : '0')));
  t.not((await verify()).code, 0, 'a changed SHA256SUMS fails the signature check');
  await writeFile(sums, original);
  t.regex(original, new RegExp(`^[0-9a-f]{64}  ${deb.replaceAll('.', '\\.')}$`, 'mu'));

  const contents = (await shell('dpkg-deb', ['--contents', path.join(state.release, deb)])).output;
  for (const expected of ['./usr/lib/lgwan-mirror/dist/cli/main.js', './usr/lib/lgwan-mirror/dist/repository/openapi.json', './usr/lib/lgwan-mirror/dist/repository/assets/status.css',
    './usr/lib/lgwan-mirror/dist/coverage/postgres-migrations/', './usr/lib/lgwan-mirror/node_modules/@napi-rs/lzma-linux-x64-gnu/lzma.linux-x64-gnu.node',
    './usr/lib/lgwan-mirror/node_modules/@ronomon/reed-solomon/binding.node', './usr/lib/systemd/system/lgwan-mirror-lgwan.service', './usr/bin/lgwan-mirror -> ../lib/lgwan-mirror/bin/lgwan-mirror.js',
    './etc/lgwan-mirror/lgwan-mirror.yaml', './usr/lib/lgwan-mirror/release-key.pub.pem']) {
    t.true(contents.includes(expected), expected);
  }
  t.false(/\/node_modules\/(tsx|typescript|esbuild|ava)\//u.test(contents), 'no transpiler, compiler or test runner in production');
  t.false(/ \.\/usr\/lib\/lgwan-mirror\/dist\/.*\.ts$/mu.test(contents), 'only JavaScript in dist/');
  const control = (await shell('dpkg-deb', ['--field', path.join(state.release, deb)])).output;
  t.regex(control, /^Depends: nodejs \(>= 20\.19\)/mu);

  // The tarball's tree runs from anywhere with the host's Node.js, without tsx: time to a first answer of serve.
  const unpacked = path.join(state.work, 'tarball');
  await mkdir(unpacked);
  await shell('tar', ['-xzf', path.join(state.release, tarball), '-C', unpacked]);
  const tree = path.join(unpacked, `lgwan-mirror-${packageVersion}`, 'lgwan-mirror');
  const storage = path.join(state.work, 'tarball-lgwan');
  await mkdir(storage);
  await cp(path.join(projectRoot, 'catalogs', 'keys'), path.join(storage, 'keys'), { recursive: true });
  await shell('node', [path.join(tree, 'bin', 'lgwan-mirror.js'), 'keys', 'init', '--config', await writeConfig(storage, { internet: { storage: 'internet' }, lgwan: { storage: 'lgwan', keys: ['keys'], spool: 'spool', port: 0 } })]);
  await mkdir(path.join(storage, 'lgwan'), { recursive: true });
  await cp(path.join(storage, 'internet', 'transfer-key.pub.pem'), path.join(storage, 'lgwan', 'transfer-key.pub.pem'));
  await mkdir(path.join(storage, 'spool'));
  // A console account, as the guide has the admin make one (password on standard input): the
  // status API needs a session, and signing in uses the package's argon2 native module.
  const password = randomBytes(18).toString('base64url');
  const account = await shell('sh', ['-c', `printf '%s\\n' '${password}' | "$0" "$1" accounts add --username walkthrough --role operator --config "$2"`, process.execPath, path.join(tree, 'bin', 'lgwan-mirror.js'), path.join(storage, 'lgwan-mirror.yaml')]);
  t.is(account.code, 0, account.output);
  const begin = performance.now();
  const serve = spawn(process.execPath, [path.join(tree, 'bin', 'lgwan-mirror.js'), 'serve', '--config', path.join(storage, 'lgwan-mirror.yaml'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, LGWAN_MIRROR_LOG_LEVEL: 'info' } });
  started.push(serve);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /http:\/\/127\.0\.0\.1:\d+/u.exec(output);
      if (found) resolve(found[0]);
    };
    serve.stdout.on('data', look);
    serve.stderr.on('data', look);
    serve.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
  const answer = await fetch(`${url}/api/v1/status`);
  t.log(`serve from the tarball: first answer ${(performance.now() - begin).toFixed(0)} ms after the start`);
  t.is(answer.status, 401, 'without a session the status API is refused');
  const operator = await signInAs(url, 'walkthrough', password);
  t.is((await operator.fetch('/api/v1/status')).status, 200);
  t.false(output.includes('tsx'), output);
  serve.kill('SIGTERM');
});

async function writeConfig(folder: string, sections: Record<string, unknown>): Promise<string> {
  const file = path.join(folder, 'lgwan-mirror.yaml');
  await writeFile(file, stringify(sections));
  return file;
}

async function inRoot(root: string, script: string, options: { namespace?: string; env?: Record<string, string> } = {}) {
  const environment = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`);
  const chroot = ['chroot', root, 'env', ...environment, 'sh', '-euc', `cd /root\n${script}`];
  return options.namespace ? shell('ip', ['netns', 'exec', options.namespace, ...chroot]) : shell(chroot[0]!, chroot.slice(1));
}

/** The guide's block, without what needs an init system: those lines are returned to be done another way. */
function runnable(block: Block): { script: string; services: string[] } {
  const lines = block.text.split('\n').filter((line) => line.trim() !== '');
  const services = lines.filter((line) => line.startsWith('systemctl ')).map((line) => line.split(' ').at(-1)!);
  return { script: lines.filter((line) => !line.startsWith('systemctl ')).join('\n'), services };
}

test.serial('the operations guide takes two fresh Debian 13 hosts to a first Firefox update, offline on the LGWAN side', async (t) => {
  t.timeout(20 * 60_000);
  if (!state.release) return t.fail('the package was not built');
  const guide = await readFile(path.join(projectRoot, 'docs', 'operations.md'), 'utf8');
  const blocks = walkthroughBlocks(guide);
  t.deepEqual(blocks.map((block) => block.host), ['release', 'internet', 'internet', 'lgwan', 'endpoint']);
  const japanese = guide.slice(0, guide.indexOf('## English'));
  for (const command of ['openssl pkeyutl -verify', 'dpkg -i lgwan-mirror_*_amd64.deb', 'runuser -u lgwan-mirror -- lgwan-mirror keys init', 'systemctl enable --now lgwan-mirror-lgwan.service', '/var/lib/lgwan-mirror/lgwan/transfer-key.pub.pem']) {
    t.true(japanese.includes(command), `the Japanese section gives ${command} too`);
  }
  const [release, installInternet, runInternet, lgwanBlock, endpoint] = blocks as [Block, Block, Block, Block, Block];

  // 1. The release, checked where it was received.
  const checked = await shell('sh', ['-euc', release.text], { cwd: state.release });
  t.is(checked.code, 0, checked.output);

  // Two empty hosts.
  state.internetRoot = path.join(state.work!, 'internet-host');
  state.lgwanRoot = path.join(state.work!, 'lgwan-host');
  const copyBegin = performance.now();
  for (const root of [state.internetRoot, state.lgwanRoot]) {
    const copied = await shell('cp', ['-a', '--reflink=auto', cachedRoot, root]);
    t.is(copied.code, 0, copied.output);
    for (const file of await readdir(state.release)) await cp(path.join(state.release, file), path.join(root, 'root', file));
  }
  t.log(`two roots copied in ${((performance.now() - copyBegin) / 1000).toFixed(0)} s`);
  state.namespace = `lgwan-walk-${process.pid}`;
  t.is((await shell('ip', ['netns', 'add', state.namespace])).code, 0);
  await shell('ip', ['-n', state.namespace, 'link', 'set', 'lo', 'up']);
  const links = (await shell('ip', ['-n', state.namespace, '-o', 'link'])).output;
  t.deepEqual(links.trim().split('\n').map((line) => line.split(':')[1]!.trim()), ['lo'], 'the LGWAN host has no network but loopback');

  // 2. Internet host: install, then (the admin's choice of products) the demo catalog against the simulator.
  let begin = performance.now();
  const installed = await inRoot(state.internetRoot, runnable(installInternet).script);
  t.is(installed.code, 0, installed.output);
  t.log(`dpkg -i in the fresh root: ${((performance.now() - begin) / 1000).toFixed(1)} s`);
  t.is((await inRoot(state.internetRoot, "dpkg-query -W -f '${Version}' lgwan-mirror")).output, packageVersion);
  t.is((await inRoot(state.internetRoot, 'lgwan-mirror --help >/dev/null')).code, 0);
  const vendorKey = await generateVendorKey('Walkthrough Vendor Release Engineering');
  simulator = await startVendorSimulator({
    fixtures,
    mozillaSigningKey: vendorKey.privateKey,
    mozilla: { product: 'firefox', versions: ['130.0', '131.0'], latest: '131.0', platforms: ['win64', 'linux-x86_64'], locales: ['ja', 'en-US'], fileSize: 128 * 1024 },
  });
  const pins = stringify({ keys: { 'mozilla-demo': { file: 'mozilla-demo.asc', fingerprints: [vendorKey.fingerprint] }, 'simulator-archive': { file: 'mozilla-demo.asc', fingerprints: [vendorKey.fingerprint] } } });
  for (const root of [state.internetRoot, state.lgwanRoot]) {
    await mkdir(path.join(root, 'etc', 'lgwan-mirror', 'demo-vendor-keys'), { recursive: true });
    await writeFile(path.join(root, 'etc', 'lgwan-mirror', 'demo-vendor-keys', 'mozilla-demo.asc'), vendorKey.publicKey);
    await writeFile(path.join(root, 'etc', 'lgwan-mirror', 'demo-vendor-keys', 'pins.yaml'), pins);
  }
  const shipped = parse(await readFile(path.join(state.internetRoot, config.slice(1)), 'utf8')) as { internet: Record<string, unknown>; lgwan: Record<string, unknown> };
  await writeFile(path.join(state.internetRoot, config.slice(1)), stringify({
    ...shipped,
    internet: { ...shipped.internet, catalogs: '/etc/lgwan-mirror/catalogs/demo', keys: [...(shipped.internet.keys as string[]), '/etc/lgwan-mirror/demo-vendor-keys'], originRewrites: { [simulatorCatalogOrigin]: simulator.url } },
  }));
  const internetRun = runnable(runInternet);
  const ran = await inRoot(state.internetRoot, internetRun.script);
  t.is(ran.code, 0, ran.output);
  t.deepEqual(internetRun.services, ['lgwan-mirror-internet.service']);
  const outbox = path.join(state.internetRoot, 'var', 'spool', 'lgwan-mirror', 'outbox');
  const sent = await readdir(outbox);
  t.true(sent.some((name) => /^bundle-0*1\.tar$/u.test(name)), sent.join(', '));

  // 3. The transfer appliance: the public key once, then the outbox into the inbox.
  await cp(path.join(state.internetRoot, 'var', 'lib', 'lgwan-mirror', 'internet', 'transfer-key.pub.pem'), path.join(state.lgwanRoot, 'root', 'transfer-key.pub.pem'));
  await mkdir(path.join(state.lgwanRoot, 'var', 'spool', 'lgwan-mirror', 'inbox'), { recursive: true });
  for (const name of sent) await cp(path.join(outbox, name), path.join(state.lgwanRoot, 'var', 'spool', 'lgwan-mirror', 'inbox', name));

  // 4. LGWAN host, in its namespace: the package's vendor keys plus the demo vendor's (the product choice).
  const lgwanRun = runnable(lgwanBlock);
  const install = lgwanRun.script.split('\n')[0]!;
  t.is(install, 'dpkg -i lgwan-mirror_*_amd64.deb');
  const lgwanInstalled = await inRoot(state.lgwanRoot, install, { namespace: state.namespace });
  t.is(lgwanInstalled.code, 0, lgwanInstalled.output);
  const lgwanShipped = parse(await readFile(path.join(state.lgwanRoot, config.slice(1)), 'utf8')) as { internet: Record<string, unknown>; lgwan: Record<string, unknown> };
  await writeFile(path.join(state.lgwanRoot, config.slice(1)), stringify({ ...lgwanShipped, lgwan: { ...lgwanShipped.lgwan, keys: [...(lgwanShipped.lgwan.keys as string[]), '/etc/lgwan-mirror/demo-vendor-keys'] } }));
  // The admin writes the first account's password with an editor, as the guide says; the block reads and removes it.
  const adminPassword = randomBytes(18).toString('base64url');
  await writeFile(path.join(state.lgwanRoot, 'root', 'lgwan-admin-password'), `${adminPassword}\n`, { mode: 0o600 });
  const imported = await inRoot(state.lgwanRoot, lgwanRun.script.split('\n').slice(1).join('\n'), { namespace: state.namespace });
  t.is(imported.code, 0, imported.output);
  t.regex(imported.output, /demo-firefox\s+vendor 131\.0\s+published 131\.0/u);
  t.deepEqual(lgwanRun.services, ['lgwan-mirror-lgwan.service']);

  // The service as systemd would start it: the unit's ExecStart, as its User, in the namespace.
  const unit = await readFile(path.join(state.lgwanRoot, 'usr', 'lib', 'systemd', 'system', 'lgwan-mirror-lgwan.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/mu.exec(unit)![1]!;
  const user = /^User=(.*)$/mu.exec(unit)![1]!;
  begin = performance.now();
  const service = spawn('ip', ['netns', 'exec', state.namespace, 'chroot', state.lgwanRoot, 'runuser', '-u', user, '--', ...execStart.split(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(service);
  let serviceLog = '';
  service.stderr!.on('data', (chunk: Buffer) => (serviceLog += chunk.toString()));

  // 6. The endpoint: Firefox 130.0's update request to the URL of the guide, then the MAR it names, checked by size and SHA-512.
  const updateUrl = endpoint.text.trim().replace('<LGWAN host>', '127.0.0.1');
  const firefox = `
    const { createHash } = await import('node:crypto');
    const attribute = (tag, name) => new RegExp(' ' + name + '="([^"]*)"').exec(tag)?.[1];
    let xml = '';
    let last = '';
    // Until the service listens (it is starting); each request given up after 10 s.
    for (let attempt = 0; attempt < 600; attempt++) {
      try {
        const answer = await fetch(process.argv[2], { signal: AbortSignal.timeout(10000) });
        xml = await answer.text();
        if (answer.ok) break;
        last = answer.status + ' ' + xml;
      } catch (error) { last = String(error); }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const patch = /<patch type="complete"[^>]*>/.exec(xml)?.[0];
    if (!patch) { console.log('no complete patch in ' + JSON.stringify(xml) + ' (last: ' + last + ')'); process.exit(1); }
    const body = Buffer.from(await (await fetch(attribute(patch, 'URL').replaceAll('&amp;', '&'), { signal: AbortSignal.timeout(60000) })).arrayBuffer());
    console.log(JSON.stringify({ xml, hashFunction: attribute(patch, 'hashFunction'), size: body.length, expectedSize: Number(attribute(patch, 'size')), sha512: createHash('sha512').update(body).digest('hex'), expected: attribute(patch, 'hashValue') }));`;
  await writeFile(path.join(state.lgwanRoot, 'root', 'firefox.mjs'), firefox);
  const asked = await inRoot(state.lgwanRoot, `node /root/firefox.mjs '${updateUrl}'`, { namespace: state.namespace });
  t.log(`the LGWAN service answered the first update request ${((performance.now() - begin) / 1000).toFixed(1)} s after its start (chroot, runuser and Node start included)`);
  t.is(asked.code, 0, `${asked.output}\n${serviceLog}`);
  const update = JSON.parse(asked.output) as { xml: string; hashFunction: string; size: number; expectedSize: number; sha512: string; expected: string };
  t.is(update.hashFunction, 'sha512');
  t.regex(update.xml, /appVersion="131\.0"/u);
  t.is(update.size, update.expectedSize);
  t.is(update.sha512, update.expected);

  // The first admin signs in with the password of step 4 (the file is gone) and sees the status.
  await t.throwsAsync(stat(path.join(state.lgwanRoot, 'root', 'lgwan-admin-password')));
  const admin = `
    const url = process.argv[2];
    const page = await fetch(url + '/sign-in');
    const cookie = /(__Host-lgwan-sign-in=[^;]+)/.exec(page.headers.get('set-cookie'))[1];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())[1];
    const signedIn = await fetch(url + '/sign-in', { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ _csrf: csrf, username: 'admin', password: process.argv[3], next: '/' }).toString() });
    const session = /(__Host-lgwan-session=[^;]+)/.exec(signedIn.headers.getSetCookie().join('\\n'))?.[1];
    const anonymous = await fetch(url + '/api/v1/status');
    const status = await fetch(url + '/api/v1/status', { headers: { cookie: session ?? '' } });
    console.log(JSON.stringify({ signIn: signedIn.status, anonymous: anonymous.status, status: status.status, sequence: (await status.json()).transfer?.highestSequence }));`;
  await writeFile(path.join(state.lgwanRoot, 'root', 'admin.mjs'), admin);
  const console = await inRoot(state.lgwanRoot, `node /root/admin.mjs http://127.0.0.1:8080 '${adminPassword}'`, { namespace: state.namespace });
  t.is(console.code, 0, console.output);
  t.like(JSON.parse(console.output) as object, { signIn: 303, anonymous: 401, status: 200, sequence: 1 });
  service.kill('SIGTERM');
  await new Promise((resolve) => service.once('exit', resolve));
});

test.serial('an upgrade keeps and migrates the LGWAN state; a downgrade is refused by the package and, when forced, by the service', async (t) => {
  t.timeout(20 * 60_000);
  if (!state.lgwanRoot) return t.fail('the walkthrough did not run');
  state.upgrade = path.join(state.work!, 'upgrade');
  await buildRelease(upgradeVersion, state.upgrade);
  await cp(path.join(state.upgrade, `lgwan-mirror_${upgradeVersion}_amd64.deb`), path.join(state.lgwanRoot, 'root', `lgwan-mirror_${upgradeVersion}_amd64.deb`));
  const formatFile = path.join(state.lgwanRoot, 'var', 'lib', 'lgwan-mirror', 'lgwan', 'storage-format.json');
  t.like(JSON.parse(await readFile(formatFile, 'utf8')), { writtenBy: packageVersion });
  const options = { namespace: state.namespace };
  const upgraded = await inRoot(state.lgwanRoot, `dpkg -i lgwan-mirror_${upgradeVersion}_amd64.deb && runuser -u lgwan-mirror -- lgwan-mirror import --config ${config} && runuser -u lgwan-mirror -- lgwan-mirror status --config ${config}`, options);
  t.is(upgraded.code, 0, upgraded.output);
  t.regex(upgraded.output, /demo-firefox\s+vendor 131\.0\s+published 131\.0/u, 'what the old version published is still there');
  t.like(JSON.parse(await readFile(formatFile, 'utf8')), { format: 1, writtenBy: upgradeVersion });

  const refused = await inRoot(state.lgwanRoot, `dpkg -i lgwan-mirror_${packageVersion}_amd64.deb`, options);
  t.not(refused.code, 0);
  t.regex(refused.output, new RegExp(`refusing to downgrade from ${upgradeVersion.replaceAll('.', '\\.')} to ${packageVersion.replaceAll('.', '\\.')}`, 'u'));
  t.is((await inRoot(state.lgwanRoot, "dpkg-query -W -f '${Version}' lgwan-mirror", options)).output, upgradeVersion);

  const forced = await inRoot(state.lgwanRoot, `dpkg -i lgwan-mirror_${packageVersion}_amd64.deb`, { ...options, env: { LGWAN_MIRROR_ALLOW_DOWNGRADE: '1' } });
  t.is(forced.code, 0, forced.output);
  const started = await inRoot(state.lgwanRoot, `runuser -u lgwan-mirror -- lgwan-mirror import --config ${config}`, options);
  t.is(started.code, 1, started.output);
  t.regex(started.output, new RegExp(`written by lgwan-mirror ${upgradeVersion.replaceAll('.', '\\.')} .*refuses to run on newer state`, 'u'));
  t.like(JSON.parse(await readFile(formatFile, 'utf8')), { writtenBy: upgradeVersion }, 'the refused start changed nothing');
});
