import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { copyFile, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { bundleFileName } from '../src/transfer/spool-names.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import type { LgwanSide } from '../src/sides/lgwan.ts';
import { manifestOf, readTar, resign, sha256, writeTar } from './helpers/bundle-surgery.ts';
import { createEnvironment, type Environment } from './helpers/environment.ts';
import { signIn } from './helpers/console.ts';

/** Two good bundles: the first imported and published, the second left in the spool for the attacker. */
async function publishedAndPending(t: ExecutionContext) {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  environment.simulator.options.mozilla.latest = '131.0.1';
  const second = await internet.runOnce();
  t.is(second.bundle.status, 'sent');
  // The attacker (or the appliance) holds the genuine bundle 2 back; tests put crafted ones in its place.
  const pendingFile = path.join(environment.root, 'held-back.tar');
  await rename((second.bundle as { file: string }).file, pendingFile);
  return { environment, lgwan, pendingFile, before: structuredClone(lgwan.database.data.published) };
}

async function blobCount(lgwan: LgwanSide): Promise<number> {
  let count = 0;
  const root = path.join(lgwan.config.storage, 'blobs', 'sha256');
  for (const folder of await readdir(root)) count += (await readdir(path.join(root, folder))).length;
  return count;
}

/** Puts a crafted bundle into the spool under the next name and imports it. */
async function importCrafted(environment: Environment, lgwan: LgwanSide, sequenceName: number, write: (file: string) => Promise<void>) {
  const file = path.join(environment.config.lgwan.spool, bundleFileName(sequenceName));
  await write(file);
  const blobsBefore = await blobCount(lgwan);
  const outcomes = await lgwan.importOnce();
  return { outcomes, blobsBefore, file };
}

async function assertUnchanged(t: ExecutionContext, lgwan: LgwanSide, before: unknown, blobsBefore: number) {
  t.deepEqual(lgwan.database.data.published, before, 'the published state is exactly as it was');
  t.is(await blobCount(lgwan), blobsBefore, 'no blob of the refused bundle entered the store');
  const leftovers = await readdir(path.join(lgwan.config.storage, 'blobs', 'tmp')).catch(() => []);
  t.deepEqual(leftovers, [], 'no temporary file left behind');
  const { server, url } = await lgwan.listen(0);
  try {
    const response = await fetch(`${url}/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar`);
    t.is(response.status, 200, 'what was published is still served');
    t.is((await fetch(`${url}/pool/demo-firefox/131.0.1/win64/ja/firefox-131.0.1.complete.mar`)).status, 404, 'nothing of the refused bundle is served');
    const operator = await signIn(lgwan.admin, url);
    const status = await operator.json<{ alarms: { kind: string }[] }>('/api/v1/status');
    // A bundle whose bytes are not the signed ones is shown as changed on the way (a sanitiser, or an attacker).
    const refusal = lgwan.database.data.refusals[0]!;
    t.true(status.alarms.some((alarm) => alarm.kind === (refusal.changedInTransit ? 'changed-in-transit' : 'refused-bundle')), 'the refusal is an alarm on the status page');
  } finally {
    server.close();
  }
}

async function assertQuarantined(t: ExecutionContext, lgwan: LgwanSide, code: string) {
  const refusal = lgwan.database.data.refusals[0]!;
  t.is(refusal.code, code);
  t.truthy(refusal.quarantinedAs);
  const reason = JSON.parse(await readFile(`${refusal.quarantinedAs}.reason.json`, 'utf8')) as { code: string; reason: string };
  t.is(reason.code, code);
  t.true((await stat(refusal.quarantinedAs!)).isFile());
}

test('a bundle with one tampered blob byte is refused and nothing of it is published', async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const victim = entries.find((entry) => entry.name.startsWith('blobs/') && entry.data.length > 1000)!;
  victim.data[victim.data.length - 1]! ^= 0x01;
  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, entries));
  t.is(outcomes.at(-1)?.status, 'refused');
  t.like(outcomes.at(-1), { code: 'E_INTEGRITY' });
  t.regex((outcomes.at(-1) as { reason: string }).reason, new RegExp(`bundle-0000000900\\.tar: blob ${victim.name.slice(6)} hashes to`, 'u'));
  await assertUnchanged(t, lgwan, before, blobsBefore);
  await assertQuarantined(t, lgwan, 'E_INTEGRITY');
});

