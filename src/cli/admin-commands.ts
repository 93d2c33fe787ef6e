import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { loadConfig } from './load-config.ts';
import { UserFacingError } from '../core/errors.ts';
import type { AdminStore, AuditEntry } from '../admin/admin-store.ts';
import { hashPassword, passwordProblem } from '../admin/passwords.ts';
import { isRole, roles, type Grant, type Role } from '../admin/roles.ts';
import { randomToken, sha256Hex } from '../admin/sessions.ts';
import { TenantDirectory } from '../admin/tenants.ts';

/*
 * LGWAN side, run on the repository host: accounts and agent enrollment tokens. They change
 * the same store the running repository reads (admin.json or PostgreSQL), so no restart is
 * needed, and each change is in the audit log as done by `cli:<system user>` from `local`.
 */

const configOption = () => new Option('-c, --config <file>', 'YAML config file (defaults apply without one)');
const actor = () => `cli:${userInfo().username}`;

async function withStore<T>(configFile: string | undefined, run: (store: AdminStore, tenants: TenantDirectory) => Promise<T>): Promise<T> {
  const config = await loadConfig(configFile);
  // The stores load when an admin command runs, not with every command line.
  const { openAdminStore } = await import('../admin/open-admin-store.ts');
  const store = await openAdminStore(config.lgwan);
  try {
    return await run(store, new TenantDirectory(config.lgwan.tenants));
  } finally {
    await store.close();
  }
}

const audit = (store: AdminStore, entry: Omit<AuditEntry, 'at' | 'actor' | 'address' | 'outcome'>) => store.appendAudit({ at: new Date().toISOString(), actor: actor(), address: 'local', outcome: 'success', ...entry });

function grantOf(role: string, tenant: string | undefined, tenants: TenantDirectory): Grant {
  if (!isRole(role)) throw new UserFacingError('E_USAGE', `--role ${role}: one of ${roles.join(', ')}`);
  if (role === 'operator') {
    if (tenant !== undefined) throw new UserFacingError('E_USAGE', '--tenant: an operator sees every tenant; leave --tenant out');
    return { role };
  }
  const resolved = tenant ?? (tenants.implicit ? tenants.list()[0]!.id : undefined);
  if (resolved === undefined) throw new UserFacingError('E_USAGE', `--tenant: the role ${role} needs the tenant it applies to (one of ${tenants.list().map((t) => t.id).join(', ')})`);
  if (!tenants.byId(resolved)) throw new UserFacingError('E_USAGE', `--tenant ${resolved}: no such tenant in lgwan.tenants (${tenants.list().map((t) => t.id).join(', ')})`);
  return { role: role as Role, tenant: resolved };
}

