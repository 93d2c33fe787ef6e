import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';

const run = promisify(execFile);

/** A release key made per run, as LGWAN_MIRROR_RELEASE_KEY would hold it. */
export function makeReleaseKey(): { privateKey: KeyObject; privatePem: string; publicPem: string; fingerprint: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase(),
  };
}

/** A keys folder whose pins.yaml pins `publicPem` as lgwan-mirror-release (ed25519Keys). */
export async function writeReleaseKeyPins(folder: string, key: { publicPem: string; fingerprint: string }): Promise<string> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'lgwan-mirror-release.pub.pem'), key.publicPem);
  await writeFile(path.join(folder, 'pins.yaml'), stringify({ ed25519Keys: { 'lgwan-mirror-release': { file: 'lgwan-mirror-release.pub.pem', fingerprints: [key.fingerprint] } } }));
  return folder;
}

/** SHA256SUMS over the named files of `folder` (sha256sum's format) and SHA256SUMS.sig by `privateKey`, as scripts/package.sh writes them. */
export async function signRelease(folder: string, names: readonly string[], privateKey: KeyObject | string): Promise<void> {
  const lines = [];
  for (const name of names) lines.push(`${createHash('sha256').update(await readFile(path.join(folder, name))).digest('hex')}  ${name}\n`);
  const sums = Buffer.from(lines.join(''));
  await writeFile(path.join(folder, 'SHA256SUMS'), sums);
  await writeFile(path.join(folder, 'SHA256SUMS.sig'), sign(null, sums, typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey));
}

/**
 * A small release in the layout of `npm run package`: a real .deb made by dpkg-deb (a control
 * file and one data file; `controlVersion` lets a test make one whose inside disagrees with
 * its name), a tarball, SHA256SUMS and its signature.
 */
export async function writeSmallRelease(folder: string, version: string, privateKey: KeyObject, options: { controlVersion?: string; compression?: 'xz' | 'gzip' | 'none' } = {}): Promise<{ deb: string; tarball: string }> {
  await mkdir(folder, { recursive: true });
  const tree = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-small-deb-'));
  try {
    await mkdir(path.join(tree, 'DEBIAN'));
    await mkdir(path.join(tree, 'usr', 'share', 'doc', 'lgwan-mirror'), { recursive: true });
    await writeFile(path.join(tree, 'usr', 'share', 'doc', 'lgwan-mirror', 'README'), `lgwan-mirror ${version}, made by a test\n`);
    await writeFile(path.join(tree, 'DEBIAN', 'control'), `Package: lgwan-mirror\nVersion: ${options.controlVersion ?? version}\nArchitecture: amd64\nMaintainer: test <test@localhost>\nDescription: a test package\n multi-line description\n`);
    await chmod(path.join(tree, 'DEBIAN'), 0o755);
    const deb = `lgwan-mirror_${version}_amd64.deb`;
    await run('dpkg-deb', ['--root-owner-group', `-Z${options.compression ?? 'xz'}`, '--build', tree, path.join(folder, deb)]);
    const tarball = `lgwan-mirror-${version}-linux-x64.tar.gz`;
    await writeFile(path.join(folder, tarball), gzipSync(Buffer.from(`not really a tar: lgwan-mirror ${version}\n`)));
    await signRelease(folder, [deb, tarball], privateKey);
    return { deb, tarball };
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** A catalog folder with only catalogs/lgwan-mirror.yaml, its release folder pointed at `releases`. */
export async function writeReleaseCatalog(folder: string, shippedCatalog: string, releases: string): Promise<string> {
  await mkdir(folder, { recursive: true });
  const shipped = await readFile(shippedCatalog, 'utf8');
  if (!shipped.includes('folder: /var/lib/lgwan-mirror/releases')) throw new Error(`${shippedCatalog} no longer names /var/lib/lgwan-mirror/releases`);
  await writeFile(path.join(folder, 'lgwan-mirror.yaml'), shipped.replace('folder: /var/lib/lgwan-mirror/releases', `folder: ${releases}`).replace('$schema=./catalog.schema.json', '$schema=../catalog.schema.json'));
  return folder;
}
