import { open } from 'node:fs/promises';
import test from 'ava';
import { createEnvironment } from './helpers/environment.ts';

/**
 * A blob the LGWAN side already stores is not carried again; its digests come from what was
 * recorded when it arrived. SHA-512 is recorded only for blobs that needed it then, so a blob
 * first carried for a product without a SHA-512 hash list, and later named by Mozilla's
 * SHA512SUMS, has none on record.
 */
async function publishedWithoutSha512() {
  const environment = await createEnvironment();
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  const [first] = await lgwan.importOnce();
  const installer = lgwan.database.data.published!.artifacts.find((artifact) => artifact.version === '131.0' && artifact.fileName === 'Firefox Setup 131.0.exe' && artifact.locale === 'ja')!;
  const recorded = lgwan.database.data.digests[installer.sha256]!;
  const withSha512 = recorded.sha512;
  delete recorded.sha512;
  await lgwan.database.write();
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  return { environment, lgwan, installer, first, withSha512 };
}

test('a stored blob named by a SHA-512 hash list but recorded without SHA-512 is hashed again from the store, not refused', async (t) => {
  const { environment, lgwan, installer, first, withSha512 } = await publishedWithoutSha512();
  t.teardown(environment.cleanup);
  t.like(first, { status: 'published' });
  t.regex(withSha512 ?? '', /^[0-9a-f]{128}$/u);
  const [second] = await lgwan.importOnce();
  t.like(second, { status: 'published', sequence: 2 });
  t.true(lgwan.database.data.published!.artifacts.some((artifact) => artifact.sha256 === installer.sha256), 'the older release is still published');
  t.is(lgwan.database.data.digests[installer.sha256]!.sha512, withSha512, 'the SHA-512 read again is recorded');
});

test('a stored blob hashed again that no longer matches its name is refused, naming the file, and the publication stays', async (t) => {
  const { environment, lgwan, installer } = await publishedWithoutSha512();
  t.teardown(environment.cleanup);
  const before = structuredClone(lgwan.database.data.published);
  // Same size, one byte changed: a disk fault or a hand that edited the store.
  const handle = await open(lgwan.store.pathOf(installer.sha256), 'r+');
  await handle.write(Buffer.from([0x58]), 0, 1, 0);
  await handle.close();
  const [second] = await lgwan.importOnce();
  t.like(second, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex((second as { reason: string }).reason, /Firefox Setup 131\.0\.exe: the stored blob [0-9a-f]{64} now has sha256 [0-9a-f]{64}/u);
  t.deepEqual(lgwan.database.data.published, before);
});
