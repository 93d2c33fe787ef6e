import test, { type ExecutionContext } from 'ava';
import { signIn, type SignedIn } from './helpers/console.ts';
import { importForgedSecondBundle } from './helpers/stolen-key.ts';
import type { Manifest } from '../src/bundle/manifest.ts';

/**
 * Bundle 1 published; bundle 2 made and held back, then edited and signed with the real
 * transfer key (stolen) under the file name `fileSequence`.
 */
async function craftedSecondBundle(t: ExecutionContext, edit: (manifest: Manifest) => void, fileSequence = 2) {
  const forged = await importForgedSecondBundle(t, edit, fileSequence);
  const { server, url } = await forged.lgwan.listen(0);
  t.teardown(() => void server.close());
  // The pages and the status API are the console's: an operator looks at them.
  return { ...forged, url, operator: await signIn(forged.lgwan.admin, url) };
}

const pages = ['/', '/?lang=en', '/catalog', '/api/v1/status', '/api/v1/products', '/api/v1/latest', '/metrics'];

async function assertPagesAnswer(t: ExecutionContext, operator: SignedIn) {
  for (const page of pages) t.is((await operator.fetch(page)).status, 200, page);
}

// Issue 13, item 3: a published manifest with a version that does not parse under the
// product's scheme made /, /catalog, /api/v1/status, /api/v1/products, /api/v1/latest and
// /metrics answer 500. Refused at import instead, naming the field.

test("a manifest whose newest vendor version does not parse under the product's scheme is refused, naming the field, and every page still answers", async (t) => {
  const { lgwan, operator, before, outcome } = await craftedSecondBundle(t, (manifest) => {
    const firefox = manifest.products.find((product) => product.id === 'demo-firefox')!;
    firefox.latestSeen = { version: '<not a version>', firstSeenAt: new Date().toISOString() };
  });
  t.like(outcome, { status: 'refused', code: 'E_VERSION_INVALID' });
  t.regex(outcome.reason!, /bundle-0000000002\.tar: products\[\d+\]\.latestSeen\.version: "<not a version>" is not a valid mozilla version/u);
  t.deepEqual(lgwan.database.data.published, before);
  await assertPagesAnswer(t, operator);
});

test("a manifest that changes a product's scheme so that its published versions no longer parse is refused", async (t) => {
  const { operator, outcome } = await craftedSecondBundle(t, (manifest) => {
    manifest.products.find((product) => product.id === 'demo-firefox')!.scheme = 'integer';
  });
  t.like(outcome, { status: 'refused', code: 'E_VERSION_INVALID' });
  t.regex(outcome.reason!, /products\[\d+\]\.(latestSeen|releases\[\d+\])\.version: "131\.0(\.1)?" is not a valid integer version|artifacts\[\d+\]\.version/u);
  await assertPagesAnswer(t, operator);
});

test('a manifest with an artifact of a product it does not describe is refused', async (t) => {
  const { outcome } = await craftedSecondBundle(t, (manifest) => {
    manifest.artifacts[0]!.productId = 'no-such-product';
  });
  t.like(outcome, { status: 'refused', code: 'E_BUNDLE_INVALID' });
  t.regex(outcome.reason!, /artifacts\[0\]\.productId: "no-such-product" is not a product of this manifest/u);
});

// Issue 13, item 4: a signed bundle with sequence 2^46 crashed the process (V8 out of memory
// growing the missing-sequence list) and it crash-looped on restart on the same spool file;
// a jump of 3,000,000 made /api/v1/status 48 MB. Gaps are ranges now.

test('a jump of 3,000,000 sequence numbers is recorded as one range and the status stays small', async (t) => {
  const { lgwan, operator, outcome } = await craftedSecondBundle(t, (manifest) => (manifest.sequence = 3_000_002), 3_000_002);
  t.like(outcome, { status: 'published', sequence: 3_000_002 });
  t.deepEqual(lgwan.database.data.transfer.missingSequenceRanges, [{ from: 2, to: 3_000_001 }]);
  const status = await operator.text('/api/v1/status');
  t.true(status.length < 64 * 1024, `/api/v1/status is ${status.length} bytes`);
  t.regex(status, /"sequence-gap"[^}]*"detail":"2–3000001 \(3000000 bundles\)"/u);
  await assertPagesAnswer(t, operator);
});

test('a signed bundle with sequence 2^46 neither crashes the importer nor a restart on the same spool file', async (t) => {
  const { environment, lgwan, operator, outcome } = await craftedSecondBundle(t, (manifest) => (manifest.sequence = 2 ** 46), 9_999_999_999);
  t.like(outcome, { status: 'published', sequence: 2 ** 46 });
  await assertPagesAnswer(t, operator);
  await lgwan.close();
  const again = await environment.openLgwan();
  t.teardown(() => again.close());
  t.deepEqual(await again.importOnce(), [], 'the same spool file is not read again after a restart');
  t.deepEqual(again.database.data.transfer.missingSequenceRanges, [{ from: 2, to: 2 ** 46 - 1 }]);
});
