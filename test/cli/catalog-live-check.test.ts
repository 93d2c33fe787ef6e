import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { stringify } from 'yaml';
import { generateVendorKey } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

const run = promisify(execFile);

async function liveCheck(configFile: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [cliPath, 'catalog', 'check', '--live', '--config', configFile, ...extra]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

function rowOf(stdout: string, productId: string): string {
  const row = stdout.split('\n').find((line) => line.startsWith(`${productId} `));
  if (!row) throw new Error(`no row for ${productId} in:\n${stdout}`);
  return row;
}

test('"catalog check --live" prints each source\'s latest version, an artifact URL and what it verified', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const { code, stdout } = await liveCheck(path.join(environment.root, 'lgwan-mirror.yaml'));
  t.is(code, 0, stdout);
  t.regex(stdout.split('\n')[0]!, /^product +latest +artifact URL +verification$/u);
  t.regex(rowOf(stdout, 'demo-firefox'), /^demo-firefox +131\.0 +https:\/\/vendor-simulator\.invalid\/pub\/firefox\/releases\/131\.0\/win64\/ja\/Firefox%20Setup%20131\.0\.exe +SHA512SUMS signed by pinned key "mozilla-demo"; lists all 8 wanted files; all 8 files answer \(\d+ bytes in all\); build IDs in the complete MARs: win64\/ja \d{14} \(application\.ini\), win64\/en-US \d{14} \(application\.ini\), linux-x86_64\/ja \d{14} \(application\.ini\), linux-x86_64\/en-US \d{14} \(application\.ini\)$/u);
  t.regex(rowOf(stdout, 'demo-clamav-bytecode'), /CVD header signed by ClamAV's built-in key.*; all 1 file answer/u);
  t.regex(rowOf(stdout, 'demo-debian-bookworm-updates'), /InRelease signed by pinned key "[a-z-]+", (valid until \S+|no Valid-Until); 2 indices a client asks for, served as 3 files of the sizes InRelease lists \(main\/binary-amd64\/Packages\.xz, main\/binary-amd64\/Packages, main\/i18n\/Translation-en\.xz\); packages ca-certificates 20230311\+deb12u1: all 1 file answer \(155260 bytes in all\) of the sizes Packages lists/u);
  t.regex(stdout, /^3 of 3 sources answered and verified$/mu);
  // Every installer and MAR was asked for, by a one-byte range only; nothing was downloaded whole.
  const payloads = environment.simulator.requests.filter((request) => /\.(exe|mar|tar\.xz|deb)$/u.test(request.path));
  t.true(payloads.every((request) => request.range !== undefined && !/^bytes=0-$/u.test(request.range)), JSON.stringify(payloads));
  t.is(new Set(payloads.filter((request) => request.range === 'bytes=0-0').map((request) => request.path)).size, 9);
});

test('a file the release would download that the vendor does not serve fails the row, naming it, though the first file answers', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.missing.add('/pub/firefox/releases/131.0/update/linux-x86_64/en-US/firefox-131.0.complete.mar');
  const { code, stdout } = await liveCheck(path.join(environment.root, 'lgwan-mirror.yaml'));
  t.is(code, 1);
  t.regex(rowOf(stdout, 'demo-firefox'), /FAILED: .*update\/linux-x86_64\/en-US\/firefox-131\.0\.complete\.mar \(bytes=0-0\): HTTP 404/u);
});

test('a source whose hash list is signed by an unpinned key is reported as failed, and the command exits 1', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.signSumsWith = (await generateVendorKey('Impostor')).privateKey;
  const { code, stdout } = await liveCheck(path.join(environment.root, 'lgwan-mirror.yaml'));
  t.is(code, 1);
  t.regex(rowOf(stdout, 'demo-firefox'), /^demo-firefox +131\.0 +- +FAILED: .*SHA512SUMS: no good signature by pinned key "mozilla-demo"/u);
  t.regex(stdout, /^2 of 3 sources answered and verified$/mu);
  t.notRegex(stdout, /no source answered/u, 'the hint is for when nothing answers, not for one bad source');
});

test('a vendor that accepts connections and never answers fails its row within the timeout instead of hanging', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-live-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const catalogs = path.join(root, 'catalogs');
  await mkdir(catalogs);
  await writeFile(path.join(catalogs, 'clamav.yaml'), stringify({ id: 'clamav-daily', name: 'ClamAV daily', vendor: 'Cisco Talos', scheme: 'integer', trust: 'vendor-signature', source: { type: 'clamav', baseUrl: 'https://silent-vendor.invalid/', database: 'daily' } }));
  await writeFile(path.join(root, 'config.yaml'), stringify({ internet: { storage: 'internet', catalogs, keys: [], originRewrites: { 'https://silent-vendor.invalid': `http://127.0.0.1:${port}` } }, lgwan: { storage: 'lgwan' } }));
  const started = Date.now();
  const { code, stdout } = await liveCheck(path.join(root, 'config.yaml'), '--timeout', '1');
  t.is(code, 1);
  t.regex(rowOf(stdout, 'clamav-daily'), /FAILED: .*(timeout|Timeout|no answer within 3 s)/u);
  t.regex(stdout, /^no source answered: check that this machine reaches the internet/mu);
  t.true(sockets.size > 0, 'the check did reach the silent vendor');
  // A hang would run into AVA's own timeout; the row arrives after a few seconds at most.
  t.log(`failed after ${Date.now() - started} ms`);
});
