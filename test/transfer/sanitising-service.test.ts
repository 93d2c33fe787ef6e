import { execFile } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { openInternetSide } from '../../src/sides/internet.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';
import { createSanitisingRelay, type SanitisingRelayOptions } from '../helpers/sanitising-relay.ts';

const run = promisify(execFile);

/** Runs `bundle inspect` as an admin would; its exit status is part of the answer. */
async function inspect(configFile: string, target: string): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await run(process.execPath, [cliPath, 'bundle', 'inspect', target, '--config', configFile]);
    return { stdout, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; code: number };
    return { stdout: failed.stdout, code: failed.code };
  }
}

/**
 * The internet side writes into an outbox; a simulated sanitising service carries it into the
 * LGWAN side's inbox by its own rules. `sides` sets both sides' config (the extension must agree).
 */
async function throughService(t: ExecutionContext, sides: { internet?: Record<string, unknown>; lgwan?: Record<string, unknown> }, relayOptions: Partial<SanitisingRelayOptions> = {}) {
  const environment = await createEnvironment({ internet: { spool: 'outbox', ...sides.internet }, lgwan: { spool: 'inbox', ...sides.lgwan } });
  t.teardown(environment.cleanup);
  const internet = await openInternetSide(environment.config.internet, silentLogger, { interactive: false, backoffMs: 10 });
  const { bundle } = await internet.runOnce();
  t.is(bundle.status, 'sent');
  const relay = createSanitisingRelay({ inbox: environment.config.internet.spool, outbox: environment.config.lgwan.spool, hold: path.join(environment.root, 'hold'), ...relayOptions });
  const lgwan = await environment.openLgwan();
  return { environment, internet, lgwan, relay, configFile: path.join(environment.root, 'lgwan-mirror.yaml'), hold: path.join(environment.root, 'hold') };
}

test('with an extension the service holds, the summary passes at once, inspect of the held originals prints it exactly, and the released originals publish', async (t) => {
  const { lgwan, relay, configFile, hold, environment } = await throughService(t, { internet: { transferFileExtension: '.bin' }, lgwan: { transferFileExtension: '.bin' } });
  const moved = await relay.relay();
  t.deepEqual(moved.passed, ['bundle-0000000001.summary.txt'], 'plain text passes unchanged');
  t.deepEqual(moved.held, ['bundle-0000000001.bin'], 'the bundle itself waits for approval');
  t.deepEqual(moved.rebuilt, []);
  t.deepEqual(await lgwan.importOnce(), [], 'a summary alone imports nothing');
  t.is(lgwan.database.data.published, null);

  const summary = await readFile(path.join(environment.config.lgwan.spool, 'bundle-0000000001.summary.txt'), 'utf8');
  t.regex(summary, /^lgwan-mirror 転送バンドル説明書 \/ transfer bundle summary$/mu, 'Japanese first');
  t.regex(summary, /^通番 \/ Sequence: 1$/mu);
  const bundleBytes = await readFile(path.join(hold, 'bundle-0000000001.bin'));
  const { createHash } = await import('node:crypto');
  t.true(summary.includes(`bundle-0000000001.bin  ${bundleBytes.length.toLocaleString('en-US')} bytes  SHA-256 ${createHash('sha256').update(bundleBytes).digest('hex')}`), 'the file that crosses, with its size and SHA-256');
  t.regex(summary, /Mozilla Firefox \(demo\)|demo-firefox/u, 'each product');
  t.regex(summary, /^ {2}131\.0: \d+ ファイル \/ file\(s\)/mu, 'each version');
  t.regex(summary, /OpenPGP 署名（鍵 mozilla-demo） \/ OpenPGP signature by pinned key mozilla-demo/u, 'the vendor verification the internet side performed');

  // The approver looks at the held original before releasing it: the same summary, and the verdict.
  await writeFile(path.join(hold, 'bundle-0000000001.summary.txt'), summary);
  const inspected = await inspect(configFile, hold);
  t.is(inspected.code, 0, inspected.stdout);
  t.true(inspected.stdout.startsWith(summary), 'inspect prints exactly the summary the internet side wrote');
  t.regex(inspected.stdout, /判定 \/ Verdict: 取り込んで公開します \/ would be imported and published/u);
  t.regex(inspected.stdout, /Summary beside it: 同一 \/ identical/u);
  t.is(lgwan.database.data.published, null, 'inspect changed nothing');
  t.deepEqual(await readdir(path.join(environment.config.lgwan.storage, 'blobs', 'sha256')).catch(() => []), [], 'inspect put nothing into the store');

  await relay.approve();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 1);

  // Inspecting again after the import: already imported, still accepted.
  const again = await inspect(configFile, path.join(environment.config.lgwan.spool, 'bundle-0000000001.bin'));
  t.is(again.code, 0);
  t.regex(again.stdout, /already imported \(nothing to do\)/u);
});

