import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { csvCell } from '../repository/coverage-routes.ts';
import { languageOf } from '../repository/i18n.ts';
import { readLimitedBody } from '../repository/read-limited-body.ts';
import { RateLimiter } from '../repository/rate-limit.ts';
import { checkCsrf, holds, requireRole, tenantsOf, type ConsoleState } from './access-guard.ts';
import type { AdminStore, AuditEntry } from './admin-store.ts';
import { renderAgentsPage, renderAuditPage, renderSignInPage, type SignInProblem } from './console-pages.ts';
import { passwordMatches } from './passwords.ts';
import type { Grant } from './roles.ts';
import { closeSession, openSession, randomToken, readCookie, sameSecret, setCookie, sha256Hex, signInCookie } from './sessions.ts';
import type { TenantDirectory } from './tenants.ts';

/** An LDAP/AD directory as sign-in sees it: a user and their grants, or undefined for wrong credentials. */
export interface SignInDirectory {
  name: string;
  authenticate(username: string, password: string): Promise<{ username: string; grants: Grant[] } | undefined>;
}

export interface ConsoleRoutesOptions {
  store: AdminStore;
  tenants: TenantDirectory;
  directories: readonly SignInDirectory[];
  logger: Logger;
  now(): Date;
}

const auditPageSize = 100;

async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'send the form as application/x-www-form-urlencoded');
  return new URLSearchParams(await readLimitedBody(ctx, 16 * 1024));
}

/** Only a path on this site: `next=//elsewhere` or `next=https://…` would send a signed-in admin away. */
function safeNext(value: string | null | undefined): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/u.test(value) && !value.startsWith('/sign-in') ? value : '/';
}

/** Usernames as recorded in the audit log: bounded, and only printable characters. */
const recordedName = (value: string) => value.replace(/[^\x20-\x7e\u3000-\u30ff\u4e00-\u9fff]/gu, '?').slice(0, 64);

