import { createPrivateKey } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { manifestOf, readTar, resign, writeTar, type TarEntry } from '../helpers/bundle-surgery.ts';
import { createEnvironment } from '../helpers/environment.ts';

/** A genuine first bundle, held back, for the test to turn into hostile variants signed with the (stolen) transfer key. */
async function genuine(t: ExecutionContext) {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const { bundle } = await (await environment.openInternet()).runOnce();
  const file = (bundle as { file: string }).file;
  const entries = await readTar(file);
  await rm(file);
  const key = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const lgwan = await environment.openLgwan();
  const importVariant = async (variant: TarEntry[]) => {
    await writeTar(path.join(environment.config.lgwan.spool, bundleFileName(1)), variant);
    const [outcome] = await lgwan.importOnce();
    delete lgwan.database.data.processed[bundleFileName(1)];
    return outcome as { status: string; code?: string; reason?: string };
  };
  return { entries, key, lgwan, importVariant };
}

test('artifact paths and file names with "..", absolute paths, NUL, drive letters or control characters are refused before any file is written', async (t) => {
  const { entries, key, lgwan, importVariant } = await genuine(t);
  const manifest = manifestOf(entries);
  for (const hostile of ['../../etc/cron.d/x', '/etc/passwd', 'pool/a\u0000b', 'C:/Windows/evil.exe', 'pool/a\u001bb', 'pool/..\\..\\x']) {
    const variant = resign(entries, { ...manifest, artifacts: manifest.artifacts.map((artifact, index) => (index === 0 ? { ...artifact, path: hostile } : artifact)) }, key);
    const outcome = await importVariant(variant);
    t.like(outcome, { status: 'refused', code: 'E_BUNDLE_INVALID' }, JSON.stringify(hostile));
    t.regex(outcome.reason ?? '', /field "artifacts\.0\.path"/u);
  }
  for (const hostile of ['..', 'a/b', 'C:evil', 'x\u0007']) {
    const variant = resign(entries, { ...manifest, artifacts: manifest.artifacts.map((artifact, index) => (index === 0 ? { ...artifact, fileName: hostile } : artifact)) }, key);
    t.like(await importVariant(variant), { status: 'refused', code: 'E_BUNDLE_INVALID' }, JSON.stringify(hostile));
  }
  // A tar entry that is not blobs/<sha256> is refused by name, before its bytes are read.
  const extra = await importVariant([...resign(entries, manifest, key), { name: '../../outside', data: Buffer.from('x') }]);
  t.like(extra, { status: 'refused', code: 'E_BUNDLE_INVALID' });
  t.regex(extra.reason ?? '', /entry "\.\.\/\.\.\/outside" is not a blob listed in the manifest/u);
  t.is(lgwan.database.data.published, null);
});

test('a manifest longer than its limit, and blobs longer or shorter than signed, are refused', async (t) => {
  const { entries, key, importVariant } = await genuine(t);
  const manifest = manifestOf(entries);
  const huge = resign(entries, { ...manifest, products: manifest.products.map((product) => ({ ...product, name: 'x'.repeat(17 * 1024 * 1024) })) }, key);
  const tooLong = await importVariant(huge);
  t.like(tooLong, { status: 'refused', code: 'E_SIZE_LIMIT' });
  t.regex(tooLong.reason ?? '', /manifest\.json is \d+ bytes, more than its limit of 16777216/u);

  const blob = manifest.blobs[1]!;
  const longer = entries.map((entry) => (entry.name === `blobs/${blob.sha256}` ? { ...entry, data: Buffer.concat([entry.data, Buffer.from('extra')]) } : entry));
  const longerOutcome = await importVariant(longer);
  t.like(longerOutcome, { status: 'refused', code: 'E_INTEGRITY' });
  t.regex(longerOutcome.reason ?? '', new RegExp(`blob ${blob.sha256} is ${blob.size + 5} bytes, the manifest says ${blob.size}`, 'u'));
  const shorter = entries.map((entry) => (entry.name === `blobs/${blob.sha256}` ? { ...entry, data: entry.data.subarray(0, entry.data.length - 1) } : entry));
  t.like(await importVariant(shorter), { status: 'refused', code: 'E_INTEGRITY' });
  const missing = entries.filter((entry) => entry.name !== `blobs/${blob.sha256}`);
  const truncated = await importVariant(missing);
  t.like(truncated, { status: 'refused', code: 'E_BUNDLE_INVALID' });
  t.regex(truncated.reason ?? '', /truncated: 1 listed blob\(s\) missing/u);
});
