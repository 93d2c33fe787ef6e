import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { simulatedBuildId } from '../../src/simulator/vendor-simulator.ts';
import { writeMar } from '../../src/simulator/mar-writer.ts';
import { marBuildId, marVersionMatches, readMarIndex, withFileSource, type ByteSource } from '../../src/verify/mozilla-mar.ts';
import { createEnvironment, fixtures } from '../helpers/environment.ts';

const bufferSource = (bytes: Buffer): ByteSource => ({ size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) });

test("a release laid out as on Mozilla's real archive (no <platform>_info.txt in releases/ or SHA512SUMS) is fetched, each complete MAR carrying the build ID read from its own application.ini", async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  const firefox = fetched.find((outcome) => outcome.productId === 'demo-firefox')!;
  t.is(firefox.status, 'fetched', firefox.error);
  t.false(environment.simulator.requests.some((request) => request.path.endsWith('_info.txt')), 'no request for a file Mozilla does not publish there');
  const lgwan = await environment.openLgwan();
  t.true((await lgwan.importOnce()).every((outcome) => outcome.status === 'published'));
  const mars = lgwan.database.data.published!.artifacts.filter((artifact) => artifact.fileName.endsWith('.complete.mar'));
  t.is(mars.length, 4);
  for (const mar of mars) t.is(mar.attributes?.buildId, simulatedBuildId('131.0', mar.platform), mar.path);
});

test('a complete MAR without application.ini or platform.ini is refused with the MAR named, never offered with a made-up build ID', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  environment.simulator.faults.marWithoutBuildId = true;
  const { fetched } = await (await environment.openInternet()).runOnce();
  const firefox = fetched.find((outcome) => outcome.productId === 'demo-firefox')!;
  t.is(firefox.status, 'failed');
  t.regex(firefox.error!, /firefox-131\.0\.complete\.mar: no application\.ini or platform\.ini with a BuildID among its 2 entries; the build ID cannot be established/u);
});

test("the MAR reader lists the entries of Mozilla's own sample MARs (margo's signed test MAR, and a real 2005 Firefox partial MAR): signatures and additional sections skipped through the index offset", async (t) => {
  const signed = await readMarIndex(bufferSource(await readFile(path.join(fixtures, 'mozilla', 'margo-mini-signed.mar'))), 'margo-mini-signed.mar');
  t.deepEqual(signed.map((entry) => [entry.name, entry.offset, entry.length]), [['/foo/bar', 360, 21]]);
  const old = await withFileSource(path.join(fixtures, 'mozilla', 'margo-old-format.mar'), (source) => readMarIndex(source, 'margo-old-format.mar'));
  t.is(old.length, 27);
  t.deepEqual(old.slice(0, 2).map((entry) => entry.name), ['update.manifest', 'xpicleanup.exe.patch']);
  // Its entries are bzip2 (MAR_OLD_FORMAT): named, never guessed at.
  await t.throwsAsync(withFileSource(path.join(fixtures, 'mozilla', 'margo-old-format.mar'), (source) => marBuildId(source, 'old.mar')), { message: /no application\.ini or platform\.ini with a BuildID among its 27 entries/u });
});

test('the build ID is read from an application.ini compressed exactly as make_full_update.sh does (xz --x86 --lzma2 --check=crc64)', async (t) => {
  const ini = Buffer.from('[App]\nVendor=Mozilla\nName=Firefox\nVersion=131.0\nBuildID=20240930123456\n[Gecko]\nMinVersion=131.0\n');
  const compressed = execFileSync('xz', ['--compress', '--x86', '--lzma2', '--format=xz', '--check=crc64', '--stdout'], { input: ini });
  const mar = writeMar([{ name: 'application.ini', bytes: compressed }], { channel: 'firefox-mozilla-release', version: '131.0' });
  t.deepEqual(await marBuildId(bufferSource(mar), 'test.mar'), { buildId: '20240930123456', from: 'application.ini', version: '131.0' });
  // One byte changed in the index's offset field: the entry now overlaps the index, refused.
  const broken = Buffer.from(mar);
  broken.writeUInt32BE(broken.readUInt32BE(4) + 1, 4);
  await t.throwsAsync(marBuildId(bufferSource(broken), 'broken.mar'), { message: /broken\.mar/u });
});

test("the version in a complete MAR's application.ini is read beside its build ID, and compared without the esr and beta display suffixes", async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const mar = lgwan.database.data.published!.artifacts.find((artifact) => artifact.fileName.endsWith('.complete.mar'))!;
  const inside = await withFileSource(lgwan.store.pathOf(mar.sha256), (source) => marBuildId(source, mar.path));
  t.is(inside.version, '131.0');
  t.true(marVersionMatches(inside.version!, mar.version));
  t.false(marVersionMatches(inside.version!, '999.0'), 'a relabelled version does not match what Mozilla wrote');
  t.true(marVersionMatches('128.5.1', '128.5.1esr'));
  t.true(marVersionMatches('134.0', '134.0b3'));
  t.false(marVersionMatches('128.5.1', '128.5.2esr'));
});