/** The password from standard input (a pipe or a prompt), never from the command line where `ps` shows it. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password (it is echoed: prefer a pipe from your password manager): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/u)[0] ?? '';
  const problem = passwordProblem(password);
  if (problem) throw new UserFacingError('E_USAGE', `password: ${problem}`);
  return password;
}

export function addAdminCommands(program: Command): void {
  const accounts = program.command('accounts').description('LGWAN side: console accounts (local; LDAP/AD accounts appear at their first sign-in)');
  accounts
    .command('add')
    .description('create a local account; the password is read from standard input (e.g. a pipe from your password manager)')
    .requiredOption('--username <name>', 'the sign-in name')
    .addOption(new Option('--role <role>', 'what the account may do').choices([...roles]).makeOptionMandatory())
    .option('--tenant <id>', 'the tenant the role applies to (not for operator)')
    .addOption(configOption())
    .action(async (options: { username: string; role: string; tenant?: string; config?: string }) => {
      await withStore(options.config, async (store, tenants) => {
        if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/u.test(options.username)) throw new UserFacingError('E_USAGE', '--username: 1–64 letters, digits and . _ @ -');
        if (await store.getAccount(options.username)) throw new UserFacingError('E_USAGE', `account ${options.username} exists already: use "accounts set-role" or "accounts password"`);
        const grant = grantOf(options.role, options.tenant, tenants);
        await store.putAccount({ username: options.username, source: 'local', passwordHash: await hashPassword(await readPassword()), grants: [grant], createdAt: new Date().toISOString() });
        await audit(store, { tenant: grant.tenant ?? null, action: 'account-create', subject: options.username, detail: JSON.stringify([grant]) });
        console.log(`account ${options.username} created: ${grant.role}${grant.tenant ? ` of ${grant.tenant}` : ''}`);
      });
    });
  accounts
    .command('set-role')
    .description("change a local account's role (takes effect at its next request)")
    .requiredOption('--username <name>')
    .addOption(new Option('--role <role>').choices([...roles]).makeOptionMandatory())
    .option('--tenant <id>')
    .addOption(configOption())
    .action(async (options: { username: string; role: string; tenant?: string; config?: string }) => {
      await withStore(options.config, async (store, tenants) => {
        const account = await store.getAccount(options.username);
        if (!account) throw new UserFacingError('E_USAGE', `no account ${options.username}`);
        if (account.source !== 'local') throw new UserFacingError('E_USAGE', `${options.username} signs in with the directory: change its groups there`);
        const grant = grantOf(options.role, options.tenant, tenants);
        await store.putAccount({ ...account, grants: [grant] });
        await audit(store, { tenant: grant.tenant ?? account.grants[0]?.tenant ?? null, action: 'role-change', subject: options.username, detail: `${JSON.stringify(account.grants)} → ${JSON.stringify([grant])}` });
        console.log(`account ${options.username}: ${grant.role}${grant.tenant ? ` of ${grant.tenant}` : ''}`);
      });
    });
  accounts
    .command('password')
    .description("set a local account's password (read from standard input)")
    .requiredOption('--username <name>')
    .addOption(configOption())
    .action(async (options: { username: string; config?: string }) => {
      await withStore(options.config, async (store) => {
        const account = await store.getAccount(options.username);
        if (account?.source !== 'local') throw new UserFacingError('E_USAGE', `no local account ${options.username}`);
        await store.putAccount({ ...account, passwordHash: await hashPassword(await readPassword()) });
        await audit(store, { tenant: account.grants[0]?.tenant ?? null, action: 'password-change', subject: options.username });
        console.log(`password of ${options.username} changed`);
      });
    });
  accounts
    .command('disable')
    .description('stop an account from signing in (its open sessions end at their next request)')
    .requiredOption('--username <name>')
    .addOption(configOption())
    .action(async (options: { username: string; config?: string }) => {
      await withStore(options.config, async (store) => {
        const account = await store.getAccount(options.username);
        if (!account) throw new UserFacingError('E_USAGE', `no account ${options.username}`);
        await store.putAccount({ ...account, disabledAt: new Date().toISOString() });
        await audit(store, { tenant: account.grants[0]?.tenant ?? null, action: 'account-disable', subject: options.username });
        console.log(`account ${options.username} disabled`);
      });
    });
  accounts
    .command('list')
    .addOption(configOption())
    .action(async (options: { config?: string }) => {
      await withStore(options.config, async (store) => {
        for (const account of await store.listAccounts()) {
          console.log([account.username, account.source, account.grants.map((grant) => `${grant.role}${grant.tenant ? `@${grant.tenant}` : ''}`).join(','), account.disabledAt ? `disabled ${account.disabledAt}` : 'active'].join('\t'));
        }
      });
    });

  const agents = program.command('agents').description('LGWAN side: agent enrollment');
  agents
    .command('token')
    .description("issue an enrollment token for a tenant's agents (printed once; put it in the agent config)")
    .option('--tenant <id>', 'the tenant whose agents enroll with it (default: the only tenant)')
    .option('--label <text>', 'what the token is for, e.g. "PCs of the 3rd floor"', '')
    .addOption(configOption())
    .action(async (options: { tenant?: string; label: string; config?: string }) => {
      await withStore(options.config, async (store, tenants) => {
        const tenant = grantOf('tenant-admin', options.tenant, tenants).tenant!;
        const token = randomToken();
        const id = randomBytes(6).toString('hex');
        await store.addEnrollmentToken({ id, tenant, tokenHash: sha256Hex(token), label: options.label.slice(0, 100) || id, createdAt: new Date().toISOString(), createdBy: actor() });
        await audit(store, { tenant, action: 'token-issue', subject: id, detail: options.label.slice(0, 100) });
        console.error(`enrollment token ${id} for tenant ${tenant} (shown once):`);
        console.log(token);
      });
    });
  agents
    .command('revoke-token')
    .requiredOption('--id <token id>')
    .option('--tenant <id>')
    .addOption(configOption())
    .action(async (options: { id: string; tenant?: string; config?: string }) => {
      await withStore(options.config, async (store, tenants) => {
        const tenant = grantOf('tenant-admin', options.tenant, tenants).tenant!;
        if (!(await store.revokeEnrollmentToken(options.id, tenant, new Date().toISOString()))) throw new UserFacingError('E_USAGE', `tenant ${tenant} has no token ${options.id}`);
        await audit(store, { tenant, action: 'token-revoke', subject: options.id });
        console.log(`token ${options.id} revoked: agents cannot enroll with it any more (enrolled agents keep working)`);
      });
    });
  agents
    .command('revoke')
    .description('refuse every later check-in of an enrolled agent')
    .requiredOption('--id <agent id>')
    .option('--tenant <id>')
    .addOption(configOption())
    .action(async (options: { id: string; tenant?: string; config?: string }) => {
      await withStore(options.config, async (store, tenants) => {
        const tenant = grantOf('tenant-admin', options.tenant, tenants).tenant!;
        if (!(await store.revokeAgent(options.id, tenant, new Date().toISOString()))) throw new UserFacingError('E_USAGE', `tenant ${tenant} has no agent ${options.id}`);
        await audit(store, { tenant, action: 'agent-revoke', subject: options.id });
        console.log(`agent ${options.id} revoked`);
      });
    });
}
