import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import * as openpgp from 'openpgp';
import type { Artifact } from '../../src/bundle/manifest.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { generateVendorKey } from '../../src/simulator/vendor-simulator.ts';
import { parseRelease, snapshotVersion } from '../../src/verify/apt-index.ts';
import { PinnedKeyring } from '../../src/verify/pinned-keys.ts';
import { verifyArtifacts } from '../../src/verify/verify-artifacts.ts';

const day = 86_400_000;

/** A suite like bookworm-security (Valid-Until = Date + 7 days), signed by a per-run key. */
async function signedRelease(validUntil: Date) {
  const key = await generateVendorKey('Test Archive Signing Key');
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-apt-'));
  await writeFile(path.join(directory, 'archive.asc'), key.publicKey);
  await writeFile(path.join(directory, 'pins.yaml'), `keys:\n  test-archive:\n    file: archive.asc\n    fingerprints: [${key.fingerprint}]\n`);
  const text = `Origin: Test\nSuite: test-security\nDate: ${new Date(validUntil.getTime() - 7 * day).toUTCString()}\nValid-Until: ${validUntil.toUTCString()}\nSHA256:\n ${'0'.repeat(64)} 0 main/binary-amd64/Packages\n`;
  const signed = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: await openpgp.readPrivateKey({ armoredKey: key.privateKey }) });
  const bytes = Buffer.from(signed);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const artifact: Artifact = {
    productId: 'test-suite', version: snapshotVersion(parseRelease(text, 'InRelease'), 'InRelease'), platform: 'any', locale: 'any', fileName: 'InRelease', path: 'apt/test/dists/test-security/InRelease',
    size: bytes.length, sha256, role: 'material', verification: { method: 'apt-inrelease', key: 'test-archive' },
  };
  return { artifact, bytes, keyring: await PinnedKeyring.load([directory]) };
}

function stateWith(artifact: Artifact, validUntil: string): LgwanState {
  return {
    ...structuredClone(emptyLgwanState),
    published: {
      sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date().toISOString(), publishedAt: new Date().toISOString(),
      products: [{ id: 'test-suite', name: 'Test suite', vendor: 'Test', scheme: 'dotted', trust: 'vendor-signature', retention: 1, latestSeen: null, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } }],
      artifacts: [artifact],
    },
    releaseValidUntil: { [artifact.sha256]: validUntil },
  };
}

test("verification reports a signed InRelease's Valid-Until, and the status page warns before it passes", async (t) => {
  const validUntil = new Date(Math.floor((Date.now() + 2 * day) / 1000) * 1000);
  const { artifact, bytes, keyring } = await signedRelease(validUntil);
  const report = await verifyArtifacts(
    [artifact],
    { digests: async () => ({ size: bytes.length, sha256: artifact.sha256, sha512: '' }), read: async () => bytes, file: async () => '' },
    keyring,
  );
  t.is(report.releaseValidUntil.get(artifact.sha256)?.toISOString(), validUntil.toISOString());

  const soon = buildStatus(stateWith(artifact, validUntil.toISOString()), new Date());
  t.like(soon.alarms.find((alarm) => alarm.kind === 'apt-valid-until'), { severity: 'warning', subject: 'apt/test/dists/test-security/InRelease' });
  const later = buildStatus(stateWith(artifact, new Date(Date.now() + 6 * day).toISOString()), new Date());
  t.is(later.alarms.find((alarm) => alarm.kind === 'apt-valid-until'), undefined, 'no alarm with days to spare');
  const expired = buildStatus(stateWith(artifact, new Date(Date.now() - day).toISOString()), new Date());
  t.like(expired.alarms.find((alarm) => alarm.kind === 'apt-valid-until'), { severity: 'critical' });
});
