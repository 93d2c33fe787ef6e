import test, { type ExecutionContext } from 'ava';
import { importForgedSecondBundle } from './helpers/stolen-key.ts';
import type { Artifact, Manifest } from '../src/bundle/manifest.ts';
import { emptyLgwanState } from '../src/importer/lgwan-state.ts';
import { buildStatus } from '../src/repository/status-model.ts';

/*
 * Issue 13, item 2: with the (stolen) transfer key, a manifest relabelling the vendor-signed
 * `Firefox Setup 131.0.exe` as version 999.0 was published, and an agent on 132.0 was told to
 * "update" to it. Product, version, platform and locale must agree with what the vendor signed.
 */

async function stolenKeyAttack(t: ExecutionContext, relabel: (manifest: Manifest) => void) {
  const { outcome, lgwan, before } = await importForgedSecondBundle(t, relabel);
  t.deepEqual(lgwan.database.data.published, before, 'nothing of the relabelled bundle is published');
  return { outcome, lgwan };
}

function relabelVersion(artifact: Artifact, version: string): void {
  artifact.path = artifact.path.replace(`/${artifact.version}/`, `/${version}/`);
  artifact.version = version;
}

const firefox131 = (artifact: Artifact) => artifact.productId === 'demo-firefox' && artifact.version === '131.0';

test('a stolen transfer key cannot relabel a whole vendor-signed Firefox 131.0 release as 999.0', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    for (const artifact of manifest.artifacts.filter(firefox131)) relabelVersion(artifact, '999.0');
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /pool\/demo-firefox\/999\.0\/\S+.*field "version" is "999\.0"/u);
});

test('a stolen transfer key cannot relabel one installer of Firefox 131.0 as 999.0', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    const installer = manifest.artifacts.find((artifact) => firefox131(artifact) && artifact.fileName === 'Firefox Setup 131.0.exe')!;
    relabelVersion(installer, '999.0');
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /pool\/demo-firefox\/999\.0\/win64\/\w+(-\w+)?\/Firefox Setup 131\.0\.exe: field "version"/u);
});

test('a stolen transfer key cannot relabel the hash list and an installer together under a file name of the new version', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    for (const artifact of manifest.artifacts.filter(firefox131)) {
      relabelVersion(artifact, '999.0');
      if (artifact.fileName === 'Firefox Setup 131.0.exe') {
        artifact.fileName = 'Firefox Setup 999.0.exe';
        artifact.path = artifact.path.replace('Firefox Setup 131.0.exe', 'Firefox Setup 999.0.exe');
      }
    }
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
});

test('a stolen transfer key cannot offer a Windows installer as the Linux build', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    const installer = manifest.artifacts.find((artifact) => firefox131(artifact) && artifact.fileName === 'Firefox Setup 131.0.exe' && artifact.locale === 'ja')!;
    // Drop the genuine Linux build of that locale and put the Windows file in its place.
    manifest.artifacts = manifest.artifacts.filter((artifact) => !(firefox131(artifact) && artifact.platform === 'linux-x86_64' && artifact.locale === 'ja' && artifact.role === 'payload' && !artifact.fileName.endsWith('.mar')));
    installer.platform = 'linux-x86_64';
    installer.path = installer.path.replace('/win64/', '/linux-x86_64/');
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /Firefox Setup 131\.0\.exe: field "platform" is "linux-x86_64"/u);
});

test('a stolen transfer key cannot change the build ID update.xml offers for a complete MAR', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    const mar = manifest.artifacts.find((artifact) => firefox131(artifact) && artifact.fileName.endsWith('.complete.mar'))!;
    mar.attributes = { ...mar.attributes, buildId: '29991231235959' };
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /complete\.mar: field "attributes\.buildId" is "29991231235959"/u);
});

test("a stolen transfer key cannot relabel an apt suite snapshot: its version is the signed InRelease's Date", async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    for (const artifact of manifest.artifacts.filter((candidate) => candidate.productId === 'demo-debian-bookworm-updates')) artifact.version = '29990101.000000';
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /InRelease: field "version" is "29990101\.000000", the signed Date names snapshot \d{8}\.\d{6}/u);
});

test('a stolen transfer key cannot relabel a Debian package as another architecture', async (t) => {
  const { outcome } = await stolenKeyAttack(t, (manifest) => {
    const deb = manifest.artifacts.find((candidate) => candidate.productId === 'demo-debian-bookworm-updates' && candidate.role === 'payload')!;
    deb.platform = 'amd64';
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /\.deb: field "platform" is "amd64", the signed Packages entry says Architecture all/u);
});

test('a product whose vendor signs nothing that names the version is marked so on the status page', (t) => {
  const artifact = (productId: string, verification: Artifact['verification']): Artifact => ({
    productId, version: '1.0', platform: 'win64', locale: 'any', fileName: 'setup.exe', path: `pool/${productId}/1.0/win64/any/setup.exe`, size: 1, sha256: '0'.repeat(64), role: 'payload', verification,
  });
  const product = (id: string) => ({ id, name: id, vendor: 'v', scheme: 'dotted' as const, trust: 'vendor-signature' as const, retention: 1, latestSeen: null, sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 } });
  const state = {
    ...structuredClone(emptyLgwanState),
    published: {
      sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: new Date().toISOString(), publishedAt: new Date().toISOString(),
      products: [product('signed-msi'), product('exe-only'), product('hash-over-tls')],
      artifacts: [
        artifact('signed-msi', { method: 'authenticode', signer: 'vendor', msiVersion: { from: 'property', name: 'ProductVersion' } }),
        artifact('exe-only', { method: 'authenticode', signer: 'vendor' }),
        artifact('hash-over-tls', { method: 'vendor-hash-over-tls', statement: 'https://vendor.example/api' }),
      ],
    },
  };
  const rows = buildStatus(state, new Date()).products;
  t.deepEqual(rows.map((row) => [row.id, row.versionBinding]), [['signed-msi', 'bound'], ['exe-only', 'unbound'], ['hash-over-tls', 'unbound']]);
});
