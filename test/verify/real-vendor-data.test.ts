import { readFile } from 'node:fs/promises';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { PinnedKeyring } from '../../src/verify/pinned-keys.ts';
import { verifyClearsigned } from '../../src/verify/openpgp-signature.ts';
import { parsePackages, parseRelease } from '../../src/verify/apt-index.ts';
import { parseCvdHeader, verifyCvdFile } from '../../src/verify/clamav-cvd.ts';
import { parseHashList } from '../../src/verify/hash-list.ts';
import { fixtures, projectRoot } from '../helpers/environment.ts';

const keysDirectory = path.join(projectRoot, 'catalogs', 'keys');
const inReleaseFile = path.join(fixtures, 'debian', 'bookworm-updates', 'InRelease');
const cvdFile = path.join(fixtures, 'clamav', 'bytecode.cvd');

test("Debian's real InRelease verifies with the pinned archive key and lists the real Packages index", async (t) => {
  const keyring = await PinnedKeyring.load([keysDirectory]);
  const signed = await verifyClearsigned(await readFile(inReleaseFile, 'utf8'), keyring.get('debian-archive'), 'InRelease');
  t.is(signed.signedBy, 'B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8', 'Debian Archive Automatic Signing Key (12/bookworm)');
  const release = parseRelease(signed.text, 'InRelease');
  t.deepEqual(release.sha256.get('main/binary-amd64/Packages'), { sha256: '80a1f6ee524222c49f230fc5700d00f946d0a47eb5258180106dd03df126e16a', size: 32757 });
  t.is(release.fields.get('Codename'), 'bookworm-updates');
  const packages = parsePackages(await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'Packages'), 'utf8'), 'Packages');
  t.is(packages.length, 38);
  t.like(packages.find((entry) => entry.package === 'ca-certificates'), { version: '20230311+deb12u1', sha256: '0d5f444f594e48c1e16a41d8fc628a09b24c658916a1274025c2330f2a802bed', size: 155260 });
});

test('an InRelease with one changed byte in the signed text is refused', async (t) => {
  const keyring = await PinnedKeyring.load([keysDirectory]);
  const tampered = (await readFile(inReleaseFile, 'utf8')).replace('Debian 12 - Updates', 'Debian 12 - Updatez');
  const error = await t.throwsAsync(verifyClearsigned(tampered, keyring.get('debian-archive'), 'InRelease'));
  t.is((error as { code?: string }).code, 'E_SIGNATURE');
  t.regex(error!.message, /^InRelease: no good signature by pinned key "debian-archive"/u);
});

test('an InRelease is refused when its signing key is in the keyring file but not pinned', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-keys-'));
  await writeFile(path.join(directory, 'debian.gpg'), await readFile(path.join(keysDirectory, 'debian-archive-keyring.gpg')));
  // Only the bullseye key is pinned: bookworm's signatures must not count.
  await writeFile(path.join(directory, 'pins.yaml'), 'keys:\n  debian-old:\n    file: debian.gpg\n    fingerprints: [1F89983E0081FDE018F3CC9673A4F27B8DD47936]\n');
  const keyring = await PinnedKeyring.load([directory]);
  const error = await t.throwsAsync(verifyClearsigned(await readFile(inReleaseFile, 'utf8'), keyring.get('debian-old'), 'InRelease'));
  t.regex(error!.message, /is not pinned as "debian-old"/u);
});

test('a pin whose fingerprint is not in its key file is an error at load time, naming the file', async (t) => {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-keys-'));
  await writeFile(path.join(directory, 'debian.gpg'), await readFile(path.join(keysDirectory, 'debian-archive-keyring.gpg')));
  await writeFile(path.join(directory, 'pins.yaml'), `keys:\n  debian:\n    file: debian.gpg\n    fingerprints: [${'A'.repeat(40)}]\n`);
  const error = await t.throwsAsync(PinnedKeyring.load([directory]));
  t.regex(error!.message, /pins\.yaml: key "debian": fingerprint A{40} is not a primary key in debian\.gpg/u);
});

test("ClamAV's real bytecode.cvd verifies against ClamAV's built-in key", async (t) => {
  const header = await verifyCvdFile(cvdFile, 'bytecode.cvd');
  t.like(header, { version: 268, signatures: 47, functionalityLevel: 63, builder: 'anvilleg', buildTimeSeconds: 1440082241 });
});

test('a CVD with a forged header signature is refused even when the MD5 matches the body', async (t) => {
  const original = await readFile(cvdFile);
  const header = original.subarray(0, 512).toString('latin1');
  const parsed = parseCvdHeader(original, 'bytecode.cvd');
  const forgedSignature = parsed.digitalSignature.replace(/^./u, (character) => (character === 'a' ? 'b' : 'a'));
  const forged = Buffer.concat([Buffer.from(header.replace(parsed.digitalSignature, forgedSignature), 'latin1'), original.subarray(512)]);
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-cvd-'));
  await writeFile(path.join(directory, 'bytecode.cvd'), forged);
  const error = await t.throwsAsync(verifyCvdFile(path.join(directory, 'bytecode.cvd'), 'bytecode.cvd'));
  t.is((error as { code?: string }).code, 'E_SIGNATURE');
  t.regex(error!.message, /does not match ClamAV's built-in key/u);
});

test('a hash list with a malformed line is refused, not skipped', (t) => {
  const good = `${'a'.repeat(128)}  win64/ja/Firefox Setup 131.0.exe\n`;
  t.is(parseHashList(good, 'SHA512SUMS').get('win64/ja/Firefox Setup 131.0.exe'), 'a'.repeat(128));
  const error = t.throws(() => parseHashList(`${good}garbage\n`, 'SHA512SUMS'));
  t.regex(error!.message, /^SHA512SUMS:2: not a/u);
  const conflict = t.throws(() => parseHashList(`${good}${'b'.repeat(128)}  win64/ja/Firefox Setup 131.0.exe\n`, 'SHA512SUMS'));
  t.regex(conflict!.message, /listed twice with different hashes/u);
});

test("Ubuntu's real noble-security InRelease verifies with the pinned Ubuntu archive key (2018), and not with Debian's", async (t) => {
  const keyring = await PinnedKeyring.load([keysDirectory]);
  const text = await readFile(path.join(fixtures, 'ubuntu', 'noble-security', 'InRelease'), 'utf8');
  const signed = await verifyClearsigned(text, keyring.get('ubuntu-archive'), 'InRelease');
  t.is(signed.signedBy, 'F6ECB3762474EDA9D21B7022871920D1991BC93C', 'Ubuntu Archive Automatic Signing Key (2018)');
  const release = parseRelease(signed.text, 'InRelease');
  t.is(release.fields.get('Codename'), 'noble');
  t.truthy(release.sha256.get('main/binary-amd64/Packages.xz'));
  await t.throwsAsync(verifyClearsigned(text, keyring.get('debian-archive'), 'InRelease'), { message: /no good signature by pinned key "debian-archive"/u });
});