test('a bundle the service rebuilt and renamed is not imported, the status page says it changed on the way, and the released original publishes', async (t) => {
  const { lgwan, relay, configFile } = await throughService(t, {});
  const moved = await relay.relay();
  t.deepEqual(moved.rebuilt, ['bundle-0000000001.tar']);
  t.true((await readdir(lgwan.config.spool)).includes('bundle-0000000001(無害化済).tar'));

  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_BUNDLE_INVALID' });
  t.regex((outcome as { reason: string }).reason, /bundle-0000000001\(無害化済\)\.tar: not a name this side imports .*this file was changed on the way .*ask for the original \(原本\)/u);
  const alarm = buildStatus(lgwan.database.data, new Date()).alarms.find((candidate) => candidate.kind === 'changed-in-transit');
  t.like(alarm, { severity: 'critical', subject: 'bundle-0000000001(無害化済).tar' });
  t.is(lgwan.database.data.published, null);

  // The approver, asked for the original, inspects the rebuilt copy first: refused, and why.
  const rebuilt = await inspect(configFile, path.join(lgwan.config.spool, 'bundle-0000000001(無害化済).tar'));
  t.is(rebuilt.code, 1);
  t.regex(rebuilt.stdout, /would be refused/u);
  t.regex(rebuilt.stdout, /changed on the way/u);

  await relay.approve();
  t.deepEqual((await lgwan.importOnce()).map((result) => result.status), ['published'], 'the original, released under its own name, is imported');
  t.is(lgwan.database.data.published?.sequence, 1);
});

test('a bundle rebuilt under its own name (entries of unknown type stripped) is refused in plain words; the original that replaces it publishes', async (t) => {
  const { lgwan, relay, configFile } = await throughService(t, {}, { renameRebuilt: (name) => name });
  await relay.relay();
  const [outcome] = await lgwan.importOnce();
  t.is(outcome?.status, 'refused');
  const reason = (outcome as { reason: string }).reason;
  t.regex(reason, /\/bundle-0000000001\.tar: truncated before the manifest and its signature/u, 'the technical reason stays');
  t.regex(reason, /this file was changed on the way \(rebuilt by a sanitising service, cut short, renamed or tampered with\): it is not imported; ask for the original \(原本\)/u);
  t.true(lgwan.database.data.refusals[0]?.changedInTransit);
  t.true(buildStatus(lgwan.database.data, new Date()).alarms.some((alarm) => alarm.kind === 'changed-in-transit'));

  const inspected = await inspect(configFile, lgwan.config.spool);
  t.is(inspected.code, 1, 'inspect says it would be refused');
  t.true(inspected.stdout.includes('Summary beside it: このファイルの SHA-256 は載っていません'), 'the rebuilt bundle is not the file the summary that passed lists');

  await relay.approve();
  t.deepEqual((await lgwan.importOnce()).map((result) => result.status), ['published']);
});

