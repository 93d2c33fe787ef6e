import { execFile } from 'node:child_process';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createEnvironment } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

function storeCheck(configFile: string, side: 'internet' | 'lgwan'): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, 'store', 'check', '--side', side, '--config', configFile], (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }));
  });
}

test('"store check" reads every named file again: damaged, missing and mis-recorded files are listed by path, with what to do, and exit 1', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');

  for (const side of ['internet', 'lgwan'] as const) {
    const healthy = await storeCheck(configFile, side);
    t.is(healthy.code, 0, side);
    t.regex(healthy.stdout, /^checked \d+ files \([\d.]+ MiB\) in [\d.]+ s: every file matches its name$/mu, side);
  }

  const artifacts = lgwan.database.data.published!.artifacts;
  const installer = artifacts.find((artifact) => artifact.fileName === 'Firefox Setup 131.0.exe' && artifact.locale === 'ja' && artifact.platform === 'win64')!;
  const sums = artifacts.find((artifact) => artifact.fileName === 'SHA512SUMS')!;
  const mar = artifacts.find((artifact) => artifact.fileName === 'firefox-131.0.complete.mar' && artifact.locale === 'en-US' && artifact.platform === 'linux-x86_64')!;
  const cut = artifacts.find((artifact) => artifact.fileName === 'Firefox Setup 131.0.exe' && artifact.locale === 'en-US' && artifact.platform === 'win64')!;
  // One byte of an installer flipped, another cut short, the hash list gone, and the MAR's recorded SHA-512 not its own.
  const handle = await open(lgwan.store.pathOf(installer.sha256), 'r+');
  await handle.write(Buffer.from([0x58]), 0, 1, 1000);
  await handle.close();
  await rm(lgwan.store.pathOf(sums.sha256));
  const cutHandle = await open(lgwan.store.pathOf(cut.sha256), 'r+');
  await cutHandle.truncate(1000);
  await cutHandle.close();
  const stateFile = path.join(environment.config.lgwan.storage, 'state.json');
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as { digests: Record<string, { sha512?: string }> };
  t.regex(state.digests[mar.sha256]!.sha512 ?? '', /^[0-9a-f]{128}$/u);
  state.digests[mar.sha256]!.sha512 = '0'.repeat(128);
  await writeFile(stateFile, JSON.stringify(state));

  const { code, stdout } = await storeCheck(configFile, 'lgwan');
  t.is(code, 1);
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
  t.regex(stdout, new RegExp(`^DAMAGED ${escape(installer.path)}: blob ${installer.sha256} now has sha256 [0-9a-f]{64}$`, 'mu'));
  t.regex(stdout, new RegExp(`^MISSING ${escape(sums.path)}: blob ${sums.sha256} is not in the store$`, 'mu'));
  t.regex(stdout, new RegExp(`^DAMAGED ${escape(mar.path)}: blob ${mar.sha256} has another SHA-512 than the one recorded when it arrived$`, 'mu'));
  t.regex(stdout, new RegExp(`^DAMAGED ${escape(cut.path)}: blob ${cut.sha256} has 1000 bytes, the state says ${cut.size}$`, 'mu'));
  t.regex(stdout, /: 4 not as recorded$/mu);
  t.regex(stdout, /^Restore these from a backup of .*blobs, or move them out of it: the internet side's carousel sends every file again/mu);
  t.is((stdout.match(/^(DAMAGED|MISSING) /gmu) ?? []).length, 4, 'nothing else is reported');
});