test('a bundle whose manifest was edited after signing is refused', async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const manifestEntry = entries.find((entry) => entry.name === 'manifest.json')!;
  manifestEntry.data = Buffer.from(manifestEntry.data.toString('utf8').replaceAll('"131.0.1"', '"131.0.9"'));
  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, entries));
  t.like(outcomes.at(-1), { status: 'refused', code: 'E_SIGNATURE' });
  t.regex((outcomes.at(-1) as { reason: string }).reason, /manifest signature does not verify with the pinned transfer key/u);
  await assertUnchanged(t, lgwan, before, blobsBefore);
});

test('a bundle signed by a key other than the pinned transfer key is refused', async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const stranger = generateKeyPairSync('ed25519').privateKey;
  const forged = resign(entries, manifestOf(entries), stranger);
  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, forged));
  t.like(outcomes.at(-1), { status: 'refused', code: 'E_SIGNATURE' });
  await assertUnchanged(t, lgwan, before, blobsBefore);
  await assertQuarantined(t, lgwan, 'E_SIGNATURE');
});

test('a replayed older bundle is refused as a rollback, and a different bundle with an imported sequence as equivocation', async (t) => {
  const { environment, lgwan, pendingFile } = await publishedAndPending(t);
  await copyFile(pendingFile, path.join(environment.config.lgwan.spool, bundleFileName(2)));
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const published = structuredClone(lgwan.database.data.published);
  t.is(published?.sequence, 2);
  const first = path.join(environment.config.lgwan.spool, bundleFileName(1));

  const replay = await importCrafted(environment, lgwan, 901, (file) => copyFile(first, file));
  t.like(replay.outcomes.at(-1), { status: 'refused', code: 'E_ROLLBACK' });
  t.regex((replay.outcomes.at(-1) as { reason: string }).reason, /sequence 1 is older than the imported 2/u);

  // Same sequence 2, other content, validly signed (a confused or compromised sender).
  const entries = await readTar(pendingFile);
  const manifest = manifestOf(entries);
  const privateKey = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const equivocal = resign(entries, { ...manifest, createdAt: new Date(Date.parse(manifest.createdAt) + 1000).toISOString() }, privateKey);
  const second = await importCrafted(environment, lgwan, 902, (file) => writeTar(file, equivocal));
  t.like(second.outcomes.at(-1), { status: 'refused', code: 'E_EQUIVOCATION' });

  // The genuine bundle 2 presented again is a harmless duplicate.
  const duplicate = await importCrafted(environment, lgwan, 903, (file) => copyFile(pendingFile, file));
  t.like(duplicate.outcomes.at(-1), { status: 'duplicate', sequence: 2 });
  t.deepEqual(lgwan.database.data.published, published);
});