test('parts with a held extension: a part rebuilt in transit keeps the bundle out and is named, the original part completes it, and inspect reports the parts', async (t) => {
  const extension = { transferFileExtension: '.dat' };
  const { lgwan, relay, configFile, hold, environment } = await throughService(t, { internet: { ...extension, partMaxBytes: 256 * 1024 }, lgwan: extension }, { sanitises: ['.dat'], renameRebuilt: (name) => name });
  const moved = await relay.relay();
  t.true(moved.held.some((name) => /^bundle-0000000001\.part-0001\.dat$/u.test(name)));
  t.true(moved.held.includes('bundle-0000000001.toc.dat') && moved.held.includes('bundle-0000000001.toc.sig.dat'));
  // The service delivered its rebuilt (halved) copies of every .dat file: nothing can be imported.
  const outcomes = await lgwan.importOnce();
  t.true(outcomes.every((result) => result.status === 'refused'), JSON.stringify(outcomes));
  t.true(lgwan.database.data.refusals.some((refusal) => refusal.changedInTransit));
  t.is(lgwan.database.data.published, null);

  // Inspect the held originals: the summary lists each part with its SHA-256.
  const summary = await readFile(path.join(environment.config.lgwan.spool, 'bundle-0000000001.summary.txt'), 'utf8');
  const partLines = summary.split('\n').filter((line) => /^ {2}bundle-0000000001\.part-\d{4}\.dat {2}[\d,]+ bytes {2}SHA-256 [0-9a-f]{64}$/u.test(line));
  t.is(partLines.length, moved.held.filter((name) => name.includes('.part-')).length, 'every part is listed');
  const inspected = await inspect(configFile, path.join(hold, 'bundle-0000000001.toc.dat'));
  t.is(inspected.code, 0, inspected.stdout);
  t.true(inspected.stdout.startsWith(summary));

  // Release the originals one by one; a part the service changed after release is named as changed.
  const part = moved.held.find((name) => name.endsWith('.part-0002.dat'))!;
  await relay.approve(moved.held.filter((name) => name !== part));
  const genuine = await readFile(path.join(hold, part));
  const altered = Buffer.from(genuine);
  altered[10]! ^= 0x01;
  await writeFile(path.join(lgwan.config.spool, part), altered);
  t.deepEqual(await lgwan.importOnce(), []);
  t.like(buildStatus(lgwan.database.data, new Date()).alarms.find((alarm) => alarm.kind === 'changed-in-transit' && alarm.subject === 'bundle-0000000001.toc.dat'), { severity: 'critical' });
  const partly = await inspect(configFile, lgwan.config.spool);
  t.is(partly.code, 1);
  t.regex(partly.stdout, new RegExp(`changed on the way: ${part.replace(/\./gu, '\\.')}`, 'u'));

  await relay.approve([part]);
  t.deepEqual((await lgwan.importOnce()).map((result) => result.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 1);
});

test('sides that disagree on the extension: the LGWAN side names the file and the setting instead of ignoring it', async (t) => {
  const { lgwan, relay } = await throughService(t, { internet: { transferFileExtension: '.bin' } }, { sanitises: [] });
  await relay.relay();
  await relay.approve();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused' });
  t.regex((outcome as { reason: string }).reason, /bundle-0000000001\.bin: not a name this side imports \(expected bundle-0000000001\.tar, .*this side has no transferFileExtension/u);
  t.deepEqual(await lgwan.importOnce(), [], 'recorded once, not on every poll');
});

test('a summary is never imported and a changed summary does not change what is imported', async (t) => {
  const { lgwan, relay, configFile } = await throughService(t, {}, { sanitises: [] });
  await relay.relay();
  await relay.approve();
  const summaryFile = path.join(lgwan.config.spool, 'bundle-0000000001.summary.txt');
  const forged = (await readFile(summaryFile, 'utf8')).replace(/^通番 \/ Sequence: 1$/mu, '通番 / Sequence: 999');
  await writeFile(summaryFile, forged);
  const before = (await stat(summaryFile)).size;
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.is(lgwan.database.data.published?.sequence, 1);
  t.is((await stat(summaryFile)).size, before, 'the LGWAN side never writes into the spool');
  const inspected = await inspect(configFile, lgwan.config.spool);
  t.is(inspected.code, 0);
  t.regex(inspected.stdout, /^通番 \/ Sequence: 1$/mu, 'inspect renders the summary from the signed manifest, not from the file beside it');
  t.regex(inspected.stdout, /Summary beside it: 異なります/u);
});
