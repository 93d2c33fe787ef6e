import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { verifyAuthenticode, type AuthenticodeTrust } from '../../src/verify/authenticode.ts';
import { msiVersion } from '../../src/verify/msi-properties.ts';
import { PinnedKeyring } from '../../src/verify/pinned-keys.ts';
import { buildMsi, codeSigningPki, signWindowsFile, type CodeSigningPki } from '../helpers/windows-signing.ts';

let root: string;
let vendor: CodeSigningPki;
let stranger: CodeSigningPki;
let unsigned: string;
let signed: string;

test.before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-authenticode-'));
  vendor = await codeSigningPki(root, 'Test Vendor LLC', 'vendor');
  stranger = await codeSigningPki(root, 'Test Vendor LLC', 'stranger');
  unsigned = await buildMsi(root, { name: 'Test Browser', productVersion: '12.34.5678', comments: 'Test Browser 123.0.6312.86 Copyright Test Vendor' });
  signed = await signWindowsFile(unsigned, path.join(root, 'signed.msi'), vendor);
});
test.after.always(() => rm(root, { recursive: true, force: true }));

const trust = (overrides: Partial<AuthenticodeTrust> = {}): AuthenticodeTrust => ({ caFile: vendor.caCertificate, signer: 'test-vendor', names: ['Test Vendor LLC'], ...overrides });

test('an MSI signed by the pinned signer under a pinned root verifies, offline', async (t) => {
  const result = await verifyAuthenticode(signed, 'signed.msi', trust());
  t.like(result, { organisation: 'Test Vendor LLC', signatures: 1, timestamped: false });
  t.regex(result.subject, /\/O=Test Vendor LLC\//u);
});

test('one changed byte in the signed MSI is refused with osslsigncode\'s reason', async (t) => {
  const tampered = path.join(root, 'tampered.msi');
  const bytes = await readFile(signed);
  bytes[3000]! ^= 0x01;
  await writeFile(tampered, bytes);
  const error = await t.throwsAsync(verifyAuthenticode(tampered, 'pool/chrome/tampered.msi', trust()));
  t.is((error as { code?: string }).code, 'E_SIGNATURE');
  t.regex(error!.message, /^pool\/chrome\/tampered\.msi: Authenticode signature does not verify: .*(MISMATCH|failed)/u);
});

test('the same organisation name under a root that is not pinned is refused', async (t) => {
  const impostor = await signWindowsFile(unsigned, path.join(root, 'impostor.msi'), stranger);
  const error = await t.throwsAsync(verifyAuthenticode(impostor, 'impostor.msi', trust()));
  t.regex(error!.message, /impostor\.msi: Authenticode signature does not verify: .*unable to get local issuer certificate/u);
});

test('a signer whose organisation is not pinned is refused, naming both; a reviewed alias is accepted', async (t) => {
  const error = await t.throwsAsync(verifyAuthenticode(signed, 'signed.msi', trust({ signer: 'google', names: ['Google LLC'] })));
  t.is(error!.message, 'signed.msi: signed by "Test Vendor LLC", not by "Google LLC" (pinned signer "google")');
  t.is((await verifyAuthenticode(signed, 'signed.msi', trust({ names: ['Test Vendor, Inc.', 'Test Vendor LLC'] }))).organisation, 'Test Vendor LLC');
});

test('an unsigned MSI is refused', async (t) => {
  const error = await t.throwsAsync(verifyAuthenticode(unsigned, 'unsigned.msi', trust()));
  t.regex(error!.message, /unsigned\.msi: Authenticode signature does not verify: .*(no signature|Unable to extract)/iu);
});

test('the version inside an MSI is read from the Property table or the Summary Information, and garbage is not an MSI', async (t) => {
  t.is(await msiVersion(signed, 'signed.msi', { from: 'property', name: 'ProductVersion' }), '12.34.5678');
  t.is(await msiVersion(signed, 'signed.msi', { from: 'summary', name: 'Comments', pattern: '(\\d+\\.\\d+\\.\\d+\\.\\d+)' }), '123.0.6312.86');
  await t.throwsAsync(msiVersion(signed, 'signed.msi', { from: 'summary', name: 'Comments', pattern: 'version (\\d+)' }), { message: /Comments "Test Browser 123\.0\.6312\.86 Copyright Test Vendor" does not match/u });
  await t.throwsAsync(msiVersion(signed, 'signed.msi', { from: 'property', name: 'NoSuchProperty' }), { message: 'signed.msi: the MSI has no Property field NoSuchProperty' });
  const garbage = path.join(root, 'garbage.msi');
  await writeFile(garbage, 'not an MSI at all');
  await t.throwsAsync(msiVersion(garbage, 'garbage.msi', { from: 'property', name: 'ProductVersion' }), { message: /^garbage\.msi: not a readable MSI/u });
});

test('keys/pins.yaml pins every Authenticode root by SHA-256; an unpinned certificate in the file is an error naming it', async (t) => {
  const keys = path.join(root, 'keys');
  await rm(keys, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(keys, { recursive: true }));
  await copyFile(vendor.caCertificate, path.join(keys, 'roots.pem'));
  const pins = (sha256: string[]) => stringify({ authenticode: { roots: { file: 'roots.pem', sha256 }, signers: { 'test-vendor': { names: ['Test Vendor LLC'], reviewed: 'test fixture, made per run' } } } });
  await writeFile(path.join(keys, 'pins.yaml'), pins([vendor.caFingerprint]));
  const keyring = await PinnedKeyring.load([keys]);
  t.deepEqual(keyring.authenticode('test-vendor'), { caFile: path.join(keys, 'roots.pem'), signer: 'test-vendor', names: ['Test Vendor LLC'] });
  t.throws(() => keyring.authenticode('google'), { message: /no pinned Authenticode signer named "google"/u });

  // The stranger's root slipped into the same file.
  await writeFile(path.join(keys, 'roots.pem'), `${await readFile(vendor.caCertificate, 'utf8')}${await readFile(stranger.caCertificate, 'utf8')}`);
  const error = await t.throwsAsync(PinnedKeyring.load([keys]));
  t.regex(error!.message, new RegExp(`roots\\.pem: certificate ".*stranger Test Root.*" \\(SHA-256 ${stranger.caFingerprint}\\) is not pinned in .*pins\\.yaml`, 'u'));
  await writeFile(path.join(keys, 'pins.yaml'), pins([vendor.caFingerprint, stranger.caFingerprint, 'A'.repeat(64)]));
  await t.throwsAsync(PinnedKeyring.load([keys]), { message: /authenticode root A{64} is not in roots\.pem/u });
});
