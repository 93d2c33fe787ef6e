import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { productVersion } from '../../src/core/product-version.ts';
import { currentStorageFormat, prepareStorageFormat, readStorageFormat } from '../../src/store/storage-format.ts';
import { createEnvironment } from '../helpers/environment.ts';

test('a data root from before the format record is migrated at start and keeps its published state', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  internet.close();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const published = lgwan.database.data.published?.artifacts.length ?? 0;
  await lgwan.close();
  // What lgwan-mirror 0.1.0 left: state.json and blobs, no storage-format.json.
  await rm(path.join(environment.config.lgwan.storage, 'storage-format.json'));
  await rm(path.join(environment.config.lgwan.storage, 'lgwan-mirror.lock'), { force: true });
  const reopened = await environment.openLgwan();
  t.teardown(() => reopened.close());
  t.deepEqual(await readStorageFormat(environment.config.lgwan.storage), { format: currentStorageFormat, writtenBy: productVersion });
  t.true(published > 0);
  t.is(reopened.database.data.published?.artifacts.length, published);
});

test('a data root last written by a newer lgwan-mirror is refused at start and left as it was', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const storage = environment.config.lgwan.storage;
  await mkdir(storage, { recursive: true });
  const newer = `${JSON.stringify({ format: currentStorageFormat, writtenBy: '99.0.0' })}\n`;
  await writeFile(path.join(storage, 'storage-format.json'), newer);
  const error = await t.throwsAsync(environment.openLgwan());
  t.is((error as { code?: string }).code, 'E_STORAGE_NEWER');
  t.regex(error.message, /written by lgwan-mirror 99\.0\.0 .* refuses to run on newer state/u);
  t.is(await readFile(path.join(storage, 'storage-format.json'), 'utf8'), newer);
});

test('a data root in a newer storage format is refused even when the version looks older', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-format-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  await writeFile(path.join(storage, 'storage-format.json'), JSON.stringify({ format: currentStorageFormat + 1, writtenBy: '0.0.1' }));
  const error = await t.throwsAsync(prepareStorageFormat(storage, { version: '0.1.0' }));
  t.is((error as { code?: string }).code, 'E_STORAGE_NEWER');
});

test('an upgrade stamps the data root with the newer version, which the older one then refuses', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-format-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  t.deepEqual((await prepareStorageFormat(storage, { version: '0.1.0' })).after, { format: currentStorageFormat, writtenBy: '0.1.0' });
  const upgraded = await prepareStorageFormat(storage, { version: '0.2.0' });
  t.deepEqual(upgraded.before, { format: currentStorageFormat, writtenBy: '0.1.0' });
  t.deepEqual(await readStorageFormat(storage), { format: currentStorageFormat, writtenBy: '0.2.0' });
  await t.throwsAsync(prepareStorageFormat(storage, { version: '0.1.0' }), { code: 'E_STORAGE_NEWER' } as never);
});