export function addConsoleRoutes(router: Router, options: ConsoleRoutesOptions): { audit(entry: Omit<AuditEntry, 'at'>): Promise<void> } {
  const { store, tenants } = options;
  const audit = (entry: Omit<AuditEntry, 'at'>) => store.appendAudit({ at: options.now().toISOString(), ...entry });
  // A guessing loop is slowed per address and per account name, whether the names exist or not.
  const signInLimits = { perAddress: new RateLimiter({ burst: 10, perMinute: 5 }), perUsername: new RateLimiter({ burst: 5, perMinute: 2 }) };

  const showSignIn = (ctx: Context, next: string, problem?: SignInProblem, username?: string) => {
    const csrf = randomToken();
    setCookie(ctx, signInCookie, csrf, 3600);
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    // Browsers keep Secure cookies only from HTTPS or from this host itself: say so rather than loop back here.
    const local = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/u.test(ctx.host);
    ctx.body = renderSignInPage({ language: languageOf(ctx.query.lang), csrf, next, ...(problem ? { problem } : {}), ...(username ? { username } : {}), insecure: !ctx.secure && !local });
  };

  router.get('/sign-in', (ctx) => showSignIn(ctx, safeNext(typeof ctx.query.next === 'string' ? ctx.query.next : undefined)));

  router.post('/sign-in', async (ctx) => {
    const form = await readForm(ctx);
    const next = safeNext(form.get('next'));
    const username = (form.get('username') ?? '').trim().slice(0, 256);
    const password = form.get('password') ?? '';
    if (!sameSecret(form.get('_csrf') ?? undefined, readCookie(ctx, signInCookie))) {
      ctx.status = 403;
      return showSignIn(ctx, next, 'expired', username);
    }
    const limited = [signInLimits.perAddress.take(ctx.ip), signInLimits.perUsername.take(username.toLowerCase())].find((result) => typeof result === 'number');
    if (typeof limited === 'number') {
      await audit({ tenant: null, actor: recordedName(username), address: ctx.ip, action: 'sign-in', outcome: 'failure', detail: 'rate limited' });
      ctx.status = 429;
      ctx.set('Retry-After', String(limited));
      return showSignIn(ctx, next, 'limited', username);
    }
    let user: { username: string; grants: Grant[]; via: string } | undefined;
    let problem: SignInProblem = 'failed';
    const account = username ? await store.getAccount(username) : undefined;
    if (account?.source === 'local') {
      if (account.disabledAt === undefined && (await passwordMatches(account.passwordHash, password))) user = { username, grants: account.grants, via: 'local account' };
    } else if (username && password) {
      for (const directory of options.directories) {
        try {
          const found = await directory.authenticate(username, password);
          if (found) {
            user = { ...found, via: `directory ${directory.name}` };
            break;
          }
        } catch (error) {
          problem = 'unavailable';
          options.logger.error({ directory: directory.name, error: errorMessage(error) }, 'directory sign-in failed');
        }
      }
      if (!user) await passwordMatches(undefined, password);
      if (user && account?.disabledAt !== undefined) user = undefined;
    } else {
      await passwordMatches(undefined, password);
    }
    const tenantOfGrants = (grants: Grant[]) => (grants.some((grant) => grant.role === 'operator') ? null : (grants.find((grant) => grant.tenant)?.tenant ?? null));
    if (!user || user.grants.length === 0) {
      await audit({ tenant: account ? tenantOfGrants(account.grants) : null, actor: recordedName(username), address: ctx.ip, action: 'sign-in', outcome: 'failure', detail: problem === 'unavailable' ? 'directory unreachable' : 'wrong user name or password' });
      ctx.status = problem === 'unavailable' ? 503 : 401;
      return showSignIn(ctx, next, problem, username);
    }
    if (user.via.startsWith('directory')) {
      // The directory decides the roles; a change since the last sign-in is a role change on record.
      const before = account?.grants ?? [];
      const same = JSON.stringify(before) === JSON.stringify(user.grants);
      await store.putAccount({ username: user.username, source: 'directory', grants: user.grants, createdAt: account?.createdAt ?? options.now().toISOString() });
      if (!same) await audit({ tenant: tenantOfGrants(user.grants), actor: `directory`, address: ctx.ip, action: account ? 'role-change' : 'account-create', outcome: 'success', subject: user.username, detail: `${JSON.stringify(before)} → ${JSON.stringify(user.grants)}` });
    }
    await openSession(ctx, store, user, options.now());
    setCookie(ctx, signInCookie, '', 0);
    await audit({ tenant: tenantOfGrants(user.grants), actor: user.username, address: ctx.ip, action: 'sign-in', outcome: 'success', detail: user.via });
    ctx.status = 303;
    ctx.redirect(next);
  });

  router.post('/sign-out', async (ctx) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const user = (ctx.state as ConsoleState).user!;
    await closeSession(ctx, store, user.session);
    await audit({ tenant: (ctx.state as ConsoleState).scope?.tenantId ?? null, actor: user.username, address: ctx.ip, action: 'sign-out', outcome: 'success' });
    ctx.status = 303;
    ctx.redirect('/sign-in');
  });

  router.post('/session/tenant', async (ctx) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const user = (ctx.state as ConsoleState).user!;
    const wanted = form.get('tenant') ?? '';
    const tenant = tenantsOf(user, tenants).find((candidate) => candidate.id === wanted);
    if (!tenant && !(user.operator && wanted === '')) ctx.throw(404, 'not found');
    await store.putSession({ ...user.session, tenant: tenant?.id ?? null });
    ctx.status = 303;
    ctx.redirect('/');
  });

  const tenantQuery = (ctx: Context) => (typeof ctx.query.tenant === 'string' && ctx.query.tenant !== '' ? ctx.query.tenant : undefined);
  const agentsPage = async (ctx: Context, newToken?: string) => {
    const { user, scope } = requireRole(ctx, 'tenant-viewer');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderAgentsPage({
      language: languageOf(ctx.query.lang), tenantQuery: tenantQuery(ctx), csrf: user.session.csrfToken, canChange: holds(user, scope, 'tenant-admin'),
      tokens: await store.listEnrollmentTokens(scope.tenantId), agents: await store.listAgents(scope.tenantId), ...(newToken ? { newToken } : {}),
    });
  };
  router.get('/agents', (ctx) => agentsPage(ctx));
  router.post('/agents/tokens', async (ctx) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const { user, scope } = requireRole(ctx, 'tenant-admin');
    const token = randomToken();
    const id = randomBytes(6).toString('hex');
    const label = (form.get('label') ?? '').trim().slice(0, 100) || id;
    await store.addEnrollmentToken({ id, tenant: scope.tenantId, tokenHash: sha256Hex(token), label, createdAt: options.now().toISOString(), createdBy: user.username });
    await audit({ tenant: scope.tenantId, actor: user.username, address: ctx.ip, action: 'token-issue', outcome: 'success', subject: id, detail: label });
    ctx.status = 201;
    await agentsPage(ctx, token);
  });
  router.post('/agents/tokens/:id/revoke', async (ctx) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const { user, scope } = requireRole(ctx, 'tenant-admin');
    if (!(await store.revokeEnrollmentToken(ctx.params.id ?? '', scope.tenantId, options.now().toISOString()))) ctx.throw(404, 'not found');
    await audit({ tenant: scope.tenantId, actor: user.username, address: ctx.ip, action: 'token-revoke', outcome: 'success', subject: ctx.params.id });
    ctx.status = 303;
    ctx.redirect(`/agents${ctx.search}`);
  });
  router.post('/agents/:id/revoke', async (ctx) => {
    const form = await readForm(ctx);
    checkCsrf(ctx, form);
    const { user, scope } = requireRole(ctx, 'tenant-admin');
    if (!(await store.revokeAgent(ctx.params.id ?? '', scope.tenantId, options.now().toISOString()))) ctx.throw(404, 'not found');
    await audit({ tenant: scope.tenantId, actor: user.username, address: ctx.ip, action: 'agent-revoke', outcome: 'success', subject: ctx.params.id });
    ctx.status = 303;
    ctx.redirect(`/agents${ctx.search}`);
  });

  const auditScope = (ctx: Context) => {
    const state = ctx.state as ConsoleState;
    if (!state.user || !state.scope) return ctx.throw(401, 'sign in first');
    // The provider-wide log (sign-ins of operators included) is the operator's; a tenant sees its own.
    return state.user.operator && (!state.scope.tenantId || tenants.implicit) ? undefined : (state.scope.tenantId ?? ctx.throw(404, 'not found'));
  };
  router.get('/audit', async (ctx) => {
    const tenant = auditScope(ctx);
    const page = Math.max(Math.trunc(Number(ctx.query.page ?? 1)) || 1, 1);
    const { total, entries } = await store.listAudit({ ...(tenant ? { tenant } : {}), offset: (page - 1) * auditPageSize, limit: auditPageSize });
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderAuditPage({ language: languageOf(ctx.query.lang), entries, total, page, pages: Math.max(1, Math.ceil(total / auditPageSize)), tenantQuery: tenantQuery(ctx) });
  });
  router.get('/audit.csv', async (ctx) => {
    const tenant = auditScope(ctx);
    const { entries } = await store.listAudit({ ...(tenant ? { tenant } : {}), offset: 0, limit: 1_000_000 });
    const rows = [['at', 'tenant', 'actor', 'address', 'action', 'outcome', 'subject', 'detail'], ...entries.map((entry) => [entry.at, entry.tenant, entry.actor, entry.address, entry.action, entry.outcome, entry.subject, entry.detail])];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="lgwan-audit${tenant ? `-${tenant}` : ''}.csv"`);
    ctx.body = `\uFEFF${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
  });
  return { audit };
}
