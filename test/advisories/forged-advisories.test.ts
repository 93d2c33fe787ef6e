import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { sha256, type TarEntry } from '../helpers/bundle-surgery.ts';
import { importForgedSecondBundle } from '../helpers/stolen-key.ts';
import { setupAdvisoryEnvironment } from './advisory-environment.ts';

/*
 * A stolen transfer key is not enough to change advisory data a vendor signed: the LGWAN side
 * checks each CSAF document's .asc with its own pinned key, and the hash file beside it.
 * Bundle 1 is published; bundle 2 is held back, a blob of it replaced, its manifest signed
 * again with the real transfer key; the LGWAN side must refuse it and keep serving bundle 1.
 */

const forgeSecondBundle = (t: ExecutionContext, forge: Parameters<typeof importForgedSecondBundle>[1]) => importForgedSecondBundle(t, forge, 2, () => setupAdvisoryEnvironment());

/** Puts `data` in the bundle as a new blob and points the artifact named `fileName` (and what refers to it) at it. */
function replaceBlob(manifest: Manifest, entries: TarEntry[], fileName: string, data: Buffer): void {
  const artifact = manifest.artifacts.find((candidate) => candidate.productId === 'csaf-test' && candidate.fileName === fileName)!;
  const old = artifact.sha256;
  const digest = sha256(data);
  for (const other of manifest.artifacts) {
    const verification = other.verification as { subject?: string; signature?: string };
    if (verification.subject === old) verification.subject = digest;
    if (verification.signature === old) verification.signature = digest;
  }
  artifact.sha256 = digest;
  artifact.size = data.length;
  manifest.blobs.push({ sha256: digest, size: data.length });
  entries.push({ name: `blobs/${digest}`, data });
}

test('a CSAF document altered under a stolen transfer key (its .sha512 made to match) fails its pinned signature on the LGWAN side: refused, bundle 1 still served', async (t) => {
  const { lgwan, before, outcome } = await forgeSecondBundle(t, async (manifest, entries, readPublished) => {
    const document = manifest.artifacts.find((artifact) => artifact.productId === 'csaf-test' && artifact.fileName === 'bsi-2022-0001.json')!;
    const forged = Buffer.from((await readPublished(document.sha256)).toString('utf8').replace('"1.0.0-rc2"', '"1.0.0-rc9"'));
    replaceBlob(manifest, entries, 'bsi-2022-0001.json', forged);
    replaceBlob(manifest, entries, 'bsi-2022-0001.json.sha512', Buffer.from(`${createHash('sha512').update(forged).digest('hex')}  bsi-2022-0001.json\n`));
  });
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.regex(outcome.reason!, /bsi-2022-0001\.json: no good signature by pinned key "csaf-test"/u);
  t.deepEqual(lgwan.database.data.published, before);
});

test('a .sha512 hash file that no longer matches its signed CSAF document is refused on the LGWAN side, bundle 1 still served', async (t) => {
  const { lgwan, before, outcome } = await forgeSecondBundle(t, async (manifest, entries) => {
    replaceBlob(manifest, entries, 'rhsa-2022_0011.json.sha512', Buffer.from(`${'0'.repeat(128)}  rhsa-2022_0011.json\n`));
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /rhsa-2022_0011\.json\.sha512: states sha512 0{16}…, but .*rhsa-2022_0011\.json has [0-9a-f]{16}…/u);
  t.deepEqual(lgwan.database.data.published, before);
});
