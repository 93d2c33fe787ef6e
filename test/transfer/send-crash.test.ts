import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { generateTransferKeyPair } from '../../src/bundle/transfer-key.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { manifestOf, readTar } from '../helpers/bundle-surgery.ts';
import { readInternetState } from '../../src/fetcher/internet-state.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

/*
 * Issue 13, item 1: kill -9 of the internet side right after bundle-0000000002.tar appeared in
 * the spool, before its state recorded sequence 2, made the retry write a *different* bundle 2.
 * The LGWAN side, which had imported the first, refused it as equivocation, refused bundle 3
 * ("does not chain to the imported manifest") and accepted only bundle 4 across a gap.
 */

test('a send that dies after bundle 2 reached the spool but before its state recorded it sends the identical bundle 2 again, and the LGWAN side goes on without a refusal', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await lgwan.importOnce();
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.fetchAll();
  // The process dies at the first state write after bundle 2 appeared in the spool.
  const spool = environment.config.internet.spool;
  const write = internet.database.write.bind(internet.database);
  internet.database.write = async () => {
    if (await access(path.join(spool, 'bundle-0000000002.tar')).then(() => true, () => false)) throw new Error('killed (simulated kill -9)');
    return write();
  };
  await t.throwsAsync(internet.send());
  internet.close();
  const first = await readFile(path.join(spool, 'bundle-0000000002.tar'));
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published'], 'the appliance carried the first bundle 2 across');

  const restarted = await environment.openInternet();
  const retry = await restarted.runOnce();
  t.like(retry.bundle, { status: 'sent', sequence: 2 });
  t.true((await readFile(path.join(spool, 'bundle-0000000002.tar'))).equals(first), 'the same sequence carries the same bytes');
  const again = await lgwan.importOnce();
  t.deepEqual(again.map((outcome) => outcome.status), ['duplicate']);

  environment.simulator.options.mozilla.latest = '131.0';
  await restarted.send({ force: true });
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published'], 'bundle 3 chains to the imported bundle 2');
  t.is(lgwan.database.data.published?.sequence, 3);
  t.deepEqual(lgwan.database.data.refusals, []);
  t.deepEqual(lgwan.database.data.transfer.missingSequenceRanges, []);
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.severity === 'critical'), []);
  restarted.close();
});

test('a reserved bundle that can no longer be sent as it was (the signing key was promoted meanwhile) keeps its number: the next bundle follows it', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.fetchAll();
  const spool = environment.config.internet.spool;
  const write = internet.database.write.bind(internet.database);
  internet.database.write = async () => {
    if (await access(path.join(spool, 'bundle-0000000001.tar')).then(() => true, () => false)) throw new Error('killed (simulated kill -9)');
    return write();
  };
  await t.throwsAsync(internet.send());
  internet.close();
  const reserved = (await readInternetState(path.join(environment.config.internet.storage, 'state.json'))).transfer.reserved!;
  t.is(reserved.sequence, 1);
  // "keys rotate" and "keys promote" ran before the next send.
  await generateTransferKeyPair(environment.config.internet.transferKey, path.join(environment.root, 'promoted.pub.pem'));
  const restarted = await environment.openInternet();
  t.teardown(() => restarted.close());
  const outcome = await restarted.send();
  t.like(outcome, { status: 'sent', sequence: 2 }, 'sequence 1 is not reused for a bundle signed by another key');
  const entries = await readTar((outcome as { file: string }).file);
  t.is(manifestOf(entries).previousManifestSha256, reserved.manifestSha256, 'it chains to the reserved bundle, which may have left');
});

/** Runs `send --force`; kills it with SIGKILL after `kill` ms, or the moment a new bundle or TOC appears in `kill.spool`. */
function runSend(configFile: string, kill?: number | { spool: string }): Promise<{ killed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cliPath, 'send', '--force', '--config', configFile], { stdio: 'ignore', env: { ...process.env, LGWAN_MIRROR_LOG_LEVEL: 'silent' } });
    const timer = typeof kill === 'number' ? setTimeout(() => child.kill('SIGKILL'), kill) : undefined;
    // The moment of issue 13: right after the bundle appears, before the state records it.
    const watcher = typeof kill === 'object' ? watch(kill.spool, (_event, name) => {
      if (name && /^bundle-\d{10}\.(tar|toc)$/u.test(name)) child.kill('SIGKILL');
    }) : undefined;
    child.once('exit', (_code, signal) => {
      if (timer) clearTimeout(timer);
      watcher?.close();
      resolve({ killed: signal === 'SIGKILL', ms: Date.now() - started });
    });
  });
}

const killedSends = test.macro(async (t, internetOptions: Record<string, unknown>) => {
  // Every blob goes into every bundle (carousel due at once), so kills land inside blob writes too.
  const environment = await createEnvironment({ mozilla: { fileSize: 4 * 1024 * 1024 }, internet: { carousel: { everyHours: 0.001, maxBytes: 1024 ** 3 }, ...internetOptions } });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  internet.close();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  await lgwan.importOnce();
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const full = await runSend(configFile);
  const rounds = 10;
  let killed = 0;
  for (let round = 0; round < rounds; round += 1) {
    // Every third round at the moment the bundle appears; otherwise anywhere from process
    // start-up to just after the send would have finished.
    const delay = Math.floor(full.ms * (0.3 + Math.random() * 0.8));
    const outcome = await runSend(configFile, round % 3 === 0 ? { spool: environment.config.internet.spool } : delay);
    if (outcome.killed) killed += 1;
    // The appliance may carry whatever reached the spool at any moment.
    for (const result of await lgwan.importOnce()) t.not(result.status, 'refused', `round ${round} (killed after ${delay} ms): ${JSON.stringify(result)}`);
  }
  // Normal operation afterwards: the first send may only complete a reserved bundle (sent
  // again byte for byte; a duplicate if it had already crossed), the next one is new.
  await runSend(configFile);
  for (const result of await lgwan.importOnce()) t.not(result.status, 'refused');
  await runSend(configFile);
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published']);
  const state = await readInternetState(path.join(environment.config.internet.storage, 'state.json'));
  t.is(lgwan.database.data.published?.sequence, state.transfer.lastSequence, 'the LGWAN side has the newest bundle');
  t.deepEqual(lgwan.database.data.refusals, []);
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.severity === 'critical'), []);
  const hidden = (await readdir(environment.config.internet.spool)).filter((name) => name.startsWith('.'));
  t.deepEqual(hidden, [], 'no partial files left in the outbox');
  t.log(`${killed} of ${rounds} sends killed (a whole send takes ${full.ms} ms)`);
});

test('kill -9 of send at random moments, many rounds, never forks the sequence: the LGWAN side imports every bundle without a refusal and the outbox keeps no partial files', killedSends, {});
test('kill -9 of send at random moments while it writes parts never forks the sequence either', killedSends, { partMaxBytes: 3 * 1024 * 1024 });
