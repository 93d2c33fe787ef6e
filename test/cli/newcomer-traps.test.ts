import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { stringify } from 'yaml';
import { loadTransferPrivateKey } from '../../src/bundle/transfer-key.ts';
import { projectRoot } from '../helpers/environment.ts';
import { cliPath, freePort, startCli } from '../helpers/processes.ts';

const run = promisify(execFile);

/** Runs the command as an admin types it; a failure is an answer too (its exit code and words). */
async function cli(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function folder(t: ExecutionContext, config: Record<string, unknown>): Promise<{ root: string; configFile: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-newcomer-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const configFile = path.join(root, 'config.yaml');
  await writeFile(configFile, stringify(config));
  return { root, configFile };
}

test('"keys init" refuses to replace an existing transfer key unless --force, and says what the LGWAN side then needs', async (t) => {
  const { root, configFile } = await folder(t, { internet: { storage: 'internet' }, lgwan: { storage: 'lgwan' } });
  t.is((await cli(['keys', 'init', '--config', configFile])).code, 0);
  const privateFile = path.join(root, 'internet', 'transfer-key.pem');
  const first = await loadTransferPrivateKey(privateFile);

  const again = await cli(['keys', 'init', '--config', configFile]);
  t.is(again.code, 1);
  t.regex(again.stderr, new RegExp(`already holds a transfer key \\(key id ${first.keyId}\\); nothing was changed`, 'u'));
  t.regex(again.stderr, /keys rotate.*keys promote/u, 'points at the way that does not break the transfer');
  t.notRegex(again.stderr, /\n\s+at /u, 'no stack trace');
  t.is((await loadTransferPrivateKey(privateFile)).keyId, first.keyId, 'the key is untouched');

  const forced = await cli(['keys', 'init', '--force', '--config', configFile]);
  t.is(forced.code, 0);
  t.not((await loadTransferPrivateKey(privateFile)).keyId, first.keyId);
  t.regex(forced.stdout, /copy the public key there and restart its service/u);
  const kept = (await readdir(path.join(root, 'internet'))).find((name) => name.startsWith('transfer-key.replaced-'));
  t.truthy(kept, 'the old private key is kept, not deleted');
  t.is((await loadTransferPrivateKey(path.join(root, 'internet', kept!))).keyId, first.keyId);
});

test('"fetch" with a missing catalogs folder names the folder and the setting, without a stack trace', async (t) => {
  const { configFile } = await folder(t, { internet: { storage: 'internet', catalogs: 'no-such-folder' } });
  await cli(['keys', 'init', '--config', configFile]);
  const result = await cli(['fetch', '--config', configFile]);
  t.is(result.code, 1);
  t.regex(result.stderr, /the catalogs folder .*no-such-folder does not exist: set internet\.catalogs/u);
  t.notRegex(result.stderr, /\n\s+at /u);
});

test('"status" on a config whose LGWAN storage does not exist exits 1 and says what to check', async (t) => {
  const { configFile } = await folder(t, { lgwan: { storage: 'nowhere' } });
  const result = await cli(['status', '--config', configFile]);
  t.is(result.code, 1);
  t.regex(result.stderr, /no LGWAN side has run with storage .*nowhere: check lgwan\.storage in .*config\.yaml/u);
});

test('"config check" reads what each side needs and names each problem with what to do; a usable config passes', async (t) => {
  const { root, configFile } = await folder(t, {
    internet: { storage: 'internet', catalogs: 'catalogs', keys: [path.join(projectRoot, 'catalogs', 'keys')], spool: 'outbox' },
    lgwan: { storage: 'lgwan', keys: ['missing-keys'], spool: 'inbox' },
  });
  // An admin adds a TLS-only product and forgets unsignedProducts: valid, but it would never publish.
  await mkdir(path.join(root, 'catalogs'));
  const sevenZip = await readFile(path.join(projectRoot, 'catalogs', '7zip.yaml'), 'utf8');
  await writeFile(path.join(root, 'catalogs', 'seven-zip-copy.yaml'), sevenZip.replace(/^id: .*$/mu, 'id: seven-zip-copy'));
  const internetBefore = await cli(['config', 'check', '--side', 'internet', '--config', configFile]);
  t.is(internetBefore.code, 1);
  t.regex(internetBefore.stdout, /^FAIL internet\.transferKey: .*keys init/mu);
  t.regex(internetBefore.stdout, /^WARN internet\.catalogs: .*seven-zip-copy\.yaml: seven-zip-copy has trust tls-only, and no pins\.yaml .* lists it under unsignedProducts: neither side will publish it/mu);
  await cli(['keys', 'init', '--config', configFile]);
  const internetAfter = await cli(['config', 'check', '--side', 'internet', '--config', configFile]);
  t.is(internetAfter.code, 0, internetAfter.stdout);
  t.regex(internetAfter.stdout, /the internet side can start with this config/u);

  const lgwan = await cli(['config', 'check', '--side', 'lgwan', '--config', configFile]);
  t.is(lgwan.code, 1);
  t.regex(lgwan.stdout, /^FAIL lgwan\.spool: .*inbox is not a folder: set lgwan\.spool/mu);
  t.regex(lgwan.stdout, /^FAIL lgwan\.keys: .*missing-keys\/pins\.yaml does not exist/mu);
  t.regex(lgwan.stdout, /^FAIL lgwan\.transferPublicKey: /mu);
  t.regex(lgwan.stdout, /^WARN lgwan\.host: the repository listens on 127\.0\.0\.1 only/mu);
  await mkdir(path.join(root, 'inbox'));
  t.true((await readFile(configFile, 'utf8')).includes('missing-keys'));
});

test('"--version" prints the package version', async (t) => {
  const { version } = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const result = await cli(['--version']);
  t.is(result.code, 0);
  t.is(result.stdout.trim(), version);
});

test('a second demo on the same storage exits non-zero at once, suggesting another folder, and leaves nothing running', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-demo-twice-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  const port = await freePort();
  const first = startCli(['demo', '--port', String(port), '--storage', storage]);
  t.teardown(() => void first.stop());
  await first.waitFor(/Press Ctrl-C to stop\./u, 90_000);

  const second = startCli(['demo', '--port', String(await freePort()), '--storage', storage]);
  const code = await second.exited();
  t.not(code, 0);
  t.regex(second.output(), /another demo is using .*: stop it with Ctrl-C in its terminal, or run a second one in another folder and port: npm run demo -- --storage /u);
  t.notRegex(second.output(), /systemctl/u);
  t.is(await first.stop('SIGINT'), 0);
});
