import { openAdminStore } from '../admin/open-admin-store.ts';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadTransferPrivateKey, loadTransferPublicKey } from '../bundle/transfer-key.ts';
import type { Config } from '../config/config.ts';
import { errorMessage } from '../core/errors.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';
import { validateCatalogs } from './catalog-commands.ts';

export interface ConfigCheck {
  level: 'ok' | 'warn' | 'fail';
  what: string;
  detail: string;
}

/** A folder this side writes: it exists and is writable, or can be created (its nearest existing parent is writable). */
async function writableFolder(folder: string): Promise<string | undefined> {
  let probe = folder;
  for (;;) {
    const info = await stat(probe).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) return `${probe} is not a folder`;
      return access(probe, constants.W_OK).then(
        () => undefined,
        () => `${probe} is not writable by this user`,
      );
    }
    const parent = path.dirname(probe);
    if (parent === probe) return `no part of ${folder} exists`;
    probe = parent;
  }
}

/** Each keys folder must hold a pins.yaml, and it must load: without pins every vendor signature is refused. */
async function pinnedKeys(folders: readonly string[], setting: string): Promise<string | undefined> {
  for (const folder of folders) {
    if (!(await stat(path.join(folder, 'pins.yaml')).catch(() => undefined))) return `${path.join(folder, 'pins.yaml')} does not exist: copy catalogs/keys/ of the installation there, or correct ${setting}`;
  }
  await PinnedKeyring.load(folders);
  return undefined;
}

async function check(what: string, run: () => Promise<string | undefined | { warn: string }>, onSuccess: string): Promise<ConfigCheck> {
  try {
    const result = await run();
    if (result === undefined) return { level: 'ok', what, detail: onSuccess };
    if (typeof result === 'object') return { level: 'warn', what, detail: result.warn };
    return { level: 'fail', what, detail: result };
  } catch (error) {
    return { level: 'fail', what, detail: errorMessage(error) };
  }
}

/**
 * What `config check --side` reports: every file and folder one side's section names, read
 * the way the side would read it, each with what to do when it is not usable. Read-only.
 */
export async function checkConfig(config: Config, side: 'internet' | 'lgwan'): Promise<ConfigCheck[]> {
  if (side === 'internet') {
    const internet = config.internet;
    return Promise.all([
      check('internet.storage', () => writableFolder(internet.storage), `${internet.storage} is writable`),
      check('internet.spool', () => writableFolder(internet.spool), `${internet.spool} is writable (the transfer appliance picks bundles up here)`),
      check('internet.transferKey', async () => {
        await loadTransferPrivateKey(internet.transferKey);
        return undefined;
      }, `${internet.transferKey} holds the transfer key`),
      check('internet.keys', () => pinnedKeys(internet.keys, 'internet.keys'), `pinned vendor keys load from ${internet.keys.join(', ')}`),
      check('internet.catalogs', async () => {
        const report = await validateCatalogs([internet.catalogs], internet.keys);
        if (report.problems > 0) return `${report.problems} catalog problem(s):\n${report.lines.filter((line) => line.startsWith('ERR')).join('\n')}`;
        const warnings = report.lines.filter((line) => line.startsWith('WARN')).map((line) => line.slice('WARN '.length));
        return warnings.length > 0 ? { warn: warnings.join('\n') } : undefined;
      }, `every catalog in ${internet.catalogs} is valid`),
    ]);
  }
  const lgwan = config.lgwan;
  return Promise.all([
    check('lgwan.storage', () => writableFolder(lgwan.storage), `${lgwan.storage} is writable`),
    check('lgwan.spool', async () => {
      const info = await stat(lgwan.spool).catch(() => undefined);
      if (!info?.isDirectory()) return `${lgwan.spool} is not a folder: set lgwan.spool to the folder the transfer appliance (or receive --udp) delivers into`;
      return access(lgwan.spool, constants.R_OK).then(
        () => undefined,
        () => `${lgwan.spool} is not readable by this user`,
      );
    }, `${lgwan.spool} is readable (bundles arrive here)`),
    check('lgwan.transferPublicKey', async () => {
      await loadTransferPublicKey(lgwan.transferPublicKey);
      return undefined;
    }, `${lgwan.transferPublicKey} holds the pinned transfer public key`),
    check('lgwan.keys', () => pinnedKeys(lgwan.keys, 'lgwan.keys'), `this side's own pinned vendor keys load from ${lgwan.keys.join(', ')}`),
    check('lgwan.tls', async () => {
      if (!lgwan.tls) return undefined;
      await Promise.all([readFile(lgwan.tls.cert), readFile(lgwan.tls.key)]);
      return undefined;
    }, lgwan.tls ? `the certificate and key are readable (HTTPS on port ${lgwan.tls.port})` : 'no HTTPS listener configured'),
    check('lgwan.host', async () => {
      if (lgwan.host === '127.0.0.1' || lgwan.host === 'localhost' || lgwan.host === '::1') {
        return { warn: `the repository listens on ${lgwan.host} only: endpoints on other machines cannot reach it. Set lgwan.host to this host's LGWAN address (or 0.0.0.0) unless an nginx front on this host serves them (deploy/nginx/)` };
      }
      return undefined;
    }, `the repository listens on ${lgwan.host}, port ${lgwan.port} (docs/clients.md: the address endpoints use)`),
    ...lgwan.directories.map((directory, index) =>
      check(`lgwan.directories[${index}]`, async () => {
        const password = (await readFile(directory.bindPasswordFile, 'utf8')).replace(/\r?\n$/u, '');
        if (password === '') return `${directory.bindPasswordFile} is empty: the service account's password goes there (an empty one would be an unauthenticated bind)`;
        if (directory.caFile) await readFile(directory.caFile);
        return undefined;
      }, `${directory.url}: the service account's password file${directory.caFile ? ' and the CA file are' : ' is'} readable (the directory itself is asked at sign-in)`),
    ),
    check('lgwan.console.metricsTokenFile', async () => {
      if (!lgwan.console.metricsTokenFile) return undefined;
      if ((await readFile(lgwan.console.metricsTokenFile, 'utf8')).trim().length < 16) return `${lgwan.console.metricsTokenFile} holds fewer than 16 characters: use a long random token`;
      return undefined;
    }, lgwan.console.metricsTokenFile ? `${lgwan.console.metricsTokenFile} holds the /metrics scrape token` : '/metrics needs a signed-in session (no scrape token configured)'),
    check('accounts', async () => {
      // Read-only: opening PostgreSQL would apply migrations, so only the embedded store is looked at.
      if (lgwan.inventory.store === 'postgresql') return undefined;
      const store = await openAdminStore(lgwan);
      try {
        const accounts = (await store.listAccounts()).filter((account) => account.disabledAt === undefined);
        if (accounts.length === 0 && lgwan.directories.length === 0) return { warn: 'no console account yet: nobody can sign in to the status pages. Create one: lgwan-mirror accounts add --username admin --role operator (the password on standard input)' };
        return undefined;
      } finally {
        await store.close();
      }
    }, 'console accounts exist (lgwan-mirror accounts list)'),
  ]);
}
