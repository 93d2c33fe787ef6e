import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { loadTransferPrivateKey, loadTransferPublicKey } from '../../src/bundle/transfer-key.ts';
import { createEnvironment, projectRoot } from '../helpers/environment.ts';
import { cliPath } from '../helpers/processes.ts';

const run = promisify(execFile);

test('"keys init" makes an Ed25519 pair: a private key only its owner can read and the public key to copy across', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-keys-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeFile(path.join(root, 'config.yaml'), stringify({ internet: { storage: 'internet' }, lgwan: { storage: 'lgwan' } }));
  const { stdout } = await run(process.execPath, [cliPath, 'keys', 'init', '--config', path.join(root, 'config.yaml')]);
  const privateFile = path.join(root, 'internet', 'transfer-key.pem');
  const publicFile = path.join(root, 'internet', 'transfer-key.pub.pem');
  t.is((await stat(privateFile)).mode & 0o777, 0o600);
  const [{ keyId }, { keyId: publicKeyId }] = await Promise.all([loadTransferPrivateKey(privateFile), loadTransferPublicKey(publicFile)]);
  t.is(keyId, publicKeyId);
  t.regex(stdout, new RegExp(`key id: +${keyId}`, 'u'));
  t.regex(stdout, /copy to the LGWAN side as .*lgwan\/transfer-key\.pub\.pem/u);
});

test('an invalid catalog file stops the internet side with file, line and field, and nothing already published changes', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const published = structuredClone(lgwan.database.data.published);
  const spoolBefore = await readdir(environment.config.internet.spool);

  // An admin adds a product with a mistake in it.
  const catalogs = path.join(environment.root, 'catalogs');
  await cp(path.join(projectRoot, 'catalogs', 'demo'), catalogs, { recursive: true });
  const firefox = await readFile(path.join(catalogs, 'firefox.yaml'), 'utf8');
  await writeFile(path.join(catalogs, 'thunderbird.yaml'), firefox.replace('id: demo-firefox', 'id: demo-thunderbird').replace('product: firefox', 'product: thunderbrid'));
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { internet: { catalogs: string } };
  config.internet.catalogs = catalogs;
  await writeFile(configFile, stringify(config));

  const failure = (await t.throwsAsync(run(process.execPath, [cliPath, 'send', '--config', configFile]))) as unknown as { code: number; stderr: string };
  t.is(failure.code, 1);
  t.regex(failure.stderr, /thunderbird\.yaml:\d+: field "source\.product": Invalid option: expected one of "firefox"\|"thunderbird"/u);
  t.notRegex(failure.stderr, /^\s+at /mu, 'no stack trace');
  t.deepEqual(await readdir(environment.config.internet.spool), spoolBefore, 'no bundle was sent');
  await lgwan.importOnce();
  t.deepEqual(lgwan.database.data.published, published);
});

// Issue 13, item 6: a YAML alias bomb in a catalog made "catalog validate" fail without naming
// file or field, and fetch/send print a library stack trace.
const aliasBomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, level) => `${String.fromCharCode(98 + level)}: &${String.fromCharCode(98 + level)} [${Array.from({ length: 9 }, () => `*${String.fromCharCode(97 + level)}`).join(',')}]`)].join('\n');

test('a YAML alias bomb in a catalog is refused naming the file, by "catalog validate" and by send, without a stack trace', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-bomb-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const catalogs = path.join(root, 'catalogs');
  await cp(path.join(projectRoot, 'catalogs', 'demo'), catalogs, { recursive: true });
  await writeFile(path.join(catalogs, 'bomb.yaml'), `${aliasBomb}\nid: bomb\n`);
  await writeFile(path.join(root, 'config.yaml'), stringify({ internet: { storage: 'internet', catalogs: 'catalogs', keys: [path.join(projectRoot, 'catalogs', 'keys')] } }));
  const keys = path.join(projectRoot, 'catalogs', 'keys');
  for (const command of [['catalog', 'validate', '--catalogs', catalogs, '--keys', keys], ['send', '--config', path.join(root, 'config.yaml')]]) {
    const failure = (await t.throwsAsync(run(process.execPath, [cliPath, ...command], { timeout: 60_000 }))) as unknown as { code: number; stderr: string; stdout: string };
    t.is(failure.code, 1, command.join(' '));
    t.regex(failure.stderr + failure.stdout, /bomb\.yaml(:\d+)?: .*alias/iu, `${command.join(' ')} names the file and what is wrong`);
    t.notRegex(failure.stderr, /^\s+at /mu, `${command.join(' ')}: no stack trace`);
  }
});

test('a catalog file over the size limit is refused naming the file, before it is parsed', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-large-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const catalogs = path.join(root, 'catalogs');
  await cp(path.join(projectRoot, 'catalogs', 'demo'), catalogs, { recursive: true });
  await writeFile(path.join(catalogs, 'large.yaml'), `id: large\n# ${'x'.repeat(2 * 1024 * 1024)}\n`);
  const failure = (await t.throwsAsync(run(process.execPath, [cliPath, 'catalog', 'validate', '--catalogs', catalogs, '--keys', path.join(projectRoot, 'catalogs', 'keys')]))) as unknown as { code: number; stderr: string; stdout: string };
  t.regex(failure.stderr + failure.stdout, /large\.yaml: \d+ bytes; a file of this kind may have at most 1048576/u);
});