test('a stolen transfer key cannot publish a file the vendor did not sign: the LGWAN side re-checks the vendor signature', async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const manifest = manifestOf(entries);
  const installer = manifest.artifacts.find((artifact) => artifact.version === '131.0.1' && artifact.fileName === 'Firefox Setup 131.0.1.exe' && artifact.locale === 'ja')!;
  const sums = manifest.artifacts.find((artifact) => artifact.version === '131.0.1' && artifact.fileName === 'SHA512SUMS')!;
  const signature = manifest.artifacts.find((artifact) => artifact.version === '131.0.1' && artifact.fileName === 'SHA512SUMS.asc')!;

  // The attacker swaps the installer and edits the hash list to match it.
  const evil = Buffer.from('MZ this is not what Mozilla built');
  const evilSha512 = createHash('sha512').update(evil).digest('hex');
  const oldSums = entries.find((entry) => entry.name === `blobs/${sums.sha256}`)!.data.toString('utf8');
  const newSums = Buffer.from(oldSums.replace(/^[0-9a-f]{128}(?=  win64\/ja\/Firefox Setup 131\.0\.1\.exe$)/mu, evilSha512));
  t.not(newSums.toString(), oldSums);
  const renamed = new Map([
    [installer.sha256, { sha256: sha256(evil), data: evil }],
    [sums.sha256, { sha256: sha256(newSums), data: newSums }],
  ]);
  const tamperedEntries = entries.map((entry) => {
    const replacement = renamed.get(entry.name.slice(6));
    return replacement ? { name: `blobs/${replacement.sha256}`, data: replacement.data } : entry;
  });
  const swap = (digest: string) => renamed.get(digest)?.sha256 ?? digest;
  const forgedManifest = {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => {
      const replacement = renamed.get(artifact.sha256);
      const verification = { ...artifact.verification } as Record<string, unknown>;
      for (const field of ['hashList', 'subject', 'signature']) if (typeof verification[field] === 'string') verification[field] = swap(verification[field] as string);
      return { ...artifact, sha256: swap(artifact.sha256), size: replacement?.data.length ?? artifact.size, verification: verification as typeof artifact.verification };
    }),
    blobs: manifest.blobs.map((blob) => ({ sha256: swap(blob.sha256), size: renamed.get(blob.sha256)?.data.length ?? blob.size })),
  };
  t.is(forgedManifest.artifacts.find((artifact) => artifact.fileName === 'SHA512SUMS.asc' && artifact.version === '131.0.1')!.sha256, signature.sha256);
  const stolenKey = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const forged = resign(tamperedEntries, forgedManifest, stolenKey);

  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, forged));
  t.like(outcomes.at(-1), { status: 'refused', code: 'E_SIGNATURE' });
  t.regex((outcomes.at(-1) as { reason: string }).reason, /SHA512SUMS: no good signature by pinned key "mozilla-demo"/u);
  await assertUnchanged(t, lgwan, before, blobsBefore);
});

test('a tampered ClamAV database is refused at import even when the bundle is validly signed', async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const manifest = manifestOf(entries);
  const genuine = manifest.artifacts.find((artifact) => artifact.path === 'clamav/bytecode.cvd')!;
  const cvd = await readFile(new BlobStore(path.join(environment.config.internet.storage, 'blobs')).pathOf(genuine.sha256));
  cvd[cvd.length - 100]! ^= 0xff;
  const digest = sha256(cvd);
  const forgedManifest = {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => (artifact.path === 'clamav/bytecode.cvd' ? { ...artifact, sha256: digest } : artifact)),
    blobs: [...manifest.blobs, { sha256: digest, size: cvd.length }],
  };
  const stolenKey = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const forged = resign([...entries, { name: `blobs/${digest}`, data: cvd }], forgedManifest, stolenKey);
  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, forged));
  t.like(outcomes.at(-1), { status: 'refused', code: 'E_INTEGRITY' });
  t.regex((outcomes.at(-1) as { reason: string }).reason, /clamav\/bytecode\.cvd: body MD5 [0-9a-f]{32} differs from the header's/u);
  await assertUnchanged(t, lgwan, before, blobsBefore);
});

test("a stolen transfer key cannot give a complete MAR a build ID other than the one inside it: the LGWAN side reads the MAR's application.ini again", async (t) => {
  const { environment, lgwan, pendingFile, before } = await publishedAndPending(t);
  const entries = await readTar(pendingFile);
  const manifest = manifestOf(entries);
  const forgedManifest = {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => (artifact.fileName.endsWith('.complete.mar') && artifact.version === '131.0.1' ? { ...artifact, attributes: { buildId: '20990101000000' } } : artifact)),
  };
  const stolenKey = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const forged = resign(entries, forgedManifest, stolenKey);
  const { outcomes, blobsBefore } = await importCrafted(environment, lgwan, 900, (file) => writeTar(file, forged));
  t.like(outcomes.at(-1), { status: 'refused', code: 'E_INTEGRITY' });
  t.regex((outcomes.at(-1) as { reason: string }).reason, /firefox-131\.0\.1\.complete\.mar: field "attributes\.buildId" is "20990101000000", the MAR's application\.ini says \d{14}/u);
  await assertUnchanged(t, lgwan, before, blobsBefore);
});
