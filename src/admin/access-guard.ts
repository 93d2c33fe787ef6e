import type { Context, Middleware } from 'koa';
import type { AdminStore, Session } from './admin-store.ts';
import { currentSession, sameSecret, sha256Hex, type SessionPolicy } from './sessions.ts';
import type { Tenant, TenantDirectory } from './tenants.ts';
import { roleLabels, type Grant, type Role } from './roles.ts';
import { escapeHtml } from '../repository/pages/layout.ts';

/*
 * Who may see what. Three kinds of route:
 *   protocol  what endpoints' own updaters and agents call; they cannot sign in, and these
 *             routes answer only with published files and update answers, never inventory;
 *   public    the sign-in page and the stylesheet and icon it needs;
 *   console   everything else: pages, the endpoint and coverage APIs, CSV, /metrics.
 * A console request without a session gets 401 (API, CSV, metrics) or the sign-in page
 * (HTML), and nothing else. test/admin/route-walk.test.ts walks every route of the app.
 */
const protocolPaths = /^\/(?:t\/[a-z0-9-]+\/)?(?:mozilla\/update\/|clamav\/|apt\/|pool\/|blobs\/sha256\/|winget(?:\/|$)|api\/v1\/agent\/|api\/v1\/latest$|api\/v1\/products\/[^/]+\/releases$)/u;
const publicPaths = new Set(['/sign-in', '/assets/status.css', '/assets/icon.svg', '/favicon.ico', '/api/v1/openapi.json']);

export type RouteKind = 'protocol' | 'public' | 'console';

export function routeKind(path: string): RouteKind {
  if (protocolPaths.test(path)) return 'protocol';
  if (publicPaths.has(path)) return 'public';
  return 'console';
}

/** Answers that a program reads: these get 401, never a page. */
const isMachinePath = (path: string) => path.startsWith('/api/') || path === '/metrics' || path.endsWith('.csv');

export interface ConsoleUser {
  session: Session;
  username: string;
  grants: Grant[];
  operator: boolean;
}

/** The tenant a console request looks at: one tenant, or every tenant (an operator's provider-wide view). */
export interface Scope {
  tenant: Tenant | undefined;
  /** undefined: all tenants. */
  tenantId: string | undefined;
  offers(productId: string): boolean;
}

export interface ConsoleState {
  user?: ConsoleUser;
  scope?: Scope;
  /** The tenant of an endpoint calling a protocol route (by URL prefix or network). */
  clientTenant?: Tenant;
}

export interface GuardOptions {
  store: AdminStore;
  tenants: TenantDirectory;
  policy: SessionPolicy;
  /** SHA-256 of the /metrics scrape token, when one is configured. */
  metricsTokenHash?: string;
  now(): Date;
}

export const notFound = (ctx: Context) => ctx.throw(404, 'not found');

/** The tenants a user may look at (all for an operator). */
export function tenantsOf(user: ConsoleUser, tenants: TenantDirectory): Tenant[] {
  if (user.operator) return [...tenants.list()];
  const allowed = new Set(user.grants.map((grant) => grant.tenant));
  return tenants.list().filter((tenant) => allowed.has(tenant.id));
}

function scopeOf(ctx: Context, user: ConsoleUser, tenants: TenantDirectory): Scope {
  const asked = typeof ctx.query.tenant === 'string' && ctx.query.tenant !== '' ? ctx.query.tenant : undefined;
  const visible = tenantsOf(user, tenants);
  let tenant: Tenant | undefined;
  if (asked !== undefined) {
    // Another tenant's id is "not found", never "forbidden": its existence is not disclosed either.
    tenant = visible.find((candidate) => candidate.id === asked);
    if (!tenant) notFound(ctx);
  } else if (user.session.tenant !== null) {
    tenant = visible.find((candidate) => candidate.id === user.session.tenant);
  }
  if (!tenant && (!user.operator || tenants.implicit)) tenant = visible[0];
  if (!tenant && !user.operator) notFound(ctx);
  return { tenant, tenantId: tenant?.id, offers: (productId) => tenants.offers(tenant, productId) };
}

/** Whether the user holds `role` (or a stronger one) for the scope's tenant. */
export function holds(user: ConsoleUser, scope: Scope, role: Role): boolean {
  if (user.operator) return true;
  if (!scope.tenantId) return false;
  const rank: Record<Role, number> = { operator: 4, 'tenant-admin': 3, 'tenant-approver': 2, 'tenant-viewer': 1 };
  return user.grants.some((grant) => grant.tenant === scope.tenantId && rank[grant.role] >= rank[role]);
}

