import test, { type ExecutionContext } from 'ava';
import { signIn } from '../helpers/console.ts';
import { importForgedSecondBundle } from '../helpers/stolen-key.ts';
import type { Manifest } from '../../src/bundle/manifest.ts';

/*
 * Threat: a stolen transfer key (docs/transfer.md, "Threat model"). The attacker signs whatever
 * manifest they like and puts it into the spool. What must hold: nothing the vendor did not
 * sign is published, nothing is published under a label the vendor's signature contradicts,
 * the sequence cannot be rolled back or forked, and the LGWAN side neither crashes nor stops
 * answering. What does not hold (and cannot, with this key alone): the attacker can withhold
 * bundles, announce a next key, or burn sequence numbers with a jump.
 */

async function attack(t: ExecutionContext, edit: (manifest: Manifest) => void, fileSequence = 2) {
  const { outcome, lgwan, before } = await importForgedSecondBundle(t, edit, fileSequence);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const operator = await signIn(lgwan.admin, url);
  for (const page of ['/', '/catalog', '/api/v1/status', '/api/v1/latest', '/metrics']) t.is((await operator.fetch(page)).status, 200, `${page} still answers`);
  return { outcome, lgwan, before };
}

test('stolen transfer key: a file the vendor did not sign is not published', async (t) => {
  const { outcome, lgwan, before } = await attack(t, (manifest) => {
    const installer = manifest.artifacts.find((artifact) => artifact.fileName === 'Firefox Setup 131.0.exe')!;
    const other = manifest.artifacts.find((artifact) => artifact.productId === 'demo-clamav-bytecode' && artifact.role === 'payload')!;
    // The installer's record now names other bytes (a blob the LGWAN side already holds).
    installer.sha256 = other.sha256;
    installer.size = other.size;
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.deepEqual(lgwan.database.data.published, before);
});

test('stolen transfer key: a vendor-signed file is not published under another version or platform', async (t) => {
  const { outcome, lgwan, before } = await attack(t, (manifest) => {
    for (const artifact of manifest.artifacts.filter((candidate) => candidate.productId === 'demo-firefox' && candidate.version === '131.0')) {
      artifact.path = artifact.path.replace('/131.0/', '/999.0/');
      artifact.version = '999.0';
    }
  });
  t.like(outcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(outcome.reason!, /field "version"/u);
  t.deepEqual(lgwan.database.data.published, before);
});

test('stolen transfer key: the imported sequence cannot be forked', async (t) => {
  const { outcome, lgwan, before } = await attack(t, (manifest) => {
    manifest.sequence = 1;
  }, 1_000);
  t.like(outcome, { status: 'refused', code: 'E_EQUIVOCATION' });
  t.deepEqual(lgwan.database.data.published, before);
});

test('stolen transfer key: a version that does not parse is refused and the pages keep answering', async (t) => {
  const { outcome, lgwan, before } = await attack(t, (manifest) => {
    manifest.products[0]!.latestSeen = { version: 'not-a-version', firstSeenAt: new Date().toISOString() };
  });
  t.like(outcome, { status: 'refused', code: 'E_VERSION_INVALID' });
  t.deepEqual(lgwan.database.data.published, before);
});

test('stolen transfer key: a jump to sequence 2^46 neither crashes the LGWAN side nor grows its state (the numbers are burnt: not guaranteed against)', async (t) => {
  const { outcome, lgwan } = await attack(t, (manifest) => (manifest.sequence = 2 ** 46), 9_999_999_998);
  t.like(outcome, { status: 'published' });
  t.deepEqual(lgwan.database.data.transfer.missingSequenceRanges, [{ from: 2, to: 2 ** 46 - 1 }]);
  t.true(JSON.stringify(lgwan.database.data.transfer).length < 10_000);
});
