import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { AdminStore, Session } from './admin-store.ts';
import type { Grant } from './roles.ts';

/*
 * Console sessions. The cookie holds 32 random bytes; the store keeps only their SHA-256.
 * `__Host-` makes browsers insist on Secure, Path=/ and no Domain, so no other host on
 * LGWAN can set or read it; HttpOnly keeps it from any script; SameSite=Strict keeps it off
 * requests started by other sites. Secure means the console is reached over HTTPS (the
 * nginx front or lgwan.tls); browsers also treat http://127.0.0.1 and localhost as secure.
 */
export const sessionCookie = '__Host-lgwan-session';
/** The sign-in form's own CSRF token (double submit: cookie and hidden field), before any session exists. */
export const signInCookie = '__Host-lgwan-sign-in';

export interface SessionPolicy {
  idleMinutes: number;
  maxHours: number;
}

export const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
export const randomToken = () => randomBytes(32).toString('base64url');

export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function setCookie(ctx: Context, name: string, value: string, maxAgeSeconds?: number): void {
  const parts = [`${name}=${value}`, 'Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict'];
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  ctx.append('Set-Cookie', parts.join('; '));
}

export function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of (ctx.get('Cookie') || '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/u.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** A new session (a new id at every sign-in, so that a planted cookie is worth nothing). */
export async function openSession(ctx: Context, store: AdminStore, user: { username: string; grants: Grant[] }, now: Date): Promise<Session> {
  const id = randomToken();
  const at = now.toISOString();
  const firstTenant = user.grants.find((grant) => grant.tenant !== undefined)?.tenant;
  const operator = user.grants.some((grant) => grant.role === 'operator');
  const session: Session = { idHash: sha256Hex(id), username: user.username, grants: user.grants, tenant: operator ? null : (firstTenant ?? null), csrfToken: randomToken(), createdAt: at, lastSeenAt: at, address: ctx.ip };
  await store.putSession(session);
  setCookie(ctx, sessionCookie, id);
  return session;
}

/** The request's session, if its cookie names one that is neither idle too long nor too old. */
export async function currentSession(ctx: Context, store: AdminStore, policy: SessionPolicy, now: Date): Promise<Session | undefined> {
  const id = readCookie(ctx, sessionCookie);
  if (!id) return undefined;
  const idHash = sha256Hex(id);
  const session = await store.getSession(idHash);
  if (!session) return undefined;
  const idle = now.getTime() - Date.parse(session.lastSeenAt);
  const age = now.getTime() - Date.parse(session.createdAt);
  if (idle > policy.idleMinutes * 60_000 || age > policy.maxHours * 3_600_000) {
    await store.deleteSession(idHash);
    return undefined;
  }
  // Written at most once a minute: a wall display refreshing every minute keeps its session.
  if (idle > 60_000) await store.putSession({ ...session, lastSeenAt: now.toISOString() });
  return session;
}

export async function closeSession(ctx: Context, store: AdminStore, session: Session): Promise<void> {
  await store.deleteSession(session.idHash);
  setCookie(ctx, sessionCookie, '', 0);
}