export function requireRole(ctx: Context, role: Role): { user: ConsoleUser; scope: Scope & { tenant: Tenant; tenantId: string } } {
  const state = ctx.state as ConsoleState;
  const user = state.user;
  const scope = state.scope;
  if (!user || !scope) return ctx.throw(401, 'sign in first');
  if (!scope.tenant || !scope.tenantId) return ctx.throw(400, 'choose a tenant first');
  if (!holds(user, scope, role)) return ctx.throw(403, `this needs the role ${roleLabels[role].en} for tenant ${scope.tenantId}`);
  return { user, scope: scope as Scope & { tenant: Tenant; tenantId: string } };
}

/** A state-changing form: the session's CSRF token in `_csrf`, and no cross-site request (Fetch Metadata). */
export function checkCsrf(ctx: Context, form: URLSearchParams): void {
  const user = (ctx.state as ConsoleState).user;
  const site = ctx.get('Sec-Fetch-Site');
  if (site && site !== 'same-origin' && site !== 'none') ctx.throw(403, 'cross-site form submissions are refused');
  if (!user || !sameSecret(form.get('_csrf') ?? undefined, user.session.csrfToken)) ctx.throw(403, 'the form has expired; reload the page and try again');
}

export function consoleGuard(options: GuardOptions): Middleware {
  return async (ctx, next) => {
    const kind = routeKind(ctx.path);
    if (kind !== 'console') return next();
    const state = ctx.state as ConsoleState;
    const session = await currentSession(ctx, options.store, options.policy, options.now());
    if (session) {
      // A local account's role changes and disabling take effect at its next request.
      const account = await options.store.getAccount(session.username);
      const grants = account?.source === 'local' ? account.grants : session.grants;
      if (account && account.disabledAt === undefined) {
        const user: ConsoleUser = { session, username: session.username, grants, operator: grants.some((grant) => grant.role === 'operator') };
        state.user = user;
        state.scope = scopeOf(ctx, user, options.tenants);
      }
    }
    if (!state.user) {
      const bearer = /^Bearer (\S+)$/u.exec(ctx.get('Authorization'))?.[1];
      if (ctx.path === '/metrics' && options.metricsTokenHash && bearer && sameSecret(sha256Hex(bearer), options.metricsTokenHash)) {
        // The scrape token reads the provider-wide figures, nothing else.
        state.scope = { tenant: undefined, tenantId: options.tenants.implicit ? options.tenants.list()[0]!.id : undefined, offers: () => true };
        return next();
      }
      ctx.set('Cache-Control', 'no-store');
      if (isMachinePath(ctx.path) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Cookie realm="lgwan-mirror console"');
        ctx.body = { error: 'sign in first: the console and its API need an admin session' };
        return;
      }
      ctx.redirect(`/sign-in?next=${encodeURIComponent(ctx.originalUrl)}`);
      ctx.status = 303;
      return;
    }
    await next();
    // What a session sees is that person's: no cache (the edge cache included) may keep it.
    ctx.set('Cache-Control', 'no-store');
    if (typeof ctx.body === 'string' && ctx.response.is('html')) ctx.body = ctx.body.replace('<!--console-bar-->', consoleBar(state.user, state.scope, options.tenants, ctx.query.lang === 'en'));
  };
}

/** Who is signed in, which tenant the pages show, and the sign-out button (a form: it changes state). */
function consoleBar(user: ConsoleUser, scope: Scope | undefined, tenants: TenantDirectory, english: boolean): string {
  const lang = english ? 'en' : 'ja';
  const role = user.operator ? roleLabels.operator : roleLabels[user.grants.find((grant) => grant.tenant === scope?.tenantId)?.role ?? 'tenant-viewer'];
  const tenantName = scope?.tenant ? scope.tenant.name || scope.tenant.id : english ? 'all tenants' : '全団体';
  const choices = tenantsOf(user, tenants);
  const switcher =
    choices.length > 1 || (user.operator && !tenants.implicit)
      ? `<form method="post" action="/session/tenant" class="inline"><input type="hidden" name="_csrf" value="${escapeHtml(user.session.csrfToken)}"><select name="tenant" aria-label="${english ? 'tenant' : '団体'}">${user.operator && !tenants.implicit ? `<option value="">${english ? 'all tenants' : '全団体'}</option>` : ''}${choices.map((tenant) => `<option value="${escapeHtml(tenant.id)}"${tenant.id === scope?.tenantId ? ' selected' : ''}>${escapeHtml(tenant.name || tenant.id)}</option>`).join('')}</select> <button type="submit">${english ? 'Show' : '切替'}</button></form>`
      : '';
  return `<div class="console-bar"><span class="tenant">${escapeHtml(tenantName)}</span> ${switcher} · <span class="user">${escapeHtml(user.username)} (${escapeHtml(role[lang])})</span> <form method="post" action="/sign-out" class="inline"><input type="hidden" name="_csrf" value="${escapeHtml(user.session.csrfToken)}"><button type="submit">${english ? 'Sign out' : 'サインアウト'}</button></form></div>`;
}
