import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { spkiOf, transferKeyId } from '../../src/bundle/transfer-key.ts';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { manifestOf, readTar, resign, writeTar } from '../helpers/bundle-surgery.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

const run = promisify(execFile);

test('a key rotation announced under the current key is accepted and recorded; afterwards the old key is refused', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const internet = await environment.openInternet();
  const lgwan = await environment.openLgwan();
  await internet.runOnce();
  await lgwan.importOnce();
  const oldKey = createPrivateKey(await readFile(environment.config.internet.transferKey));

  // The admin's flow: rotate (announce), watch the LGWAN status, promote.
  const rotated = await run(process.execPath, [cliPath, 'keys', 'rotate', '--config', configFile]);
  const nextKeyId = /next key id: ([0-9a-f]{64})/u.exec(rotated.stdout)![1]!;
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.transferKeys.next?.keyId, nextKeyId, 'the announcement is recorded');
  t.is(lgwan.database.data.transferKeys.current?.generation, 1);

  await run(process.execPath, [cliPath, 'keys', 'promote', '--config', configFile]);
  const promoted = await internet.send({ force: true });
  t.is(promoted.status, 'sent');
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published'], 'the first bundle signed by the new key');
  const keys = lgwan.database.data.transferKeys;
  t.like(keys.current, { keyId: nextKeyId, generation: 2 });
  t.is(keys.next, null);
  t.deepEqual(keys.history.map((entry) => [entry.keyId, entry.generation]), [[transferKeyId(createPublicKey(oldKey)), 1]]);

  // A stolen old key can no longer sign anything the LGWAN side accepts.
  const latest = await readTar((promoted as { file: string }).file);
  const manifest = manifestOf(latest);
  const lastManifest = latest.find((entry) => entry.name === 'manifest.json')!.data;
  const forged = resign(latest, { ...manifest, sequence: 4, previousManifestSha256: createHash('sha256').update(lastManifest).digest('hex'), blobs: [] }, oldKey);
  await writeTar(path.join(environment.config.lgwan.spool, bundleFileName(4)), forged.filter((entry) => !entry.name.startsWith('blobs/')));
  const [refused] = await lgwan.importOnce();
  t.like(refused, { status: 'refused', code: 'E_SIGNATURE' });
  t.is(lgwan.database.data.published?.sequence, 3);
});

test('a rotation signed only by the new key is refused', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const { bundle } = await (await environment.openInternet()).runOnce();
  const entries = await readTar((bundle as { file: string }).file);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const announcing = resign(entries, { ...manifestOf(entries), nextTransferKey: { keyId: transferKeyId(publicKey), spki: spkiOf(publicKey) } }, privateKey);
  await writeTar((bundle as { file: string }).file, announcing);
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.deepEqual(lgwan.database.data.transferKeys, { current: null, next: null, history: [] }, 'no key was recorded');
  t.deepEqual((await readdir(path.join(environment.config.lgwan.storage, 'quarantine'))).length, 2, 'the bundle and its reason are in quarantine');
});
